// Vector math shared by the CPU kernels (inline, compiled with target attributes; callers
// check the CPU): e^x and f32 -> bf16 rounding exactly as c10::BFloat16 rounds.
#pragma once

#include <cstdint>

#if defined(__x86_64__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#define LLMPRUNE_AVX512_MATH __attribute__((target("avx512f,avx512bw,avx512vl,fma")))
#define LLMPRUNE_AVX2_MATH __attribute__((target("avx2,fma")))

namespace llmprune::kernels::detail {

// e^x within 1-2 ulp: x = n ln2 + r, |r| <= ln2 / 2 (ln2 split in two so n ln2 is exact),
// e^r = 1 + r + r^2 P(r) with the Cephes expf polynomial, times 2^n. x is clamped to
// [-104, 104] (|n| <= 151), where e^x has already under- or overflowed f32, so the scaling
// still gives 0 or inf there (-inf in gives 0).
constexpr float kExpClamp = 104.0f, kLog2e = 1.44269504088896341f, kLn2Hi = 0.693359375f,
                kLn2Lo = -2.12194440e-4f;
constexpr float kExpP[6] = {1.9875691500e-4f, 1.3981999507e-3f, 8.3334519073e-3f,
                            4.1665795894e-2f, 1.6666665459e-1f, 5.0000001201e-1f};

LLMPRUNE_AVX512_MATH inline __m512 exp_512(__m512 x) {
  x = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-kExpClamp)), _mm512_set1_ps(kExpClamp));
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(kLog2e)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(kLn2Hi), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(kLn2Lo), r);
  __m512 p = _mm512_set1_ps(kExpP[0]);
  for (int i = 1; i < 6; ++i) p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(kExpP[i]));
  p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
  return _mm512_scalef_ps(p, n);
}

// 2^e for e in [-126, 127], built in the exponent field.
LLMPRUNE_AVX2_MATH inline __m256 pow2_256(__m256i e) {
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(e, _mm256_set1_epi32(127)), 23));
}

LLMPRUNE_AVX2_MATH inline __m256 exp_256(__m256 x) {
  x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-kExpClamp)), _mm256_set1_ps(kExpClamp));
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(kLog2e)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(kLn2Hi), x);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(kLn2Lo), r);
  __m256 p = _mm256_set1_ps(kExpP[0]);
  for (int i = 1; i < 6; ++i) p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(kExpP[i]));
  p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
  // 2^n as two normal factors (|n| <= 151: one factor alone would leave the exponent range).
  const __m256i ni = _mm256_cvtps_epi32(n), half = _mm256_srai_epi32(ni, 1);
  return _mm256_mul_ps(_mm256_mul_ps(p, pow2_256(half)), pow2_256(_mm256_sub_epi32(ni, half)));
}

// The low n lanes of 16 (n clamped to [0, 16]): masks for row tails.
inline __mmask16 lanes16(int64_t n) {
  return n >= 16 ? __mmask16(0xFFFF) : n <= 0 ? __mmask16(0) : __mmask16((1u << n) - 1);
}

// 16 bf16 values (the lanes of m; others 0) widened exactly to f32.
LLMPRUNE_AVX512_MATH inline __m512 load_bf16_512(const uint16_t* p, __mmask16 m) {
  return _mm512_castsi512_ps(
      _mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, p)), 16));
}

// 16 values (the lanes of m; others 0) as f32: f32 as stored, bf16 widened exactly.
LLMPRUNE_AVX512_MATH inline __m512 load_f32_512(const float* p, __mmask16 m) {
  return _mm512_maskz_loadu_ps(m, p);
}
LLMPRUNE_AVX512_MATH inline __m512 load_f32_512(const uint16_t* p, __mmask16 m) {
  return load_bf16_512(p, m);
}

// f32 -> bf16 to nearest even, NaN -> 0x7FC0 (c10::BFloat16's round_to_nearest_even), kept
// in the high half of each 32-bit lane (low half zero: the lane is the rounded f32).
LLMPRUNE_AVX512_MATH inline __m512i round_bf16_hi(__m512 x) {
  const __m512i u = _mm512_castps_si512(x);
  const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
  __m512i r = _mm512_add_epi32(u, _mm512_add_epi32(lsb, _mm512_set1_epi32(0x7FFF)));
  r = _mm512_and_si512(r, _mm512_set1_epi32(static_cast<int>(0xFFFF0000u)));
  return _mm512_mask_mov_epi32(r, _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q),
                               _mm512_set1_epi32(0x7FC00000));
}
// ... as 16 bf16 bit patterns.
LLMPRUNE_AVX512_MATH inline __m256i to_bf16_512(__m512 x) {
  return _mm512_cvtepi32_epi16(_mm512_srli_epi32(round_bf16_hi(x), 16));
}

}  // namespace llmprune::kernels::detail
#endif
