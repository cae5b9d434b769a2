// GGUF reader: parses the header of an mmap'd file with a bounds-checked cursor; every count,
// length and offset is checked against the bytes that remain before it is used.
#include <cstring>

#include "io/gguf.h"
#include "io/mapped_file.h"
#include "util/checked.h"
#include "util/error.h"

namespace llmprune {
namespace {

constexpr int kMaxArrayDepth = 8;  // llama.cpp writes flat arrays; nesting is legal but rare
constexpr uint32_t kMaxDims = 4;   // GGML_MAX_DIMS

class Cursor {
 public:
  Cursor(const uint8_t* data, uint64_t size, const std::string& path)
      : p_(data), size_(size), path_(path) {}
  uint64_t pos() const { return pos_; }
  uint64_t left() const { return size_ - pos_; }

  template <typename... A>
  [[noreturn]] void fail(const A&... what) const {
    throw bad_input("[gguf] ", path_, ": ", what..., " (at byte ", pos_, ")");
  }
  void need(uint64_t n, const char* what) const {
    if (n > left()) fail("truncated ", what, ": needs ", n, " bytes, ", left(), " left");
  }
  template <typename T>
  T get(const char* what) {
    need(sizeof(T), what);
    T v;
    std::memcpy(&v, p_ + pos_, sizeof(T));  // GGUF is little-endian, as is every host we build on
    pos_ += sizeof(T);
    return v;
  }
  std::string str(const char* what) {
    const uint64_t n = get<uint64_t>(what);
    need(n, what);
    std::string s(reinterpret_cast<const char*>(p_ + pos_), n);
    pos_ += n;
    return s;
  }

 private:
  const uint8_t* p_;
  uint64_t size_, pos_ = 0;
  const std::string& path_;
};

uint64_t scalar_size(GgufType t) {
  switch (t) {
    case GgufType::kU8:
    case GgufType::kI8:
    case GgufType::kBool:
      return 1;
    case GgufType::kU16:
    case GgufType::kI16:
      return 2;
    case GgufType::kU32:
    case GgufType::kI32:
    case GgufType::kF32:
      return 4;
    case GgufType::kU64:
    case GgufType::kI64:
    case GgufType::kF64:
      return 8;
    case GgufType::kString:
      return 8;  // the smallest string: its length
    case GgufType::kArray:
      return 12;  // the smallest array: type + count
  }
  return 0;
}

GgufType value_type(Cursor& c, uint32_t raw, const std::string& key) {
  if (raw > static_cast<uint32_t>(GgufType::kF64))
    c.fail("key ", key, ": unknown value type ", raw);
  return static_cast<GgufType>(raw);
}

GgufValue read_value(Cursor& c, GgufType t, const std::string& key, int depth) {
  GgufValue v;
  v.type = t;
  switch (t) {
    case GgufType::kU8:
      v.u = c.get<uint8_t>("u8");
      break;
    case GgufType::kI8:
      v.i = c.get<int8_t>("i8");
      break;
    case GgufType::kU16:
      v.u = c.get<uint16_t>("u16");
      break;
    case GgufType::kI16:
      v.i = c.get<int16_t>("i16");
      break;
    case GgufType::kU32:
      v.u = c.get<uint32_t>("u32");
      break;
    case GgufType::kI32:
      v.i = c.get<int32_t>("i32");
      break;
    case GgufType::kU64:
      v.u = c.get<uint64_t>("u64");
      break;
    case GgufType::kI64:
      v.i = c.get<int64_t>("i64");
      break;
    case GgufType::kF32:
      v.f = c.get<float>("f32");
      break;
    case GgufType::kF64:
      v.f = c.get<double>("f64");
      break;
    case GgufType::kBool: {
      const uint8_t b = c.get<uint8_t>("bool");
      if (b > 1) c.fail("key ", key, ": bool value ", int(b), " is neither 0 nor 1");
      v.u = b;
      break;
    }
    case GgufType::kString:
      v.s = c.str("string");
      break;
    case GgufType::kArray: {
      if (depth >= kMaxArrayDepth)
        c.fail("key ", key, ": arrays nested deeper than ", kMaxArrayDepth);
      v.elem = value_type(c, c.get<uint32_t>("array type"), key);
      const uint64_t n = c.get<uint64_t>("array length");
      if (n > c.left() / scalar_size(v.elem))
        c.fail("key ", key, ": array of ", n, " ", gguf_type_name(v.elem),
               " values exceeds the file");
      v.items.reserve(n);
      for (uint64_t k = 0; k < n; ++k) v.items.push_back(read_value(c, v.elem, key, depth + 1));
      break;
    }
  }
  return v;
}

}  // namespace

GgufFile GgufFile::open(const std::string& path) {
  auto map = std::make_shared<MappedFile>(path);
  GgufFile g = parse(map->data(), map->size(), path);
  g.map_ = std::move(map);
  return g;
}

GgufFile GgufFile::parse(const uint8_t* data, uint64_t size, const std::string& path) {
  GgufFile g;
  g.path_ = path;
  g.base_ = data;
  g.size_ = size;
  Cursor c(data, size, g.path_);
  if (size < 4 || std::memcmp(data, "GGUF", 4) != 0) c.fail("not a GGUF file (no \"GGUF\" magic)");
  c.get<uint32_t>("magic");
  g.version_ = c.get<uint32_t>("version");
  if (g.version_ != 2 && g.version_ != 3)
    c.fail("unsupported GGUF version ", g.version_, " (llmprune reads 2 and 3)");
  const uint64_t n_tensors = c.get<uint64_t>("tensor count");
  const uint64_t n_kv = c.get<uint64_t>("metadata count");
  if (n_kv > c.left() / 12) c.fail("metadata count ", n_kv, " exceeds the file");

  for (uint64_t k = 0; k < n_kv; ++k) {
    std::string key = c.str("metadata key");
    if (key.empty()) c.fail("metadata entry ", k, " has an empty key");
    const GgufType t = value_type(c, c.get<uint32_t>("value type"), key);
    GgufValue v = read_value(c, t, key, 0);
    if (!g.key_index_.emplace(key, g.metadata_.size()).second)
      c.fail("duplicate metadata key ", key);
    g.metadata_.emplace_back(std::move(key), std::move(v));
  }
  if (const GgufValue* a = g.find("general.alignment")) {
    if (a->type != GgufType::kU32 || a->u == 0 || (a->u & (a->u - 1)) != 0)
      c.fail("general.alignment must be a u32 power of two, got ", a->to_json().dump());
    g.alignment_ = a->u;
  }

  if (n_tensors > c.left() / 24) c.fail("tensor count ", n_tensors, " exceeds the file");
  for (uint64_t k = 0; k < n_tensors; ++k) {
    GgufTensorInfo t;
    t.name = c.str("tensor name");
    const uint32_t n_dims = c.get<uint32_t>("tensor dims");
    if (n_dims > kMaxDims)
      c.fail("tensor ", t.name, ": ", n_dims, " dimensions (at most ", kMaxDims, ")");
    for (uint32_t d = 0; d < n_dims; ++d) {
      const uint64_t n = c.get<uint64_t>("tensor dim");
      if (n > static_cast<uint64_t>(INT64_MAX))
        c.fail("tensor ", t.name, ": dimension ", n, " too large");
      t.ne.push_back(static_cast<int64_t>(n));
    }
    t.type = c.get<uint32_t>("tensor type");
    t.offset = c.get<uint64_t>("tensor offset");
    t.bytes = ggml_tensor_bytes(t.type, t.ne, "[gguf] " + path + ": tensor " + t.name);
    if (t.offset % g.alignment_ != 0)
      c.fail("tensor ", t.name, ": offset ", t.offset, " is not a multiple of the alignment ",
             g.alignment_);
    if (!g.tensor_index_.emplace(t.name, g.tensors_.size()).second)
      c.fail("duplicate tensor ", t.name);
    g.tensors_.push_back(std::move(t));
  }
  const uint64_t end = c.pos();
  g.data_offset_ = (end + g.alignment_ - 1) / g.alignment_ * g.alignment_;
  for (const GgufTensorInfo& t : g.tensors_) {
    const uint64_t avail = size >= g.data_offset_ ? size - g.data_offset_ : 0;
    if (t.offset > avail || t.bytes > avail - t.offset)
      throw bad_input("[gguf] ", path, ": tensor ", t.name, " data [", t.offset, ", ",
                      t.offset + t.bytes, ") of the data section lies past the end of the file (",
                      avail, " data bytes)");
  }
  return g;
}

uint64_t GgufFile::file_size() const { return size_; }

const GgufValue* GgufFile::find(const std::string& key) const {
  auto it = key_index_.find(key);
  return it == key_index_.end() ? nullptr : &metadata_[it->second].second;
}

const GgufValue& GgufFile::get(const std::string& key) const {
  const GgufValue* v = find(key);
  LLMPRUNE_CHECK(v, "[gguf] ", path_, ": metadata key ", key, " is missing");
  return *v;
}

const GgufTensorInfo* GgufFile::find_tensor(const std::string& name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

const GgufTensorInfo& GgufFile::tensor(const std::string& name) const {
  const GgufTensorInfo* t = find_tensor(name);
  LLMPRUNE_CHECK(t, "[gguf] ", path_, ": no tensor ", name);
  return *t;
}

const uint8_t* GgufFile::data(const GgufTensorInfo& t) const {
  return base_ + data_offset_ + t.offset;
}

}  // namespace llmprune
