// safetensors writer: one file or name-ordered shards plus an index; and byte-size parsing
// for --max-shard-size.
#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <set>
#include <string>

#include "io/safetensors.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/json.h"

namespace llmprune {
namespace {

struct Item {
  std::string name;
  torch::Tensor t;  // contiguous, CPU
  DType dtype;
  uint64_t bytes;
};

// Header JSON padded with spaces so the data section starts 8-byte aligned.
std::string make_header(const std::vector<const Item*>& items) {
  json h = json::object();
  h["__metadata__"] = {{"format", "pt"}};
  uint64_t offset = 0;
  for (const Item* it : items) {
    h[it->name] = {{"dtype", dtype_name(it->dtype)},
                   {"shape", it->t.sizes().vec()},
                   {"data_offsets", {offset, offset + it->bytes}}};
    offset += it->bytes;
  }
  std::string s = h.dump();
  s.append((8 - s.size() % 8) % 8, ' ');
  return s;
}

void write_one(const std::string& path, const std::vector<const Item*>& items) {
  std::string header = make_header(items);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw internal_error("[safetensors] cannot write ", path, ": ", std::strerror(errno));
  uint64_t n = header.size();
  char len[8];
  for (int i = 0; i < 8; ++i) len[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  out.write(len, 8);
  out.write(header.data(), static_cast<std::streamsize>(header.size()));
  for (const Item* it : items)
    if (it->bytes) out.write(static_cast<const char*>(it->t.data_ptr()),
                             static_cast<std::streamsize>(it->bytes));
  out.flush();
  if (!out) throw internal_error("[safetensors] cannot write ", path, ": ", std::strerror(errno));
}

std::string shard_name(const std::string& prefix, size_t i, size_t n) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "-%05zu-of-%05zu.safetensors", i + 1, n);
  return prefix + buf;
}

}  // namespace

std::vector<std::string> write_safetensors(const std::string& dir, const NamedTensors& tensors,
                                           const SafetensorsWriteOptions& opts) {
  LLMPRUNE_CHECK(is_directory(dir), "[safetensors] output folder ", dir, " does not exist");
  std::vector<Item> items;
  items.reserve(tensors.size());
  std::set<std::string> seen;
  for (const auto& [name, tensor] : tensors) {
    LLMPRUNE_CHECK(!name.empty() && name != "__metadata__", "[safetensors] invalid tensor name \"",
                   name, "\"");
    LLMPRUNE_CHECK(seen.insert(name).second, "[safetensors] tensor ", name,
                   " is given twice for writing");
    LLMPRUNE_CHECK(tensor.defined(), "[safetensors] tensor ", name, " is undefined");
    DType dt;
    try {
      dt = from_torch(tensor.scalar_type());
    } catch (const Error& e) {
      throw bad_input("[safetensors] tensor ", name, ": ", e.what());
    }
    torch::Tensor t = tensor.detach().to(torch::kCPU).contiguous();
    items.push_back({name, t, dt, static_cast<uint64_t>(t.numel()) * dtype_size(dt)});
  }
  std::sort(items.begin(), items.end(),
            [](const Item& a, const Item& b) { return a.name < b.name; });

  // Greedy in name order: a new shard starts when the next tensor would overflow the
  // current one; a tensor larger than the limit gets a shard of its own (never split).
  std::vector<std::vector<const Item*>> shards(1);
  uint64_t in_shard = 0, total = 0;
  for (const Item& it : items) {
    if (opts.max_shard_bytes > 0 && !shards.back().empty() &&
        in_shard + it.bytes > opts.max_shard_bytes) {
      shards.emplace_back();
      in_shard = 0;
    }
    shards.back().push_back(&it);
    in_shard += it.bytes;
    total += it.bytes;
  }

  std::vector<std::string> written;
  if (shards.size() == 1) {
    std::string name = opts.prefix + ".safetensors";
    write_one(join_path(dir, name), shards[0]);
    written.push_back(name);
    return written;
  }
  json weight_map = json::object();
  for (size_t i = 0; i < shards.size(); ++i) {
    std::string name = shard_name(opts.prefix, i, shards.size());
    write_one(join_path(dir, name), shards[i]);
    for (const Item* it : shards[i]) weight_map[it->name] = name;
    written.push_back(name);
  }
  json index = {{"metadata", {{"total_size", total}}}, {"weight_map", weight_map}};
  std::string index_name = opts.prefix + ".safetensors.index.json";
  write_json_file(join_path(dir, index_name), index);
  written.push_back(index_name);
  return written;
}

uint64_t parse_byte_size(const std::string& text) {
  // Units as Hugging Face's max_shard_size reads them: KB/MB/GB/TB are powers of 1000,
  // KiB/MiB/GiB/TiB powers of 1024; a bare number is bytes.
  static const std::pair<const char*, double> units[] = {
      {"tib", 1099511627776.0}, {"gib", 1073741824.0}, {"mib", 1048576.0}, {"kib", 1024.0},
      {"tb", 1e12}, {"gb", 1e9}, {"mb", 1e6}, {"kb", 1e3}, {"b", 1.0}};
  std::string s;
  for (char c : text)
    if (c != ' ') s += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  double scale = 1.0;
  for (const auto& [suffix, mult] : units) {
    size_t n = std::strlen(suffix);
    if (s.size() > n && s.compare(s.size() - n, n, suffix) == 0) {
      s.resize(s.size() - n);
      scale = mult;
      break;
    }
  }
  bool ok = !s.empty() && s.find_first_not_of("0123456789.") == std::string::npos &&
            std::count(s.begin(), s.end(), '.') <= 1 && s != ".";
  double v = ok ? std::strtod(s.c_str(), nullptr) * scale : -1.0;
  LLMPRUNE_CHECK(ok && v >= 0 && v < 1.8e19, "invalid byte size \"", text,
                 "\" (expected e.g. 2GB, 500MB, 4GiB or a number of bytes)");
  return static_cast<uint64_t>(std::floor(v + 0.5));
}

}  // namespace llmprune
