// Private mmap of a file (see mapped_file.h).
#include "io/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "util/error.h"

namespace llmprune {

MappedFile::MappedFile(const std::string& path) : path_(path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw bad_input("cannot open ", path, ": ", std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    throw bad_input("cannot stat ", path, ": ", std::strerror(err));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    throw bad_input("cannot map ", path, ": not a regular file");
  }
  size_ = static_cast<uint64_t>(st.st_size);
  if (size_ > 0) {
    void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      int err = errno;
      ::close(fd);
      throw bad_input("cannot map ", path, ": ", std::strerror(err));
    }
    data_ = static_cast<const uint8_t*>(p);
  }
  ::close(fd);  // the mapping keeps the file alive
}

void MappedFile::release(uint64_t begin, uint64_t end) const {
  if (!data_ || end <= begin) return;
  const uint64_t page = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  // Only pages wholly inside the range: neighbours may still be in use by another tensor.
  const uint64_t first = (begin + page - 1) / page * page, last = end / page * page;
  if (last > first) ::madvise(const_cast<uint8_t*>(data_) + first, last - first, MADV_DONTNEED);
}

uint8_t* MappedFile::writable(uint64_t begin, uint64_t end) const {
  uint8_t* base = const_cast<uint8_t*>(data_);
  if (!data_ || end <= begin) return base + begin;
  const uint64_t page = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  const uint64_t first = begin / page * page, last = (end + page - 1) / page * page;
  // Only this range is made writable: a private writable mapping is charged against the
  // commit limit, so a whole large file mapped writable could be refused.
  if (::mprotect(base + first, last - first, PROT_READ | PROT_WRITE) != 0)
    throw bad_input("cannot make ", path_, " bytes ", begin, "..", end,
                    " writable (copy-on-write): ", std::strerror(errno));
#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22  // Linux >= 5.14
#endif
  if (::madvise(base + first, last - first, MADV_POPULATE_READ) != 0) {
    // Older kernels: read one byte per page (a read fault maps the page cache page, no copy).
    volatile uint8_t sink = 0;
    for (uint64_t off = first; off < last; off += page) sink = sink + base[off];
  }
  return base + begin;
}

MappedFile::~MappedFile() {
  if (data_) ::munmap(const_cast<uint8_t*>(data_), size_);
}

}  // namespace llmprune
