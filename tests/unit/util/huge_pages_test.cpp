// HugeBuffer's contract (zero-filled fresh memory, 2 MiB alignment for buffers of at least
// one huge page, shared ownership) and the THP setting parser. Whether Linux grants huge
// pages depends on the machine, so only the placement it needs is checked, not the grant.
#include "util/huge_pages.h"

#include <gtest/gtest.h>

#include <cstring>

using namespace llmprune;

TEST(HugePages, LargeBuffersStartOnAHugePageBoundaryAndAreZero) {
  // 5 MiB + 100 bytes: two whole huge pages and a 4 KiB-page tail.
  const size_t bytes = (size_t{5} << 20) + 100;
  HugeBuffer b(bytes);
  ASSERT_NE(b.data(), nullptr);
  EXPECT_EQ(b.size(), bytes);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(b.data()) % kHugePageBytes, 0u);
  // Fresh anonymous memory reads as zeros (first, middle, last byte and a sweep).
  size_t nonzero = 0;
  for (size_t i = 0; i < bytes; i += 4093) nonzero += b.data()[i] != 0;
  EXPECT_EQ(nonzero, 0u);
  EXPECT_EQ(b.data()[bytes - 1], 0);
  // Writable to its last byte.
  std::memset(b.data(), 0x5A, bytes);
  EXPECT_EQ(b.data()[bytes - 1], 0x5A);
}

TEST(HugePages, CopiesShareTheMemory) {
  HugeBuffer a(1000);  // smaller than a huge page: ordinary pages, page-aligned
  EXPECT_EQ(reinterpret_cast<uintptr_t>(a.data()) % 4096, 0u);
  HugeBuffer b = a;
  b.data()[7] = 42;
  EXPECT_EQ(a.data()[7], 42);
  EXPECT_EQ(a.owner().use_count(), 2);
  HugeBuffer empty(0);
  EXPECT_EQ(empty.data(), nullptr);
  EXPECT_EQ(empty.size(), 0u);
}

TEST(HugePages, SettingIsOneOfLinuxsWords) {
  const std::string mode = huge_pages_mode();
  EXPECT_TRUE(mode == "always" || mode == "madvise" || mode == "never" || mode == "unavailable")
      << mode;
  EXPECT_EQ(huge_pages_usable(), mode == "always" || mode == "madvise");
  // smaps_rollup exists on Linux >= 4.14; where it does, the count is a byte count.
  const int64_t huge = anon_huge_page_bytes();
  EXPECT_TRUE(huge == -1 || huge >= 0);
}
