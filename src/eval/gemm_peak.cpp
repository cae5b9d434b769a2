// Matmul peak measurement (see gemm_peak.h).
#include "eval/gemm_peak.h"

#include <algorithm>

#include "util/timer.h"

namespace llmprune {

namespace {
// Reading one element back waits for the queued kernels (CUDA is asynchronous).
void sync(const torch::Tensor& t) {
  if (t.is_cuda()) t.flatten()[0].item<double>();
}
}  // namespace

GemmPeak measure_gemm_peak(torch::ScalarType dtype, torch::Device device, int64_t n,
                           double min_seconds) {
  torch::InferenceMode guard;
  auto opts = torch::TensorOptions().dtype(dtype).device(device);
  auto a = torch::randn({n, n}, opts), b = torch::randn({n, n}, opts);
  auto c = torch::matmul(a, b);  // warm-up (oneDNN / cuBLAS heuristics, page faults)
  sync(c);
  const double flop = 2.0 * n * n * n;
  double best = 0;
  Timer total;
  int reps = 0;
  while (reps < 3 || total.seconds() < min_seconds) {
    Timer t;
    at::matmul_out(c, a, b);
    sync(c);
    best = std::max(best, flop / t.seconds() / 1e9);
    ++reps;
  }
  return {best, n, dtype};
}

}  // namespace llmprune
