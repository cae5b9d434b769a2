// safetensors reader: header parsing with full validation, single files and sharded
// checkpoints (model.safetensors.index.json), copy-out loads from the mmap.
#include "io/safetensors.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <set>

#include "io/mapped_file.h"
#include "io/safetensors_header.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/json.h"

// Tensor bytes are copied verbatim: safetensors is little-endian and so must the host be.
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "llmprune's safetensors reader assumes a little-endian host"
#endif

namespace llmprune {
namespace fs = std::filesystem;

const char* dtype_name(DType d) {
  switch (d) {
    case DType::kF32: return "F32";
    case DType::kF16: return "F16";
    case DType::kBF16: return "BF16";
  }
  return "?";
}

size_t dtype_size(DType d) {
  switch (d) {
    case DType::kF32: return 4;
    case DType::kF16: return 2;
    case DType::kBF16: return 2;
  }
  return 0;
}

torch::ScalarType to_torch(DType d) {
  switch (d) {
    case DType::kF32: return torch::kFloat32;
    case DType::kF16: return torch::kFloat16;
    case DType::kBF16: return torch::kBFloat16;
  }
  return torch::kFloat32;
}

DType from_torch(torch::ScalarType t) {
  switch (t) {
    case torch::kFloat32: return DType::kF32;
    case torch::kFloat16: return DType::kF16;
    case torch::kBFloat16: return DType::kBF16;
    default:
      throw bad_input("[safetensors] unsupported tensor dtype ", c10::toString(t),
                      " (supported: F32, F16, BF16)");
  }
}

int64_t TensorEntry::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

namespace {

constexpr const char* kSingleName = "model.safetensors";
constexpr const char* kIndexName = "model.safetensors.index.json";

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

TensorStore TensorStore::open(const std::string& path) {
  TensorStore store;
  store.path_ = path;
  std::string single, index;
  if (is_directory(path)) {
    if (path_exists(join_path(path, kSingleName)))
      single = join_path(path, kSingleName);
    else if (path_exists(join_path(path, kIndexName)))
      index = join_path(path, kIndexName);
    else
      throw bad_input("[safetensors] ", path, ": no ", kSingleName, " or ", kIndexName,
                      " in this folder");
  } else if (!path_exists(path)) {
    throw bad_input("[safetensors] ", path, ": no such file or folder");
  } else if (ends_with(path, ".index.json")) {
    index = path;
  } else {
    single = path;
  }

  if (!single.empty()) {
    auto file = std::make_shared<MappedFile>(single);
    detail::ParsedHeader parsed = detail::parse_header(single, file->data(), file->size());
    for (auto& e : parsed.entries) store.entries_.emplace(e.name, e);
    store.files_[single] = file;
    store.data_start_[single] = parsed.data_start;
    store.metadata_ = std::move(parsed.metadata);
    return store;
  }

  // Sharded: the index and the shards must describe exactly the same tensor set.
  json idx = read_json_file(index);
  const std::string where = "[safetensors] " + index + ": ";
  LLMPRUNE_CHECK(idx.is_object() && idx.contains("weight_map") && idx["weight_map"].is_object(),
                 where, "no \"weight_map\" object");
  const json& wm = idx["weight_map"];
  LLMPRUNE_CHECK(!wm.empty(), where, "\"weight_map\" is empty");
  std::map<std::string, std::string> weight_map;  // tensor -> shard file name
  std::set<std::string> shard_names;
  for (auto it = wm.begin(); it != wm.end(); ++it) {
    LLMPRUNE_CHECK(it.value().is_string(), where, "weight_map entry for tensor ",
                   detail::one_line(it.key()), " is not a string");
    std::string shard = it.value().get<std::string>();
    fs::path p(shard);
    LLMPRUNE_CHECK(!shard.empty() && !p.is_absolute() &&
                       std::find(p.begin(), p.end(), fs::path("..")) == p.end(),
                   where, "shard name ", detail::one_line(shard),
                   " must be a relative path inside the folder");
    weight_map[it.key()] = shard;
    shard_names.insert(shard);
  }
  std::string dir = fs::path(index).parent_path().string();
  if (dir.empty()) dir = ".";
  std::map<std::string, std::string> found;  // tensor -> shard it was found in
  for (const std::string& shard : shard_names) {
    std::string shard_path = join_path(dir, shard);
    LLMPRUNE_CHECK(path_exists(shard_path), where, "shard ", shard, " (named in weight_map) ",
                   "does not exist: ", shard_path);
    auto file = std::make_shared<MappedFile>(shard_path);
    detail::ParsedHeader parsed = detail::parse_header(shard_path, file->data(), file->size());
    for (auto& e : parsed.entries) {
      auto prev = found.find(e.name);
      LLMPRUNE_CHECK(prev == found.end(), where, "tensor ", detail::one_line(e.name),
                     " is stored twice: in ", prev == found.end() ? "" : prev->second, " and in ",
                     shard);
      auto mapped = weight_map.find(e.name);
      LLMPRUNE_CHECK(mapped != weight_map.end(), where, "tensor ", detail::one_line(e.name), " of ",
                     shard, " is not listed in weight_map");
      LLMPRUNE_CHECK(mapped->second == shard, where, "weight_map puts tensor ",
                     detail::one_line(e.name), " in ", mapped->second, " but it is in ", shard);
      found[e.name] = shard;
      store.entries_.emplace(e.name, e);
    }
    if (store.files_.empty()) store.metadata_ = std::move(parsed.metadata);
    store.files_[shard_path] = file;
    store.data_start_[shard_path] = parsed.data_start;
  }
  for (const auto& [name, shard] : weight_map)
    LLMPRUNE_CHECK(found.count(name), where, "weight_map puts tensor ", detail::one_line(name),
                   " in ", shard, " but that file does not contain it");
  return store;
}

std::vector<std::string> TensorStore::names() const {
  std::vector<std::string> out;
  out.reserve(entries_.size());
  for (const auto& kv : entries_) out.push_back(kv.first);
  return out;
}

bool TensorStore::contains(const std::string& name) const { return entries_.count(name) > 0; }

const TensorEntry& TensorStore::entry(const std::string& name) const {
  auto it = entries_.find(name);
  if (it == entries_.end())
    throw bad_input("[safetensors] ", path_, ": tensor ", name, " not found (the checkpoint has ",
                    entries_.size(), " tensors)");
  return it->second;
}

torch::Tensor TensorStore::load(const std::string& name, bool release) const {
  const TensorEntry& e = entry(name);
  const MappedFile& file = *files_.at(e.file);
  uint64_t start = data_start_.at(e.file) + e.begin;
  LLMPRUNE_ASSERT(start + (e.end - e.begin) <= file.size(), "tensor ", name,
                  " outside its validated file ", e.file);
  torch::Tensor t = torch::empty(e.shape, torch::TensorOptions().dtype(to_torch(e.dtype)));
  if (e.end > e.begin) std::memcpy(t.data_ptr(), file.data() + start, e.end - e.begin);
  if (release) file.release(start, start + (e.end - e.begin));
  return t;
}

torch::Tensor TensorStore::mapped(const std::string& name, bool writable) const {
  const TensorEntry& e = entry(name);
  std::shared_ptr<MappedFile> file = files_.at(e.file);
  const uint64_t start = data_start_.at(e.file) + e.begin;
  LLMPRUNE_ASSERT(start + (e.end - e.begin) <= file->size(), "tensor ", name,
                  " outside its validated file ", e.file);
  const uint8_t* p = file->data() + start;
  if (e.end == e.begin || reinterpret_cast<uintptr_t>(p) % dtype_size(e.dtype) != 0)
    return load(name);
  uint8_t* data =
      writable ? file->writable(start, start + (e.end - e.begin)) : const_cast<uint8_t*>(p);
  auto keep = [file](void*) {};  // the mapping lives as long as the tensor
  return torch::from_blob(data, e.shape, keep, torch::TensorOptions().dtype(to_torch(e.dtype)));
}

torch::Tensor TensorStore::view(const std::string& name) const { return mapped(name, false); }

torch::Tensor TensorStore::adopt(const std::string& name) const { return mapped(name, true); }

void TensorStore::release(const std::string& name) const {
  const TensorEntry& e = entry(name);
  const uint64_t start = data_start_.at(e.file) + e.begin;
  files_.at(e.file)->release(start, start + (e.end - e.begin));
}

void TensorStore::rename(const std::function<std::string(const std::string&)>& canonical) {
  std::map<std::string, TensorEntry> renamed;
  for (auto& [stored, e] : entries_) {
    std::string name = canonical(stored);
    if (renamed.count(name))
      throw bad_input("[safetensors] ", path_, ": tensor ", detail::one_line(stored),
                      " and another tensor are both stored as ", detail::one_line(name));
    e.name = name;
    renamed.emplace(std::move(name), std::move(e));
  }
  entries_ = std::move(renamed);
}

uint64_t TensorStore::total_bytes() const {
  uint64_t n = 0;
  for (const auto& kv : entries_) n += kv.second.end - kv.second.begin;
  return n;
}

}  // namespace llmprune
