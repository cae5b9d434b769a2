// Huge-page-backed buffers (see huge_pages.h).
#include "util/huge_pages.h"

#include <sys/mman.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "util/error.h"

namespace llmprune {

namespace {

constexpr size_t kPage = 4096;

size_t round_up(size_t n, size_t to) { return (n + to - 1) / to * to; }

}  // namespace

HugeBuffer::HugeBuffer(size_t bytes) : size_(bytes) {
  if (bytes == 0) return;
  const size_t len = round_up(bytes, kPage);
  // Over-map by one huge page, keep a 2 MiB-aligned window of `len` bytes, unmap the rest.
  const size_t slack = len >= kHugePageBytes ? kHugePageBytes : 0;
  void* raw =
      ::mmap(nullptr, len + slack, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED)
    throw internal_error("cannot map ", bytes, " bytes of memory: ", std::strerror(errno));
  uint8_t* base = static_cast<uint8_t*>(raw);
  uint8_t* start = base;
  if (slack) {
    start = reinterpret_cast<uint8_t*>(round_up(reinterpret_cast<uintptr_t>(base), kHugePageBytes));
    if (start > base) ::munmap(base, static_cast<size_t>(start - base));
    const size_t tail = static_cast<size_t>(base + len + slack - (start + len));
    if (tail) ::munmap(start + len, tail);
    // Advice only: where THP is off or unsupported the buffer simply stays on 4 KiB pages.
    ::madvise(start, len, MADV_HUGEPAGE);
  }
  data_ = std::shared_ptr<uint8_t>(start, [len](uint8_t* p) { ::munmap(p, len); });
}

std::string huge_pages_mode() {
  std::ifstream in("/sys/kernel/mm/transparent_hugepage/enabled");
  std::string line;
  if (!in || !std::getline(in, line)) return "unavailable";
  // e.g. "always [madvise] never": the bracketed word is the setting.
  const size_t open = line.find('['), close = line.find(']');
  if (open == std::string::npos || close == std::string::npos || close < open) return "unavailable";
  return line.substr(open + 1, close - open - 1);
}

bool huge_pages_usable() {
  const std::string mode = huge_pages_mode();
  return mode == "always" || mode == "madvise";
}

int64_t anon_huge_page_bytes() {
  std::ifstream in("/proc/self/smaps_rollup");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("AnonHugePages:", 0) == 0) {
      std::istringstream fields(line.substr(14));
      int64_t kib = -1;
      if (fields >> kib) return kib * 1024;
    }
  return -1;
}

}  // namespace llmprune
