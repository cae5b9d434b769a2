// silu(gate) * up (see activation.h).
#include "kernels/activation.h"

#include <cmath>
#include <cstring>

#include "kernels/gemv.h"
#include "kernels/gemv_internal.h"
#include "kernels/vec_math.h"

namespace llmprune::kernels {

namespace {

inline float silu_scalar(float x) { return x / (1.0f + std::exp(-x)); }

#if defined(__x86_64__)
#define LLMPRUNE_AVX512 LLMPRUNE_AVX512_MATH
#define LLMPRUNE_AVX2 LLMPRUNE_AVX2_MATH

LLMPRUNE_AVX512 inline __m512 silu_512(__m512 x) {
  const __m512 e = detail::exp_512(_mm512_sub_ps(_mm512_setzero_ps(), x));
  return _mm512_div_ps(x, _mm512_add_ps(_mm512_set1_ps(1.0f), e));
}
LLMPRUNE_AVX512 void silu_mul_512(const uint16_t* g, const uint16_t* u, uint16_t* o, int64_t n) {
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = detail::lanes16(n - i);
    const __m512 sf =
        _mm512_castsi512_ps(detail::round_bf16_hi(silu_512(detail::load_bf16_512(g + i, m))));
    _mm256_mask_storeu_epi16(
        o + i, m, detail::to_bf16_512(_mm512_mul_ps(sf, detail::load_bf16_512(u + i, m))));
  }
}

LLMPRUNE_AVX2 inline __m256 silu_256(__m256 x) {
  const __m256 e = detail::exp_256(_mm256_sub_ps(_mm256_setzero_ps(), x));
  return _mm256_div_ps(x, _mm256_add_ps(_mm256_set1_ps(1.0f), e));
}
LLMPRUNE_AVX2 void silu_mul_256(const uint16_t* g, const uint16_t* u, uint16_t* o, int64_t n) {
  alignas(32) float gb[8], ub[8], sb[8];
  for (int64_t i = 0; i < n; i += 8) {
    const int64_t c = n - i < 8 ? n - i : 8;
    for (int64_t j = 0; j < 8; ++j) {
      gb[j] = j < c ? detail::bf16_to_f32(g[i + j]) : 0.0f;
      ub[j] = j < c ? detail::bf16_to_f32(u[i + j]) : 0.0f;
    }
    _mm256_store_ps(sb, silu_256(_mm256_load_ps(gb)));
    for (int64_t j = 0; j < c; ++j)
      o[i + j] = detail::to_bf16(detail::bf16_to_f32(detail::to_bf16(sb[j])) * ub[j]);
  }
}
#endif

}  // namespace

void silu_mul(const uint16_t* gate, const uint16_t* up, uint16_t* out, int64_t n) {
#if defined(__x86_64__)
  switch (kernel_level()) {
    case KernelLevel::kAvx512: return silu_mul_512(gate, up, out, n);
    case KernelLevel::kAvx2: return silu_mul_256(gate, up, out, n);
    case KernelLevel::kScalar: break;
  }
#endif
  for (int64_t i = 0; i < n; ++i) {
    const float s = detail::bf16_to_f32(detail::to_bf16(silu_scalar(detail::bf16_to_f32(gate[i]))));
    out[i] = detail::to_bf16(s * detail::bf16_to_f32(up[i]));
  }
}

}  // namespace llmprune::kernels
