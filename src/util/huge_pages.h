// Memory that token-by-token decoding streams through (weights, the read-bandwidth probe):
// anonymous mappings whose 2 MiB-aligned parts are advised MADV_HUGEPAGE, so Linux backs them
// with transparent huge pages where its setting allows. Reading a large buffer through 4 KiB
// pages costs a TLB miss every 4 KiB and stops the hardware prefetchers at every page edge:
// on a 2-core Zen 5 VM a 1 GiB sum read 33 GB/s on 4 KiB pages and 45 on 2 MiB pages.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace llmprune {

constexpr size_t kHugePageBytes = size_t{2} << 20;

// A zero-filled buffer of `bytes` (fresh anonymous pages, faulted in on first touch), shared
// by its copies, unmapped when the last goes. Starts on a 2 MiB boundary when it is at least
// that large; the whole 2 MiB stretches inside it may become huge pages, the tail stays on
// 4 KiB pages (no memory beyond `bytes` rounded up to 4 KiB is touched).
class HugeBuffer {
 public:
  HugeBuffer() = default;
  explicit HugeBuffer(size_t bytes);  // throws Error (internal) when the mapping fails
  uint8_t* data() const { return data_.get(); }
  size_t size() const { return size_; }
  // The owner of the memory, for wrapping it elsewhere (a tensor's deleter context).
  const std::shared_ptr<uint8_t>& owner() const { return data_; }

 private:
  std::shared_ptr<uint8_t> data_;
  size_t size_ = 0;
};

// Linux's transparent huge page setting: "always", "madvise", "never", or "unavailable" when
// /sys/kernel/mm/transparent_hugepage/enabled cannot be read (not Linux, no THP support).
std::string huge_pages_mode();
// Whether HugeBuffer gets huge pages here ("always" or "madvise").
bool huge_pages_usable();
// Bytes of this process's anonymous memory on huge pages now (AnonHugePages of
// /proc/self/smaps_rollup), -1 when unknown.
int64_t anon_huge_page_bytes();

}  // namespace llmprune
