// x86 GEMV row kernels (see gemv_internal.h): AVX-512 (F/BW/VL, with BF16 dot products and
// VNNI where present) and AVX2+FMA. Compiled with per-function target attributes and chosen
// at run time, so the binary still runs on CPUs without them. Each kernel walks R = 4 weight
// rows at once (4 independent memory streams sharing each activation load), then the rest
// one by one.
#include <cstring>

#include "kernels/gemv_internal.h"
#include "kernels/q8_weight.h"

#if defined(__x86_64__)
// GCC 12's AVX-512 headers trip its own uninitialized-value warnings (setzero, reduce).
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#define LLMPRUNE_AVX512 "avx512f,avx512bw,avx512vl,fma"
#define LLMPRUNE_AVX2 "avx2,fma,f16c"

namespace llmprune::kernels::detail {
namespace {

// ---- AVX-512 ----------------------------------------------------------------------------

__attribute__((target(LLMPRUNE_AVX512))) inline __m512 widen_bf16(__m256i h) {
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

template <int R>
__attribute__((target(LLMPRUNE_AVX512))) void f32_rows_512(const float* const* w, const float* x,
                                                           int64_t K, float* out) {
  __m512 acc[R];
  for (int r = 0; r < R; ++r) acc[r] = _mm512_setzero_ps();
  int64_t k = 0;
  for (; k + 16 <= K; k += 16) {
    const __m512 xv = _mm512_loadu_ps(x + k);
    for (int r = 0; r < R; ++r) acc[r] = _mm512_fmadd_ps(_mm512_loadu_ps(w[r] + k), xv, acc[r]);
  }
  if (k < K) {
    const __mmask16 mask = static_cast<__mmask16>((1u << (K - k)) - 1);
    const __m512 xv = _mm512_maskz_loadu_ps(mask, x + k);
    for (int r = 0; r < R; ++r)
      acc[r] = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mask, w[r] + k), xv, acc[r]);
  }
  for (int r = 0; r < R; ++r) out[r] = _mm512_reduce_add_ps(acc[r]);
}

template <int R>
__attribute__((target(LLMPRUNE_AVX512))) void bf16_rows_512(const uint16_t* const* w,
                                                            const float* x, int64_t K, float* out) {
  __m512 acc[R];
  for (int r = 0; r < R; ++r) acc[r] = _mm512_setzero_ps();
  int64_t k = 0;
  for (; k + 16 <= K; k += 16) {
    const __m512 xv = _mm512_loadu_ps(x + k);
    for (int r = 0; r < R; ++r)
      acc[r] = _mm512_fmadd_ps(
          widen_bf16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(w[r] + k))), xv, acc[r]);
  }
  if (k < K) {
    const __mmask16 mask = static_cast<__mmask16>((1u << (K - k)) - 1);
    const __m512 xv = _mm512_maskz_loadu_ps(mask, x + k);
    for (int r = 0; r < R; ++r)
      acc[r] = _mm512_fmadd_ps(widen_bf16(_mm256_maskz_loadu_epi16(mask, w[r] + k)), xv, acc[r]);
  }
  for (int r = 0; r < R; ++r) out[r] = _mm512_reduce_add_ps(acc[r]);
}

template <int R>
__attribute__((target(LLMPRUNE_AVX512 ",avx512bf16"))) void bf16dot_rows_512(
    const uint16_t* const* w, const uint16_t* x, int64_t K, float* out) {
  __m512 acc[R];
  for (int r = 0; r < R; ++r) acc[r] = _mm512_setzero_ps();
  int64_t k = 0;
  for (; k + 32 <= K; k += 32) {
    const __m512bh xv = (__m512bh)_mm512_loadu_si512(x + k);
    for (int r = 0; r < R; ++r)
      acc[r] = _mm512_dpbf16_ps(acc[r], (__m512bh)_mm512_loadu_si512(w[r] + k), xv);
  }
  if (k < K) {
    const __mmask32 mask = static_cast<__mmask32>((uint64_t{1} << (K - k)) - 1);
    const __m512bh xv = (__m512bh)_mm512_maskz_loadu_epi16(mask, x + k);
    for (int r = 0; r < R; ++r)
      acc[r] = _mm512_dpbf16_ps(acc[r], (__m512bh)_mm512_maskz_loadu_epi16(mask, w[r] + k), xv);
  }
  for (int r = 0; r < R; ++r) out[r] = _mm512_reduce_add_ps(acc[r]);
}

// Q8_0: lane j of a group accumulates block j (see q8_weight.h); weights are q + 128, so
// 128 x sum(x_q) is subtracted per block before scaling by d_w * d_x. Each row is one stream:
// a group's 512 quant bytes, then its 16 fp16 scales.
template <int R>
__attribute__((target(LLMPRUNE_AVX512 ",avx512vnni"))) void q8_rows_512(const uint8_t* const* w,
                                                                        const Prepared& x,
                                                                        int64_t m, int64_t padded,
                                                                        float* out) {
  const int8_t* xq = x.q + m * padded;
  const float* xd = x.qd + m * (padded / 32);
  const int32_t* xs = x.qsum128 + m * (padded / 32);
  __m512 acc[R];
  for (int r = 0; r < R; ++r) acc[r] = _mm512_setzero_ps();
  for (int64_t g = 0; g < padded / kQ8Group; ++g) {
    __m512i iacc[R];
    for (int r = 0; r < R; ++r) iacc[r] = _mm512_setzero_si512();
    const int64_t wg = g * kQ8GroupBytes;
    for (int64_t s = 0; s < 8; ++s) {
      const __m512i xv = _mm512_loadu_si512(xq + g * kQ8Group + s * 64);
      for (int r = 0; r < R; ++r)
        iacc[r] = _mm512_dpbusd_epi32(iacc[r], _mm512_loadu_si512(w[r] + wg + s * 64), xv);
    }
    const __m512i sum = _mm512_loadu_si512(xs + g * 16);
    const __m512 dx = _mm512_loadu_ps(xd + g * 16);
    for (int r = 0; r < R; ++r) {
      const __m512 dw = _mm512_cvtph_ps(
          _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w[r] + wg + kQ8Group)));
      acc[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(iacc[r], sum)),
                               _mm512_mul_ps(dw, dx), acc[r]);
    }
  }
  for (int r = 0; r < R; ++r) out[r] = _mm512_reduce_add_ps(acc[r]);
}

// ---- AVX2 -------------------------------------------------------------------------------

__attribute__((target(LLMPRUNE_AVX2))) inline float hsum256(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

template <int R>
__attribute__((target(LLMPRUNE_AVX2))) void f32_rows_256(const float* const* w, const float* x,
                                                         int64_t K, float* out) {
  __m256 acc[R];
  for (int r = 0; r < R; ++r) acc[r] = _mm256_setzero_ps();
  int64_t k = 0;
  for (; k + 8 <= K; k += 8) {
    const __m256 xv = _mm256_loadu_ps(x + k);
    for (int r = 0; r < R; ++r) acc[r] = _mm256_fmadd_ps(_mm256_loadu_ps(w[r] + k), xv, acc[r]);
  }
  for (int r = 0; r < R; ++r) {
    float s = hsum256(acc[r]);
    for (int64_t t = k; t < K; ++t) s += w[r][t] * x[t];
    out[r] = s;
  }
}

template <int R>
__attribute__((target(LLMPRUNE_AVX2))) void bf16_rows_256(const uint16_t* const* w, const float* x,
                                                          int64_t K, float* out) {
  __m256 acc[R];
  for (int r = 0; r < R; ++r) acc[r] = _mm256_setzero_ps();
  int64_t k = 0;
  for (; k + 8 <= K; k += 8) {
    const __m256 xv = _mm256_loadu_ps(x + k);
    for (int r = 0; r < R; ++r) {
      const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(w[r] + k));
      const __m256 wv = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
      acc[r] = _mm256_fmadd_ps(wv, xv, acc[r]);
    }
  }
  for (int r = 0; r < R; ++r) {
    float s = hsum256(acc[r]);
    for (int64_t t = k; t < K; ++t) {
      const uint32_t bits = static_cast<uint32_t>(w[r][t]) << 16;
      float wf;
      std::memcpy(&wf, &bits, 4);
      s += wf * x[t];
    }
    out[r] = s;
  }
}

// Q8_0 without VNNI: signed weights (q + 128 xor 0x80), |q| x sign(x, q) as unsigned x signed
// byte products (|q| <= 127, so pairs never saturate), then pairs of 16-bit sums to 32 bits.
template <int R>
__attribute__((target(LLMPRUNE_AVX2))) void q8_rows_256(const uint8_t* const* w, const Prepared& x,
                                                        int64_t m, int64_t padded, float* out) {
  const int8_t* xq = x.q + m * padded;
  const float* xd = x.qd + m * (padded / 32);
  const __m256i flip = _mm256_set1_epi8(static_cast<char>(0x80));
  const __m256i ones = _mm256_set1_epi16(1);
  __m256 acc[R];
  for (int r = 0; r < R; ++r) acc[r] = _mm256_setzero_ps();
  for (int64_t g = 0; g < padded / kQ8Group; ++g) {
    const int64_t wg = g * kQ8GroupBytes;
    for (int h = 0; h < 2; ++h) {  // blocks 0-7, then 8-15 of the group
      __m256i iacc[R];
      for (int r = 0; r < R; ++r) iacc[r] = _mm256_setzero_si256();
      for (int64_t s = 0; s < 8; ++s) {
        const int64_t off = s * 64 + h * 32;
        const __m256i xv =
            _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xq + g * kQ8Group + off));
        for (int r = 0; r < R; ++r) {
          const __m256i q = _mm256_xor_si256(
              _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w[r] + wg + off)), flip);
          const __m256i p16 = _mm256_maddubs_epi16(_mm256_abs_epi8(q), _mm256_sign_epi8(xv, q));
          iacc[r] = _mm256_add_epi32(iacc[r], _mm256_madd_epi16(p16, ones));
        }
      }
      const __m256 dx = _mm256_loadu_ps(xd + g * 16 + h * 8);
      for (int r = 0; r < R; ++r) {
        const __m256 dw = _mm256_cvtph_ps(
            _mm_loadu_si128(reinterpret_cast<const __m128i*>(w[r] + wg + kQ8Group + h * 16)));
        acc[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(iacc[r]), _mm256_mul_ps(dw, dx), acc[r]);
      }
    }
  }
  for (int r = 0; r < R; ++r) out[r] = hsum256(acc[r]);
}

// ---- row loops --------------------------------------------------------------------------

// Walks rows [r0, r1) in fours, then singly; `rows` computes R rows for activation row m.
template <typename Rows4, typename Rows1>
inline void for_rows(const WeightView& w, const Prepared& x, int64_t r0, int64_t r1, float* y,
                     Rows4 rows4, Rows1 rows1) {
  int64_t r = r0;
  float out[4];
  for (; r + 4 <= r1; r += 4)
    for (int64_t m = 0; m < x.n; ++m) {
      rows4(r, m, out);
      for (int i = 0; i < 4; ++i) y[m * w.rows + r + i] = out[i];
    }
  for (; r < r1; ++r)
    for (int64_t m = 0; m < x.n; ++m) {
      rows1(r, m, out);
      y[m * w.rows + r] = out[0];
    }
}

template <typename T, int R>
inline void row_ptrs(const WeightView& w, int64_t r, int64_t stride, const T* (&p)[R]) {
  for (int i = 0; i < R; ++i) p[i] = static_cast<const T*>(w.data) + (r + i) * stride;
}

#define LLMPRUNE_ROWS(T, STRIDE, BODY)        \
  [&](int64_t r, int64_t m, float* out) {     \
    constexpr int R = 4;                      \
    const T* p[R];                            \
    row_ptrs<T, R>(w, r, STRIDE, p);          \
    BODY;                                     \
  },                                          \
      [&](int64_t r, int64_t m, float* out) { \
        constexpr int R = 1;                  \
        const T* p[R];                        \
        row_ptrs<T, R>(w, r, STRIDE, p);      \
        BODY;                                 \
      }

void f32_512(const WeightView& w, const Prepared& x, int64_t r0, int64_t r1, float* y) {
  for_rows(w, x, r0, r1, y,
           LLMPRUNE_ROWS(float, w.cols, (f32_rows_512<R>(p, x.f32 + m * w.cols, w.cols, out))));
}
void bf16_512(const WeightView& w, const Prepared& x, int64_t r0, int64_t r1, float* y) {
  for_rows(w, x, r0, r1, y,
           LLMPRUNE_ROWS(uint16_t, w.cols, (bf16_rows_512<R>(p, x.f32 + m * w.cols, w.cols, out))));
}
void bf16dot_512(const WeightView& w, const Prepared& x, int64_t r0, int64_t r1, float* y) {
  for_rows(
      w, x, r0, r1, y,
      LLMPRUNE_ROWS(uint16_t, w.cols, (bf16dot_rows_512<R>(p, x.bf16 + m * w.cols, w.cols, out))));
}
void q8_512(const WeightView& w, const Prepared& x, int64_t r0, int64_t r1, float* y) {
  for_rows(w, x, r0, r1, y,
           LLMPRUNE_ROWS(uint8_t, w.padded_cols / kQ8Group * kQ8GroupBytes,
                         (q8_rows_512<R>(p, x, m, w.padded_cols, out))));
}
void f32_256(const WeightView& w, const Prepared& x, int64_t r0, int64_t r1, float* y) {
  for_rows(w, x, r0, r1, y,
           LLMPRUNE_ROWS(float, w.cols, (f32_rows_256<R>(p, x.f32 + m * w.cols, w.cols, out))));
}
void bf16_256(const WeightView& w, const Prepared& x, int64_t r0, int64_t r1, float* y) {
  for_rows(w, x, r0, r1, y,
           LLMPRUNE_ROWS(uint16_t, w.cols, (bf16_rows_256<R>(p, x.f32 + m * w.cols, w.cols, out))));
}
void q8_256(const WeightView& w, const Prepared& x, int64_t r0, int64_t r1, float* y) {
  for_rows(w, x, r0, r1, y,
           LLMPRUNE_ROWS(uint8_t, w.padded_cols / kQ8Group * kQ8GroupBytes,
                         (q8_rows_256<R>(p, x, m, w.padded_cols, out))));
}

}  // namespace

RowKernel avx512_kernel(WeightKind kind, bool bf16_dot) {
  switch (kind) {
    case WeightKind::kF32: return f32_512;
    case WeightKind::kBF16: return bf16_dot ? bf16dot_512 : bf16_512;
    case WeightKind::kQ8_0: return q8_512;
  }
  return nullptr;
}

RowKernel avx2_kernel(WeightKind kind) {
  switch (kind) {
    case WeightKind::kF32: return f32_256;
    case WeightKind::kBF16: return bf16_256;
    case WeightKind::kQ8_0: return q8_256;
  }
  return nullptr;
}

}  // namespace llmprune::kernels::detail

#else  // not x86-64: scalar kernels only

namespace llmprune::kernels::detail {
RowKernel avx512_kernel(WeightKind, bool) { return nullptr; }
RowKernel avx2_kernel(WeightKind) { return nullptr; }
}  // namespace llmprune::kernels::detail

#endif
