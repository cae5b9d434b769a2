// safetensors I/O. Reader: mmap of one file or a sharded checkpoint
// (model.safetensors.index.json), with full header validation. Writer: single or sharded
// files with an index, __metadata__ {"format":"pt"}.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace llmprune {

enum class DType { kF32, kF16, kBF16 };

const char* dtype_name(DType d);                 // "F32", "F16", "BF16"
size_t dtype_size(DType d);                      // bytes per element
torch::ScalarType to_torch(DType d);
DType from_torch(torch::ScalarType t);           // throws bad_input for unsupported types

struct TensorEntry {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  std::string file;         // the .safetensors file holding it
  uint64_t begin = 0;       // byte offsets relative to the start of the data section
  uint64_t end = 0;
  int64_t numel() const;
};

class MappedFile;  // private: an mmap of one file

// All tensors of a checkpoint folder (or of one .safetensors file).
class TensorStore {
 public:
  // `path`: a folder holding model.safetensors or model.safetensors.index.json (+ shards),
  // or a single .safetensors file. Validates every header; throws bad_input naming the
  // file and the offending tensor/value.
  static TensorStore open(const std::string& path);

  std::vector<std::string> names() const;            // sorted
  bool contains(const std::string& name) const;
  const TensorEntry& entry(const std::string& name) const;  // bad_input if missing
  // A tensor with the stored dtype and shape, owning its memory (copied out of the map).
  // `release`: afterwards drop the mapped pages it came from from this process (they stay in
  // the page cache), so streaming through a large checkpoint keeps the resident set small.
  torch::Tensor load(const std::string& name, bool release = false) const;
  // The stored bytes in place: a tensor over the mapping (no copy) that keeps the file mapped
  // while it lives; read-only (writing to it faults). A copy as load() makes when the data is
  // not aligned to its element size.
  torch::Tensor view(const std::string& name) const;
  // The stored bytes in place as private, writable memory (copy-on-write: writes never reach
  // the file; see MappedFile::writable), faulted in now. What a model adopts as its parameter
  // when the stored dtype is the one it computes in: no copy, no fresh memory. A copy as
  // load() makes when the data is not aligned to its element size.
  torch::Tensor adopt(const std::string& name) const;
  // Drop the mapped pages of `name` from this process (see load()'s `release`).
  void release(const std::string& name) const;
  // Sum of tensor bytes.
  uint64_t total_bytes() const;
  // Give every tensor the name `canonical(stored name)` (a family's accepted layouts, e.g.
  // OPT "decoder.*" -> "model.decoder.*"); bad_input when two tensors would share a name.
  void rename(const std::function<std::string(const std::string&)>& canonical);
  // The __metadata__ of the first file (may be empty).
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  // The path given to open().
  const std::string& path() const { return path_; }

 private:
  torch::Tensor mapped(const std::string& name, bool writable) const;
  std::string path_;
  std::map<std::string, TensorEntry> entries_;
  std::map<std::string, std::shared_ptr<MappedFile>> files_;
  std::map<std::string, uint64_t> data_start_;  // file -> offset of its data section (8 + header)
  std::map<std::string, std::string> metadata_;
};

using NamedTensors = std::vector<std::pair<std::string, torch::Tensor>>;

struct SafetensorsWriteOptions {
  uint64_t max_shard_bytes = 0;        // 0 = one file, model.safetensors
  std::string prefix = "model";        // model.safetensors / model-00001-of-00003.safetensors
};

// A tensor declared before its data exists (the streaming writer's header is made from these).
struct TensorDecl {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  uint64_t bytes() const;
};

struct WrittenFile {
  std::string name;    // file name inside the folder
  uint64_t bytes = 0;
  std::string sha256;  // of the whole file, computed while writing
};

// Streaming writer: headers are made from the declarations, then tensors are written one at
// a time in order() (name order, shard after shard), so no more than one tensor needs to be
// in memory. One file, or shards + "<prefix>.safetensors.index.json" when the declared bytes
// exceed max_shard_bytes (a tensor larger than the limit gets a shard of its own). Not atomic
// by itself: callers write into a folder made by write_dir_atomic (util/fs.h).
class SafetensorsStreamWriter {
 public:
  SafetensorsStreamWriter(std::string dir, std::vector<TensorDecl> decls,
                          const SafetensorsWriteOptions& opts = {});
  ~SafetensorsStreamWriter();
  const std::vector<std::string>& order() const { return order_; }
  // The next tensor of order(): its dtype and shape must match the declaration.
  void write(const std::string& name, const torch::Tensor& tensor);
  // After the last write: closes the files, writes the index; the files written (the index
  // last, when sharded).
  std::vector<WrittenFile> finish();

 private:
  struct Shard;
  void open_next_shard();
  std::string dir_;
  SafetensorsWriteOptions opts_;
  std::vector<TensorDecl> decls_;  // sorted by name
  std::vector<Shard> shards_;
  std::vector<std::string> order_;
  size_t next_ = 0, shard_ = 0;
  struct Open;
  std::unique_ptr<Open> open_;
  std::vector<WrittenFile> written_;
};

// Write `tensors` (contiguous copies are made as needed; dtypes F32/F16/BF16) into the
// existing folder `dir` through SafetensorsStreamWriter. Returns the file names written.
std::vector<std::string> write_safetensors(const std::string& dir, const NamedTensors& tensors,
                                           const SafetensorsWriteOptions& opts = {});

// Parse "2GB", "500MB", "4GiB", "123" (bytes) into bytes; bad_input otherwise.
uint64_t parse_byte_size(const std::string& text);

}  // namespace llmprune
