// RMSNorm rows (see rms_norm.h).
#include "kernels/rms_norm.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>

#include "kernels/gemv.h"
#include "kernels/gemv_internal.h"
#include "kernels/vec_math.h"

namespace llmprune::kernels {

namespace {

using detail::bf16_to_f32;
using detail::to_bf16;

// 1 / sqrt(mean + eps) as LibTorch's rsqrt of (var + eps): two IEEE roundings.
inline float inv_rms(float sum_squares, int64_t cols, float eps) {
  return 1.0f / std::sqrt(sum_squares / static_cast<float>(cols) + eps);
}

void row_scalar(const uint16_t* x, const uint16_t* w, float eps, int64_t n, uint16_t* out) {
  float ss = 0;
  for (int64_t i = 0; i < n; ++i) ss += bf16_to_f32(x[i]) * bf16_to_f32(x[i]);
  const float r = inv_rms(ss, n, eps);
  for (int64_t i = 0; i < n; ++i) {
    const float y = bf16_to_f32(to_bf16(bf16_to_f32(x[i]) * r));
    out[i] = to_bf16(w ? bf16_to_f32(w[i]) * y : y);
  }
}

#if defined(__x86_64__)
using detail::lanes16;
using detail::load_bf16_512;

LLMPRUNE_AVX512_MATH void row_512(const uint16_t* x, const uint16_t* w, float eps, int64_t n,
                                  uint16_t* out) {
  __m512 s[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(),
                 _mm512_setzero_ps()};
  int64_t i = 0;
  for (; i + 64 <= n; i += 64)
    for (int j = 0; j < 4; ++j) {
      const __m512 v = load_bf16_512(x + i + 16 * j, 0xFFFF);
      s[j] = _mm512_fmadd_ps(v, v, s[j]);
    }
  for (; i < n; i += 16) {
    const __m512 v = load_bf16_512(x + i, lanes16(n - i));
    s[0] = _mm512_fmadd_ps(v, v, s[0]);
  }
  const __m512 r = _mm512_set1_ps(inv_rms(
      _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(s[0], s[1]), _mm512_add_ps(s[2], s[3]))), n,
      eps));
  for (i = 0; i < n; i += 16) {
    const __mmask16 m = lanes16(n - i);
    __m512 y =
        _mm512_castsi512_ps(detail::round_bf16_hi(_mm512_mul_ps(load_bf16_512(x + i, m), r)));
    if (w) y = _mm512_mul_ps(load_bf16_512(w + i, m), y);
    _mm256_mask_storeu_epi16(out + i, m, detail::to_bf16_512(y));
  }
}
#endif

}  // namespace

void rms_norm(const uint16_t* x, int64_t x_stride, const uint16_t* weight, float eps, int64_t rows,
              int64_t cols, uint16_t* out) {
  const bool avx512 = kernel_level() == KernelLevel::kAvx512;
  at::parallel_for(0, rows, std::max<int64_t>(1, 16384 / std::max<int64_t>(1, cols)),
                   [&](int64_t r0, int64_t r1) {
                     for (int64_t r = r0; r < r1; ++r) {
#if defined(__x86_64__)
                       if (avx512) {
                         row_512(x + r * x_stride, weight, eps, cols, out + r * cols);
                         continue;
                       }
#endif
                       row_scalar(x + r * x_stride, weight, eps, cols, out + r * cols);
                     }
                   });
}

}  // namespace llmprune::kernels
