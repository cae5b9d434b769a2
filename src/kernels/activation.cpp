// silu(gate) * up (see activation.h).
#include "kernels/activation.h"

#include <cmath>
#include <cstring>

#include "kernels/gemv.h"
#include "kernels/gemv_internal.h"

#if defined(__x86_64__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#endif

namespace llmprune::kernels {

namespace {

// f32 -> bf16 as c10::BFloat16 converts: to nearest even, every NaN to 0x7FC0.
inline uint16_t to_bf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if (std::isnan(f)) return 0x7FC0;
  return static_cast<uint16_t>((u + 0x7FFF + ((u >> 16) & 1)) >> 16);
}

inline float silu_scalar(float x) { return x / (1.0f + std::exp(-x)); }

// e^x for the vector kernels: x = n ln2 + r (|r| <= ln2 / 2, ln2 split in two so n ln2 is
// exact), e^r by its Taylor series to r^7 (truncation below 2^-27 relative), times 2^n.
// Inputs are clamped to [-104, 104] (|n| <= 151), where e^x already under- or overflows f32,
// so the scaling still gives 0 or inf there and silu of a very negative x is -0.
constexpr float kLog2e = 1.44269504088896341f, kLn2Hi = 0.693359375f, kLn2Lo = -2.12194440e-4f,
                kExpMin = -104.0f, kExpMax = 104.0f;
constexpr float kC[8] = {1.0f,      1.0f,       0.5f,       1.0f / 6,
                         1.0f / 24, 1.0f / 120, 1.0f / 720, 1.0f / 5040};

#if defined(__x86_64__)
#define LLMPRUNE_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,fma")))
#define LLMPRUNE_AVX2 __attribute__((target("avx2,fma")))

LLMPRUNE_AVX512 inline __m512 exp_512(__m512 x) {
  x = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(kExpMin)), _mm512_set1_ps(kExpMax));
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(kLog2e)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(kLn2Hi), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(kLn2Lo), r);
  __m512 p = _mm512_set1_ps(kC[7]);
  for (int i = 6; i >= 0; --i) p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(kC[i]));
  return _mm512_scalef_ps(p, n);
}
LLMPRUNE_AVX512 inline __m512 silu_512(__m512 x) {
  const __m512 e = exp_512(_mm512_sub_ps(_mm512_setzero_ps(), x));
  return _mm512_div_ps(x, _mm512_add_ps(_mm512_set1_ps(1.0f), e));
}
LLMPRUNE_AVX512 inline __m512 load_bf16_512(const uint16_t* p, __mmask16 m) {
  return _mm512_castsi512_ps(
      _mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, p)), 16));
}
// 16 lanes of to_bf16.
LLMPRUNE_AVX512 inline __m256i round_bf16_512(__m512 f) {
  const __m512i u = _mm512_castps_si512(f);
  const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
  const __m512i biased = _mm512_add_epi32(_mm512_add_epi32(u, _mm512_set1_epi32(0x7FFF)), lsb);
  const __mmask16 nan = _mm512_cmp_ps_mask(f, f, _CMP_UNORD_Q);
  const __m512i r =
      _mm512_mask_mov_epi32(_mm512_srli_epi32(biased, 16), nan, _mm512_set1_epi32(0x7FC0));
  return _mm512_cvtepi32_epi16(r);
}

LLMPRUNE_AVX512 void silu_mul_512(const float* g, const float* u, float* o, int64_t n) {
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = n - i >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << (n - i)) - 1);
    const __m512 s = silu_512(_mm512_maskz_loadu_ps(m, g + i));
    _mm512_mask_storeu_ps(o + i, m, _mm512_mul_ps(s, _mm512_maskz_loadu_ps(m, u + i)));
  }
}
LLMPRUNE_AVX512 void silu_mul_512(const uint16_t* g, const uint16_t* u, uint16_t* o, int64_t n) {
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = n - i >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << (n - i)) - 1);
    const __m256i s = round_bf16_512(silu_512(load_bf16_512(g + i, m)));
    const __m512 sf = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(s), 16));
    _mm256_mask_storeu_epi16(o + i, m, round_bf16_512(_mm512_mul_ps(sf, load_bf16_512(u + i, m))));
  }
}

LLMPRUNE_AVX2 inline __m256 exp_256(__m256 x) {
  x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(kExpMin)), _mm256_set1_ps(kExpMax));
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(kLog2e)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(kLn2Hi), x);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(kLn2Lo), r);
  __m256 p = _mm256_set1_ps(kC[7]);
  for (int i = 6; i >= 0; --i) p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(kC[i]));
  // 2^n as two normal factors (|n| <= 151: one factor alone would leave the range).
  const __m256i ni = _mm256_cvtps_epi32(n);
  const __m256i half = _mm256_srai_epi32(ni, 1);
  const __m256 a =
      _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(half, _mm256_set1_epi32(127)), 23));
  const __m256 b = _mm256_castsi256_ps(
      _mm256_slli_epi32(_mm256_add_epi32(_mm256_sub_epi32(ni, half), _mm256_set1_epi32(127)), 23));
  return _mm256_mul_ps(_mm256_mul_ps(p, a), b);
}
LLMPRUNE_AVX2 inline __m256 silu_256(__m256 x) {
  const __m256 e = exp_256(_mm256_sub_ps(_mm256_setzero_ps(), x));
  return _mm256_div_ps(x, _mm256_add_ps(_mm256_set1_ps(1.0f), e));
}
LLMPRUNE_AVX2 void silu_mul_256(const float* g, const float* u, float* o, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(o + i,
                     _mm256_mul_ps(silu_256(_mm256_loadu_ps(g + i)), _mm256_loadu_ps(u + i)));
  if (i < n) {  // the tail through a padded buffer, so it gets the same arithmetic
    alignas(32) float gb[8] = {}, ub[8] = {}, ob[8];
    std::memcpy(gb, g + i, (n - i) * 4);
    std::memcpy(ub, u + i, (n - i) * 4);
    _mm256_store_ps(ob, _mm256_mul_ps(silu_256(_mm256_load_ps(gb)), _mm256_load_ps(ub)));
    std::memcpy(o + i, ob, (n - i) * 4);
  }
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
    for (int64_t j = 0; j < c; ++j) o[i + j] = to_bf16(detail::bf16_to_f32(to_bf16(sb[j])) * ub[j]);
  }
}
#endif

}  // namespace

void silu_mul(const float* gate, const float* up, float* out, int64_t n) {
#if defined(__x86_64__)
  switch (kernel_level()) {
    case KernelLevel::kAvx512: return silu_mul_512(gate, up, out, n);
    case KernelLevel::kAvx2: return silu_mul_256(gate, up, out, n);
    case KernelLevel::kScalar: break;
  }
#endif
  for (int64_t i = 0; i < n; ++i) out[i] = silu_scalar(gate[i]) * up[i];
}

void silu_mul(const uint16_t* gate, const uint16_t* up, uint16_t* out, int64_t n) {
#if defined(__x86_64__)
  switch (kernel_level()) {
    case KernelLevel::kAvx512: return silu_mul_512(gate, up, out, n);
    case KernelLevel::kAvx2: return silu_mul_256(gate, up, out, n);
    case KernelLevel::kScalar: break;
  }
#endif
  for (int64_t i = 0; i < n; ++i) {
    const float s = detail::bf16_to_f32(to_bf16(silu_scalar(detail::bf16_to_f32(gate[i]))));
    out[i] = to_bf16(s * detail::bf16_to_f32(up[i]));
  }
}

}  // namespace llmprune::kernels
