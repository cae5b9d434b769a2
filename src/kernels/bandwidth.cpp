// Read-bandwidth probe (see bandwidth.h).
#include "kernels/bandwidth.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <atomic>
#include <chrono>

#include "kernels/cpu_features.h"
#include "util/huge_pages.h"

#if defined(__x86_64__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#endif

namespace llmprune::kernels {

namespace {

// Sums of v[0, n) with four independent accumulators of the widest vectors the CPU has: a
// narrower or dependent loop can be instruction-bound on a fast memory system and would
// under-state the bandwidth (an SSE2 sum read 33-55 GB/s where this one read 36-61, on a
// 2-core Zen 5 host, 2026-12-02).
#if defined(__x86_64__)
__attribute__((target("avx512f"))) float sum_512(const float* v, int64_t n) {
  __m512 s[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(),
                 _mm512_setzero_ps()};
  for (int64_t i = 0; i + 64 <= n; i += 64)
    for (int j = 0; j < 4; ++j) s[j] = _mm512_add_ps(s[j], _mm512_loadu_ps(v + i + 16 * j));
  return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(s[0], s[1]), _mm512_add_ps(s[2], s[3])));
}
__attribute__((target("avx2"))) float sum_256(const float* v, int64_t n) {
  __m256 s[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(),
                 _mm256_setzero_ps()};
  for (int64_t i = 0; i + 32 <= n; i += 32)
    for (int j = 0; j < 4; ++j) s[j] = _mm256_add_ps(s[j], _mm256_loadu_ps(v + i + 8 * j));
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, _mm256_add_ps(_mm256_add_ps(s[0], s[1]), _mm256_add_ps(s[2], s[3])));
  float r = 0;
  for (float l : lanes) r += l;
  return r;
}
#endif
float sum_scalar(const float* v, int64_t n) {
  float s[4] = {0, 0, 0, 0};
  for (int64_t i = 0; i + 4 <= n; i += 4)
    for (int j = 0; j < 4; ++j) s[j] += v[i + j];
  return s[0] + s[1] + s[2] + s[3];
}

float sum(const float* v, int64_t n) {
#if defined(__x86_64__)
  const CpuFeatures& f = cpu_features();
  if (f.avx512f) return sum_512(v, n);
  if (f.avx2) return sum_256(v, n);
#endif
  return sum_scalar(v, n);
}

}  // namespace

BandwidthResult measure_read_bandwidth(int64_t bytes, int passes) {
  constexpr int64_t kLine = 64;  // floats per step of every sum (whole steps only)
  const int64_t lines = std::max<int64_t>(1, bytes / (kLine * 4));
  // On huge pages where Linux allows, as the weights decoding reads (util/huge_pages.h).
  HugeBuffer mem(static_cast<size_t>(lines * kLine) * sizeof(float));
  float* buf = reinterpret_cast<float*>(mem.data());
  const int64_t huge_before = anon_huge_page_bytes();
  at::parallel_for(0, lines, 1 << 10, [&](int64_t a, int64_t b) {
    std::fill(buf + a * kLine, buf + b * kLine, 1.0f);
  });
  BandwidthResult r;
  const int64_t huge_after = anon_huge_page_bytes();
  r.huge_page_fraction = huge_before < 0 || huge_after < 0
                             ? -1.0
                             : std::clamp(static_cast<double>(huge_after - huge_before) /
                                              static_cast<double>(mem.size()),
                                          0.0, 1.0);
  r.bytes = lines * kLine * 4;
  r.threads = at::get_num_threads();
  std::atomic<int64_t> sink{0};
  for (int p = 0; p < passes; ++p) {
    const auto t0 = std::chrono::steady_clock::now();
    // One contiguous range per thread, as the GEMV kernels split their rows.
    at::parallel_for(0, lines, lines / std::max(1, r.threads) + 1, [&](int64_t a, int64_t b) {
      sink += static_cast<int64_t>(sum(buf + a * kLine, (b - a) * kLine));
    });
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    r.best_gbps = std::max(r.best_gbps, static_cast<double>(r.bytes) / s / 1e9);
  }
  if (sink.load() == 42) r.best_gbps += 0;  // keep the sums alive
  return r;
}

}  // namespace llmprune::kernels
