// safetensors writer: streaming, one file or name-ordered shards plus an index; and byte-size
// parsing for --max-shard-size.
#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <set>
#include <string>

#include "io/safetensors.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/json.h"
#include "util/sha256.h"

namespace llmprune {

uint64_t TensorDecl::bytes() const {
  uint64_t n = 1;
  for (int64_t d : shape) n *= static_cast<uint64_t>(d);
  return n * dtype_size(dtype);
}

struct SafetensorsStreamWriter::Shard {
  std::string file;
  size_t first = 0, count = 0;  // range of decls_
};

struct SafetensorsStreamWriter::Open {
  std::string path;
  std::ofstream out;
  Sha256 hash;
  uint64_t bytes = 0;
  size_t remaining = 0;  // tensors still to write into this file

  void put(const void* data, uint64_t n) {
    out.write(static_cast<const char*>(data), static_cast<std::streamsize>(n));
    hash.update(data, n);
    bytes += n;
  }
};

namespace {

std::string shard_name(const std::string& prefix, size_t i, size_t n) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "-%05zu-of-%05zu.safetensors", i + 1, n);
  return prefix + buf;
}

DType dtype_of(const std::string& name, const torch::Tensor& tensor) {
  LLMPRUNE_CHECK(tensor.defined(), "[safetensors] tensor ", name, " is undefined");
  try {
    return from_torch(tensor.scalar_type());
  } catch (const Error& e) {
    throw bad_input("[safetensors] tensor ", name, ": ", e.what());
  }
}

void check_stream(const std::ofstream& out, const std::string& path) {
  // The environment (disk full, permissions), not the input: exit 1.
  if (!out) throw internal_error("[safetensors] cannot write ", path, ": ", std::strerror(errno));
}

}  // namespace

SafetensorsStreamWriter::SafetensorsStreamWriter(std::string dir, std::vector<TensorDecl> decls,
                                                 const SafetensorsWriteOptions& opts)
    : dir_(std::move(dir)), opts_(opts), decls_(std::move(decls)) {
  LLMPRUNE_CHECK(is_directory(dir_), "[safetensors] output folder ", dir_, " does not exist");
  std::set<std::string> seen;
  for (const TensorDecl& d : decls_) {
    LLMPRUNE_CHECK(!d.name.empty() && d.name != "__metadata__",
                   "[safetensors] invalid tensor name \"", d.name, "\"");
    LLMPRUNE_CHECK(seen.insert(d.name).second, "[safetensors] tensor ", d.name,
                   " is given twice for writing");
  }
  std::sort(decls_.begin(), decls_.end(),
            [](const TensorDecl& a, const TensorDecl& b) { return a.name < b.name; });
  // Greedy in name order: a new shard starts when the next tensor would overflow the
  // current one; a tensor larger than the limit gets a shard of its own (never split).
  shards_.push_back({});
  uint64_t in_shard = 0;
  for (size_t i = 0; i < decls_.size(); ++i) {
    const uint64_t b = decls_[i].bytes();
    if (opts_.max_shard_bytes > 0 && shards_.back().count > 0 &&
        in_shard + b > opts_.max_shard_bytes) {
      shards_.push_back({"", i, 0});
      in_shard = 0;
    }
    shards_.back().count++;
    in_shard += b;
  }
  for (size_t i = 0; i < shards_.size(); ++i)
    shards_[i].file = shards_.size() == 1 ? opts_.prefix + ".safetensors"
                                          : shard_name(opts_.prefix, i, shards_.size());
  for (const TensorDecl& d : decls_) order_.push_back(d.name);
}

SafetensorsStreamWriter::~SafetensorsStreamWriter() = default;

void SafetensorsStreamWriter::open_next_shard() {
  const Shard& sh = shards_[shard_++];
  open_ = std::make_unique<Open>();
  open_->path = join_path(dir_, sh.file);
  open_->remaining = sh.count;
  // Header JSON padded with spaces so the data section starts 8-byte aligned.
  json h = json::object();
  h["__metadata__"] = {{"format", "pt"}};
  uint64_t offset = 0;
  for (size_t i = sh.first; i < sh.first + sh.count; ++i) {
    const TensorDecl& d = decls_[i];
    h[d.name] = {{"dtype", dtype_name(d.dtype)},
                 {"shape", d.shape},
                 {"data_offsets", {offset, offset + d.bytes()}}};
    offset += d.bytes();
  }
  std::string header = h.dump();
  header.append((8 - header.size() % 8) % 8, ' ');
  open_->out.open(open_->path, std::ios::binary | std::ios::trunc);
  check_stream(open_->out, open_->path);
  uint8_t len[8];
  for (int i = 0; i < 8; ++i) len[i] = static_cast<uint8_t>((header.size() >> (8 * i)) & 0xff);
  open_->put(len, 8);
  open_->put(header.data(), header.size());
}

void SafetensorsStreamWriter::write(const std::string& name, const torch::Tensor& tensor) {
  LLMPRUNE_ASSERT(next_ < decls_.size(), "safetensors writer: tensor ", name,
                  " written after the last declared one");
  const TensorDecl& d = decls_[next_];
  LLMPRUNE_ASSERT(name == d.name, "safetensors writer: expected tensor ", d.name, ", got ", name);
  const DType dt = dtype_of(name, tensor);
  LLMPRUNE_ASSERT(dt == d.dtype && tensor.sizes().vec() == d.shape, "safetensors writer: tensor ",
                  name, " does not match its declared dtype/shape");
  if (!open_) open_next_shard();
  torch::Tensor t = tensor.detach().to(torch::kCPU).contiguous();
  if (d.bytes()) open_->put(t.data_ptr(), d.bytes());
  check_stream(open_->out, open_->path);
  ++next_;
  if (--open_->remaining == 0) {
    open_->out.flush();
    check_stream(open_->out, open_->path);
    open_->out.close();
    written_.push_back({shards_[shard_ - 1].file, open_->bytes, open_->hash.hex_digest()});
    open_.reset();
  }
}

std::vector<WrittenFile> SafetensorsStreamWriter::finish() {
  // A checkpoint with no tensors is still one (empty) file.
  if (decls_.empty() && written_.empty()) {
    open_next_shard();
    open_->out.close();
    written_.push_back({shards_[0].file, open_->bytes, open_->hash.hex_digest()});
    open_.reset();
  }
  LLMPRUNE_ASSERT(next_ == decls_.size(), "safetensors writer: ", decls_.size() - next_,
                  " declared tensors were never written");
  if (shards_.size() > 1) {
    json weight_map = json::object();
    uint64_t total = 0;
    for (const Shard& sh : shards_)
      for (size_t i = sh.first; i < sh.first + sh.count; ++i) {
        weight_map[decls_[i].name] = sh.file;
        total += decls_[i].bytes();
      }
    json index = {{"metadata", {{"total_size", total}}}, {"weight_map", weight_map}};
    const std::string index_name = opts_.prefix + ".safetensors.index.json";
    const std::string text = index.dump(2) + "\n";
    write_file_atomic(join_path(dir_, index_name), text);
    written_.push_back({index_name, text.size(), sha256_hex(text)});
  }
  return written_;
}

std::vector<std::string> write_safetensors(const std::string& dir, const NamedTensors& tensors,
                                           const SafetensorsWriteOptions& opts) {
  std::vector<TensorDecl> decls;
  std::map<std::string, const torch::Tensor*> by_name;
  for (const auto& [name, tensor] : tensors) {
    decls.push_back({name, dtype_of(name, tensor), tensor.sizes().vec()});
    by_name[name] = &tensor;
  }
  SafetensorsStreamWriter writer(dir, std::move(decls), opts);
  for (const std::string& name : writer.order()) writer.write(name, *by_name.at(name));
  std::vector<std::string> names;
  for (const WrittenFile& f : writer.finish()) names.push_back(f.name);
  return names;
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
