// MappedFile: a read-only mmap of one whole file, unmapped when the last owner goes.
// Safetensors data stays on disk until a tensor is loaded (copied out).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace llmprune {

class MappedFile {
 public:
  // Maps `path` read-only; throws bad_input "cannot map <path>: <reason>".
  explicit MappedFile(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const { return data_; }
  uint64_t size() const { return size_; }
  const std::string& path() const { return path_; }
  // Drop the pages covering [begin, end) from this process's resident set (the whole pages
  // inside the range; the data is read again from the page cache or disk if touched).
  void release(uint64_t begin, uint64_t end) const;

 private:
  std::string path_;
  const uint8_t* data_ = nullptr;  // nullptr for an empty file (mmap of 0 bytes is invalid)
  uint64_t size_ = 0;
};

}  // namespace llmprune
