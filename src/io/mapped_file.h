// MappedFile: a private mmap of one whole file (read-only until a range is made writable,
// copy-on-write), unmapped when the last owner goes. Data stays on disk until touched.
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
  // [begin, end) as private, writable memory: writes make copies of the touched pages
  // (copy-on-write) and never reach the file. The pages are faulted in now, read-only where
  // the kernel can (MADV_POPULATE_READ), so a caller's timing includes reading them. Pages
  // shared with a neighbouring range become writable too (harmless: private either way).
  uint8_t* writable(uint64_t begin, uint64_t end) const;

 private:
  std::string path_;
  const uint8_t* data_ = nullptr;  // nullptr for an empty file (mmap of 0 bytes is invalid)
  uint64_t size_ = 0;
};

}  // namespace llmprune
