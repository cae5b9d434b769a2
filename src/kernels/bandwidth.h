// Memory read bandwidth as decoding sees it: a multi-threaded sum over a buffer much larger
// than the caches, on LibTorch's intra-op threads (the ones the GEMV kernels use), in memory
// on huge pages where Linux allows (as the weights are: 2 MiB pages read up to 1.4x faster).
#pragma once

#include <cstdint>

namespace llmprune::kernels {

struct BandwidthResult {
  int64_t bytes = 0;  // buffer size
  int threads = 0;
  double best_gbps = 0;  // best of `passes`, 1e9 bytes / s
  // Share of the buffer Linux put on huge pages (util/huge_pages.h); -1 when unknown.
  double huge_page_fraction = -1;
};

BandwidthResult measure_read_bandwidth(int64_t bytes = int64_t{1} << 30, int passes = 5);

}  // namespace llmprune::kernels
