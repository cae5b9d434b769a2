// The machine's matmul peak, measured in the same run as a benchmark so that results can
// be compared as ratios across machines (docs/benchmarks.md).
#pragma once

#include <torch/torch.h>

namespace llmprune {

struct GemmPeak {
  double gflops = 0;   // best of the timed repetitions
  int64_t n = 0;       // square size used
  torch::ScalarType dtype = torch::kFloat;
};

// Time C = A @ B for n x n matrices of `dtype` on `device` for at least `min_seconds`
// (after one warm-up) and return the best rate.
GemmPeak measure_gemm_peak(torch::ScalarType dtype, torch::Device device, int64_t n = 2048,
                           double min_seconds = 1.0);

}  // namespace llmprune
