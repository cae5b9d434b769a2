// GGUF v3, llama.cpp's model file: metadata values, tensor infos, a bounds-checked reader over
// an mmap (a malformed file is a one-line bad_input, never a crash) and a streaming writer.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "util/json.h"

namespace llmprune {

// Metadata value types, numbered as in the file.
enum class GgufType : uint32_t {
  kU8 = 0,
  kI8 = 1,
  kU16 = 2,
  kI16 = 3,
  kU32 = 4,
  kI32 = 5,
  kF32 = 6,
  kBool = 7,
  kString = 8,
  kArray = 9,
  kU64 = 10,
  kI64 = 11,
  kF64 = 12,
};
const char* gguf_type_name(GgufType t);  // "u32", "array", ...

// Tensor element types llmprune writes (the reader also sizes the other common ggml types).
enum class GgmlType : uint32_t { kF32 = 0, kF16 = 1, kQ8_0 = 8, kBF16 = 30 };

struct GgmlTypeTraits {
  const char* name;     // "F32", "Q8_0", ...
  int64_t block = 1;    // elements per block
  int64_t block_bytes;  // bytes per block
};
// Traits of ggml type number `t`; nullptr for a type llmprune does not know.
const GgmlTypeTraits* ggml_type_traits(uint32_t t);
const char* ggml_type_name(uint32_t t);  // "Q4_K", or "type 99"

// One metadata value: a scalar of `type`, or an array of `elem` values (arrays may nest).
struct GgufValue {
  GgufType type = GgufType::kU32;
  uint64_t u = 0;                 // kU8, kU16, kU32, kU64, kBool (0/1)
  int64_t i = 0;                  // kI8, kI16, kI32, kI64
  double f = 0.0;                 // kF32, kF64
  std::string s;                  // kString
  GgufType elem = GgufType::kU8;  // kArray
  std::vector<GgufValue> items;   // kArray

  static GgufValue uint(GgufType t, uint64_t v);
  static GgufValue sint(GgufType t, int64_t v);
  static GgufValue u32(uint32_t v) { return uint(GgufType::kU32, v); }
  static GgufValue i32(int32_t v) { return sint(GgufType::kI32, v); }
  static GgufValue f32(float v);
  static GgufValue boolean(bool v);
  static GgufValue str(std::string v);
  static GgufValue array(GgufType elem, std::vector<GgufValue> items);
  static GgufValue strings(const std::vector<std::string>& v);
  static GgufValue f32s(const std::vector<float>& v);
  static GgufValue i32s(const std::vector<int32_t>& v);

  bool is_int() const;  // any integer type (not bool)
  // Typed reads; bad_input "[gguf] <key>: expected <what>, got <type>" on a mismatch.
  int64_t as_int(const std::string& key) const;
  double as_float(const std::string& key) const;  // f32 / f64 / integers
  bool as_bool(const std::string& key) const;
  const std::string& as_string(const std::string& key) const;

  bool operator==(const GgufValue& o) const;
  bool operator!=(const GgufValue& o) const { return !(*this == o); }
  // JSON for reports and `inspect`; arrays longer than max_items are cut ("... N more").
  json to_json(size_t max_items = SIZE_MAX) const;
};

using GgufMetadata = std::vector<std::pair<std::string, GgufValue>>;

// A tensor as the file lists it. `ne` is in ggml order: ne[0] is the row length.
struct GgufTensorInfo {
  std::string name;
  std::vector<int64_t> ne;
  uint32_t type = 0;    // GgmlType number
  uint64_t offset = 0;  // from the start of the data section
  uint64_t bytes = 0;
  std::vector<int64_t> shape() const;  // PyTorch order (ne reversed)
  int64_t numel() const;
};

// Bytes of a tensor of `type` with dims `ne`; bad_input naming `what` when the row length is
// not a multiple of the block size or the size overflows.
uint64_t ggml_tensor_bytes(uint32_t type, const std::vector<int64_t>& ne, const std::string& what);

class MappedFile;

// A GGUF file (v2 or v3), fully validated at open: every string, array, tensor info and
// tensor data range lies inside the file.
class GgufFile {
 public:
  static GgufFile open(const std::string& path);
  // The same parse over bytes in memory (the fuzz harness); `data` must outlive the result.
  // `name` stands for the file in messages.
  static GgufFile parse(const uint8_t* data, uint64_t size, const std::string& name);

  const std::string& path() const { return path_; }
  uint32_t version() const { return version_; }
  uint64_t alignment() const { return alignment_; }
  uint64_t data_offset() const { return data_offset_; }  // absolute offset of the data section
  uint64_t file_size() const;
  const GgufMetadata& metadata() const { return metadata_; }
  const GgufValue* find(const std::string& key) const;  // nullptr when absent
  const GgufValue& get(const std::string& key) const;   // bad_input naming the file when absent
  const std::vector<GgufTensorInfo>& tensors() const { return tensors_; }
  const GgufTensorInfo* find_tensor(const std::string& name) const;
  const GgufTensorInfo& tensor(const std::string& name) const;  // bad_input when absent
  // The raw bytes of a tensor inside the mapping (valid while this GgufFile lives).
  const uint8_t* data(const GgufTensorInfo& t) const;

 private:
  std::string path_;
  std::shared_ptr<MappedFile> map_;  // null for parse()
  const uint8_t* base_ = nullptr;
  uint64_t size_ = 0;
  uint32_t version_ = 0;
  uint64_t alignment_ = 32, data_offset_ = 0;
  GgufMetadata metadata_;
  std::map<std::string, size_t> key_index_, tensor_index_;
  std::vector<GgufTensorInfo> tensors_;
};

// A tensor declared before its data exists. `ne` in ggml order.
struct GgufTensorDecl {
  std::string name;
  GgmlType type = GgmlType::kF32;
  std::vector<int64_t> ne;
  uint64_t bytes() const;
};

// Streaming writer: the header (metadata, then tensor infos) is written from the
// declarations at construction; then each tensor's bytes, in declaration order, each followed
// by zero padding to the alignment (general.alignment when the metadata sets it, else 32).
// Only one tensor needs to be in memory. Not atomic by itself: write into the temporary path
// of write_file_atomic_streamed (util/fs.h).
class GgufStreamWriter {
 public:
  GgufStreamWriter(const std::string& path, const GgufMetadata& metadata,
                   std::vector<GgufTensorDecl> tensors);
  ~GgufStreamWriter();
  const std::vector<GgufTensorDecl>& tensors() const { return decls_; }
  // The next declared tensor's bytes (size must equal its declaration).
  void write(const std::string& name, const void* data, uint64_t bytes);
  // After the last write: flush and close. Returns the file size.
  uint64_t finish();

 private:
  struct Out;
  std::unique_ptr<Out> out_;
  std::vector<GgufTensorDecl> decls_;
  uint64_t alignment_ = 32;
  size_t next_ = 0;
};

}  // namespace llmprune
