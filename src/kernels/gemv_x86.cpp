// x86 GEMV row kernels (see gemv_internal.h): AVX-512 (F/BW/VL, with BF16 dot products and
// VNNI where present) and AVX2+FMA. Compiled with per-function target attributes and chosen
// at run time, so the binary still runs on CPUs without them. For one activation row (decoding)
// each kernel walks one weight row at a time with four accumulators along it; for several
// rows, four weight rows at a time sharing the activation loads.
#include <cstring>
#include <type_traits>

#include "kernels/gemv_internal.h"
#include "kernels/q8_weight.h"
#include "kernels/vec_math.h"

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

// A kernel computes R weight rows against one activation row, each row with A = 4 / R
// independent accumulators along it, so that 4 chains of adds are in flight either way.
// Decoding (one activation row) walks one row at a time (R = 1): one memory stream, front to
// back. Walking four rows side by side (four streams a page apart) read the weights at half
// the speed on a Zen 5 host (30 against 60 GB/s, 2 threads, 2026-12-02). With several
// activation rows, R = 4 shares each activation load between four weight rows.

// One-row kernels (decoding) prefetch their weight stream kRowPrefetch bytes ahead, one
// prefetch per 64-byte line: the hardware prefetchers alone keep too few lines in flight when
// the host's memory latency is high. Over the TinyLlama decode sequence (bf16, 2 threads, huge
// pages, 2-core Zen 5 host, 2026-12-02; medians of 60-100 paired in-process blocks against no
// prefetch), 6-16 KiB ahead made decoding 1.07-1.20x faster in five runs, 2 KiB ahead
// 1.01-1.06x (and 1.00-1.04x in session 8). The non-temporal hint (session 10) was 1.008-1.02x
// faster than T0 in four paired runs (bf16; Q8_0 1.012x), presumably because the streamed
// lines then displace less of what the code between two products touches. Prefetches never
// fault: reaching past the end of the weights is harmless.
constexpr int64_t kRowPrefetch = 8192;
inline void prefetch_ahead(const void* p) {
  _mm_prefetch(static_cast<const char*>(p) + kRowPrefetch, _MM_HINT_NTA);
}

// f32 activations against f32 or bf16 (widened exactly) weights, 16 lanes per step.
template <int R, typename T>
__attribute__((target(LLMPRUNE_AVX512))) void fma_rows_512(const T* const* w, const float* x,
                                                           int64_t K, float* out) {
  constexpr int A = 4 / R;
  const __mmask16 all = 0xFFFF;
  __m512 acc[R][A];
  for (auto& row : acc)
    for (auto& a : row) a = _mm512_setzero_ps();
  int64_t k = 0;
  for (; k + 16 * A <= K; k += 16 * A)
    for (int j = 0; j < A; ++j) {
      if (R == 1 && j * 16 * sizeof(T) % 64 == 0) prefetch_ahead(w[0] + k + 16 * j);
      const __m512 xv = _mm512_loadu_ps(x + k + 16 * j);
      for (int r = 0; r < R; ++r)
        acc[r][j] = _mm512_fmadd_ps(load_f32_512(w[r] + k + 16 * j, all), xv, acc[r][j]);
    }
  for (; k < K; k += 16) {
    const __mmask16 m = K - k >= 16 ? all : static_cast<__mmask16>((1u << (K - k)) - 1);
    const __m512 xv = _mm512_maskz_loadu_ps(m, x + k);
    for (int r = 0; r < R; ++r)
      acc[r][0] = _mm512_fmadd_ps(load_f32_512(w[r] + k, m), xv, acc[r][0]);
  }
  for (int r = 0; r < R; ++r) {
    for (int j = 1; j < A; ++j) acc[r][0] = _mm512_add_ps(acc[r][0], acc[r][j]);
    out[r] = _mm512_reduce_add_ps(acc[r][0]);
  }
}

// bf16 x bf16 with vdpbf16ps: 32 exact products per step, f32 sums.
template <int R>
__attribute__((target(LLMPRUNE_AVX512 ",avx512bf16"))) void bf16dot_rows_512(
    const uint16_t* const* w, const uint16_t* x, int64_t K, float* out) {
  constexpr int A = 4 / R;
  __m512 acc[R][A];
  for (auto& row : acc)
    for (auto& a : row) a = _mm512_setzero_ps();
  int64_t k = 0;
  for (; k + 32 * A <= K; k += 32 * A)
    for (int j = 0; j < A; ++j) {
      if (R == 1) prefetch_ahead(w[0] + k + 32 * j);
      const __m512bh xv = (__m512bh)_mm512_loadu_si512(x + k + 32 * j);
      for (int r = 0; r < R; ++r)
        acc[r][j] =
            _mm512_dpbf16_ps(acc[r][j], (__m512bh)_mm512_loadu_si512(w[r] + k + 32 * j), xv);
    }
  for (; k < K; k += 32) {
    const __mmask32 m =
        K - k >= 32 ? ~__mmask32(0) : static_cast<__mmask32>((uint64_t{1} << (K - k)) - 1);
    const __m512bh xv = (__m512bh)_mm512_maskz_loadu_epi16(m, x + k);
    for (int r = 0; r < R; ++r)
      acc[r][0] = _mm512_dpbf16_ps(acc[r][0], (__m512bh)_mm512_maskz_loadu_epi16(m, w[r] + k), xv);
  }
  for (int r = 0; r < R; ++r) {
    for (int j = 1; j < A; ++j) acc[r][0] = _mm512_add_ps(acc[r][0], acc[r][j]);
    out[r] = _mm512_reduce_add_ps(acc[r][0]);
  }
}

// Q8_0: lane j of a group accumulates block j (see q8_weight.h); weights are q + 128, so
// 128 x sum(x_q) is subtracted per block before scaling by d_w * d_x. Each row is one stream:
// a group's 512 quant bytes, then its 16 fp16 scales. A row alone splits a group's 8 steps
// over two integer accumulators.
// One row (decoding) prefetches kRowPrefetch ahead like the bf16 kernel: 2 KiB ahead had made
// it 1.125x faster than the hardware prefetchers alone (session 8); 8 KiB gave another
// 1.03x, 1 KiB 0.93x (60 paired runs each, same host and sequence as above).

template <int R>
__attribute__((target(LLMPRUNE_AVX512 ",avx512vnni"))) void q8_rows_512(const uint8_t* const* w,
                                                                        const Prepared& x,
                                                                        int64_t m, int64_t padded,
                                                                        float* out) {
  constexpr int A = R == 1 ? 2 : 1;
  const int8_t* xq = x.q + m * padded;
  const float* xd = x.qd + m * (padded / 32);
  const int32_t* xs = x.qsum128 + m * (padded / 32);
  __m512 acc[R];
  for (auto& a : acc) a = _mm512_setzero_ps();
  for (int64_t g = 0; g < padded / kQ8Group; ++g) {
    const int64_t wg = g * kQ8GroupBytes;
    __m512i iacc[R][A];
    for (auto& row : iacc)
      for (auto& a : row) a = _mm512_setzero_si512();
    for (int64_t s = 0; s < 8; ++s) {
      const __m512i xv = _mm512_loadu_si512(xq + g * kQ8Group + s * 64);
      // One row (decoding): prefetch the stream kRowPrefetch bytes ahead, 68 bytes per step so
      // that a group's 8 steps cover its 544 bytes (prefetches never fault past the end).
      if (R == 1) prefetch_ahead(w[0] + wg + s * 68);
      for (int r = 0; r < R; ++r)
        iacc[r][s % A] =
            _mm512_dpbusd_epi32(iacc[r][s % A], _mm512_loadu_si512(w[r] + wg + s * 64), xv);
    }
    const __m512i sum = _mm512_loadu_si512(xs + g * 16);
    const __m512 dx = _mm512_loadu_ps(xd + g * 16);
    for (int r = 0; r < R; ++r) {
      for (int j = 1; j < A; ++j) iacc[r][0] = _mm512_add_epi32(iacc[r][0], iacc[r][j]);
      const __m512 dw = _mm512_cvtph_ps(
          _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w[r] + wg + kQ8Group)));
      acc[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(iacc[r][0], sum)),
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
__attribute__((target(LLMPRUNE_AVX2))) inline __m256 load_w8(const float* p) {
  return _mm256_loadu_ps(p);
}
__attribute__((target(LLMPRUNE_AVX2))) inline __m256 load_w8(const uint16_t* p) {
  const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}
inline float widen1(float v) { return v; }
inline float widen1(uint16_t h) { return bf16_to_f32(h); }

template <int R, typename T>
__attribute__((target(LLMPRUNE_AVX2))) void fma_rows_256(const T* const* w, const float* x,
                                                         int64_t K, float* out) {
  constexpr int A = 4 / R;
  __m256 acc[R][A];
  for (auto& row : acc)
    for (auto& a : row) a = _mm256_setzero_ps();
  int64_t k = 0;
  for (; k + 8 * A <= K; k += 8 * A)
    for (int j = 0; j < A; ++j) {
      if (R == 1 && j * 8 * sizeof(T) % 64 == 0) prefetch_ahead(w[0] + k + 8 * j);
      const __m256 xv = _mm256_loadu_ps(x + k + 8 * j);
      for (int r = 0; r < R; ++r)
        acc[r][j] = _mm256_fmadd_ps(load_w8(w[r] + k + 8 * j), xv, acc[r][j]);
    }
  for (; k + 8 <= K; k += 8) {
    const __m256 xv = _mm256_loadu_ps(x + k);
    for (int r = 0; r < R; ++r) acc[r][0] = _mm256_fmadd_ps(load_w8(w[r] + k), xv, acc[r][0]);
  }
  for (int r = 0; r < R; ++r) {
    for (int j = 1; j < A; ++j) acc[r][0] = _mm256_add_ps(acc[r][0], acc[r][j]);
    float s = hsum256(acc[r][0]);
    for (int64_t t = k; t < K; ++t) s += widen1(w[r][t]) * x[t];
    out[r] = s;
  }
}

// Q8_0 without VNNI: signed weights (q + 128 xor 0x80), |q| x sign(x, q) as unsigned x signed
// byte products (|q| <= 127, so pairs never saturate), then pairs of 16-bit sums to 32 bits.
template <int R>
__attribute__((target(LLMPRUNE_AVX2))) void q8_rows_256(const uint8_t* const* w, const Prepared& x,
                                                        int64_t m, int64_t padded, float* out) {
  constexpr int A = R == 1 ? 2 : 1;
  const int8_t* xq = x.q + m * padded;
  const float* xd = x.qd + m * (padded / 32);
  const __m256i flip = _mm256_set1_epi8(static_cast<char>(0x80));
  const __m256i ones = _mm256_set1_epi16(1);
  __m256 acc[R];
  for (auto& a : acc) a = _mm256_setzero_ps();
  for (int64_t g = 0; g < padded / kQ8Group; ++g) {
    const int64_t wg = g * kQ8GroupBytes;
    for (int h = 0; h < 2; ++h) {  // blocks 0-7, then 8-15 of the group
      __m256i iacc[R][A];
      for (auto& row : iacc)
        for (auto& a : row) a = _mm256_setzero_si256();
      for (int64_t s = 0; s < 8; ++s) {
        const int64_t off = s * 64 + h * 32;
        if (R == 1 && h == 0) prefetch_ahead(w[0] + wg + s * 68);  // as q8_rows_512
        const __m256i xv =
            _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xq + g * kQ8Group + off));
        for (int r = 0; r < R; ++r) {
          const __m256i q = _mm256_xor_si256(
              _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w[r] + wg + off)), flip);
          const __m256i p16 = _mm256_maddubs_epi16(_mm256_abs_epi8(q), _mm256_sign_epi8(xv, q));
          iacc[r][s % A] = _mm256_add_epi32(iacc[r][s % A], _mm256_madd_epi16(p16, ones));
        }
      }
      const __m256 dx = _mm256_loadu_ps(xd + g * 16 + h * 8);
      for (int r = 0; r < R; ++r) {
        for (int j = 1; j < A; ++j) iacc[r][0] = _mm256_add_epi32(iacc[r][0], iacc[r][j]);
        const __m256 dw = _mm256_cvtph_ps(
            _mm_loadu_si128(reinterpret_cast<const __m128i*>(w[r] + wg + kQ8Group + h * 16)));
        acc[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(iacc[r][0]), _mm256_mul_ps(dw, dx), acc[r]);
      }
    }
  }
  for (int r = 0; r < R; ++r) out[r] = hsum256(acc[r]);
}

// ---- Q8_0 activation quantization -------------------------------------------------------

// q8_round (util/q8_0.h) on 16 lanes: truncate, then step away from zero when the fraction
// reaches one half.
__attribute__((target(LLMPRUNE_AVX512))) inline __m512i round_away_512(__m512 t) {
  const __m512i i = _mm512_cvttps_epi32(t);
  const __m512 frac = _mm512_sub_ps(t, _mm512_cvtepi32_ps(i));
  const __m512i one = _mm512_set1_epi32(1);
  const __m512i up =
      _mm512_mask_add_epi32(i, _mm512_cmp_ps_mask(frac, _mm512_set1_ps(0.5f), _CMP_GE_OQ), i, one);
  return _mm512_mask_sub_epi32(up, _mm512_cmp_ps_mask(frac, _mm512_set1_ps(-0.5f), _CMP_LE_OQ), up,
                               one);
}

__attribute__((target(LLMPRUNE_AVX512))) inline __m512 load16(const float* f32,
                                                              const uint16_t* bf16, int64_t i) {
  return f32 ? load_f32_512(f32 + i, 0xFFFF) : load_f32_512(bf16 + i, 0xFFFF);
}

// Writes the 4-byte lanes of `bytes` (elements 4 s .. 4 s + 3 of a block in lane s) 64 bytes
// apart, where the weights' layout keeps them.
inline void store_lanes(const uint8_t* bytes, int lanes, int8_t* dst) {
  for (int s = 0; s < lanes; ++s) std::memcpy(dst + 64 * s, bytes + 4 * s, 4);
}

__attribute__((target(LLMPRUNE_AVX512))) void quantize_512(const float* f32, const uint16_t* bf16,
                                                           int64_t cols, int8_t* q, float* d,
                                                           int32_t* sum128) {
  for (int64_t b = 0; b < cols / 32; ++b) {
    const __m512 v0 = load16(f32, bf16, b * 32), v1 = load16(f32, bf16, b * 32 + 16);
    const __m512 amax = _mm512_max_ps(_mm512_abs_ps(v0), _mm512_abs_ps(v1));
    const float db = _mm512_reduce_max_ps(amax) / 127.0f, id = db != 0.0f ? 1.0f / db : 0.0f;
    const __m512 idv = _mm512_set1_ps(id);
    const __m512i q0 = round_away_512(_mm512_mul_ps(v0, idv));
    const __m512i q1 = round_away_512(_mm512_mul_ps(v1, idv));
    alignas(16) uint8_t bytes[32];
    _mm_store_si128(reinterpret_cast<__m128i*>(bytes), _mm512_cvtepi32_epi8(q0));
    _mm_store_si128(reinterpret_cast<__m128i*>(bytes + 16), _mm512_cvtepi32_epi8(q1));
    store_lanes(bytes, 8, q + b / 16 * kQ8Group + q8_lane_offset(b * 32));
    d[b] = db;
    sum128[b] = 128 * _mm512_reduce_add_epi32(_mm512_add_epi32(q0, q1));
  }
}

__attribute__((target(LLMPRUNE_AVX2))) inline __m256i round_away_256(__m256 t) {
  const __m256i i = _mm256_cvttps_epi32(t);
  const __m256 frac = _mm256_sub_ps(t, _mm256_cvtepi32_ps(i));
  // A true comparison is all ones (-1): subtracting it adds one.
  const __m256i up = _mm256_castps_si256(_mm256_cmp_ps(frac, _mm256_set1_ps(0.5f), _CMP_GE_OQ));
  const __m256i down = _mm256_castps_si256(_mm256_cmp_ps(frac, _mm256_set1_ps(-0.5f), _CMP_LE_OQ));
  return _mm256_add_epi32(_mm256_sub_epi32(i, up), down);
}

__attribute__((target(LLMPRUNE_AVX2))) inline __m256 load8(const float* f32, const uint16_t* bf16,
                                                           int64_t i) {
  return f32 ? _mm256_loadu_ps(f32 + i) : load_w8(bf16 + i);
}

__attribute__((target(LLMPRUNE_AVX2))) void quantize_256(const float* f32, const uint16_t* bf16,
                                                         int64_t cols, int8_t* q, float* d,
                                                         int32_t* sum128) {
  const __m256 sign = _mm256_set1_ps(-0.0f);
  for (int64_t b = 0; b < cols / 32; ++b) {
    __m256 v[4];
    __m256 amax = _mm256_setzero_ps();
    for (int j = 0; j < 4; ++j) {
      v[j] = load8(f32, bf16, b * 32 + 8 * j);
      amax = _mm256_max_ps(amax, _mm256_andnot_ps(sign, v[j]));
    }
    __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(amax), _mm256_extractf128_ps(amax, 1));
    m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
    m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
    const float db = _mm_cvtss_f32(m4) / 127.0f, id = db != 0.0f ? 1.0f / db : 0.0f;
    const __m256 idv = _mm256_set1_ps(id);
    __m256i qi[4];
    for (int j = 0; j < 4; ++j) qi[j] = round_away_256(_mm256_mul_ps(v[j], idv));
    const __m256i s32 =
        _mm256_add_epi32(_mm256_add_epi32(qi[0], qi[1]), _mm256_add_epi32(qi[2], qi[3]));
    __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(s32), _mm256_extracti128_si256(s32, 1));
    s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0x4E));
    s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0xB1));
    // Packing interleaves the 128-bit halves; the permutation puts the elements back in order.
    const __m256i p16a = _mm256_packs_epi32(qi[0], qi[1]), p16b = _mm256_packs_epi32(qi[2], qi[3]);
    const __m256i p8 = _mm256_permutevar8x32_epi32(_mm256_packs_epi16(p16a, p16b),
                                                   _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    alignas(32) uint8_t bytes[32];
    _mm256_store_si256(reinterpret_cast<__m256i*>(bytes), p8);
    store_lanes(bytes, 8, q + b / 16 * kQ8Group + q8_lane_offset(b * 32));
    d[b] = db;
    sum128[b] = 128 * _mm_cvtsi128_si32(s4);
  }
}

// ---- row loops --------------------------------------------------------------------------

// Rows [r0, r1) of W (row r at data + r * stride elements of T) against every activation row
// m: one row at a time for a single activation row, else fours (then the rest singly).
// `rows<R>(p, m, out)` computes R rows starting at pointers p for activation row m.
template <typename T, typename Rows>
inline void for_rows(const WeightView& w, const Prepared& x, int64_t r0, int64_t r1, int64_t stride,
                     float* y, Rows rows) {
  const T* W = static_cast<const T*>(w.data);
  int64_t r = r0;
  float out[4];
  if (x.n > 1)
    for (; r + 4 <= r1; r += 4) {
      const T* p[4] = {W + r * stride, W + (r + 1) * stride, W + (r + 2) * stride,
                       W + (r + 3) * stride};
      for (int64_t m = 0; m < x.n; ++m) {
        rows(std::integral_constant<int, 4>(), p, m, out);
        for (int i = 0; i < 4; ++i) y[m * w.rows + r + i] = out[i];
      }
    }
  for (; r < r1; ++r) {
    const T* p[1] = {W + r * stride};
    for (int64_t m = 0; m < x.n; ++m) {
      rows(std::integral_constant<int, 1>(), p, m, out);
      y[m * w.rows + r] = out[0];
    }
  }
}

int64_t q8_row_bytes(const WeightView& w) { return w.padded_cols / kQ8Group * kQ8GroupBytes; }

// The row kernel for R rows (R a std::integral_constant) as a generic lambda.
#define LLMPRUNE_ROWS(T, CALL)                             \
  [&](auto R_, const T* const* p, int64_t m, float* out) { \
    constexpr int R = decltype(R_)::value;                 \
    CALL;                                                  \
  }

void f32_512(const WeightView& w, const Prepared& x, int64_t r0, int64_t r1, float* y) {
  for_rows<float>(w, x, r0, r1, w.cols, y,
                  LLMPRUNE_ROWS(float, (fma_rows_512<R>(p, x.f32 + m * w.cols, w.cols, out))));
}
void bf16_512(const WeightView& w, const Prepared& x, int64_t r0, int64_t r1, float* y) {
  for_rows<uint16_t>(
      w, x, r0, r1, w.cols, y,
      LLMPRUNE_ROWS(uint16_t, (fma_rows_512<R>(p, x.f32 + m * w.cols, w.cols, out))));
}
void bf16dot_512(const WeightView& w, const Prepared& x, int64_t r0, int64_t r1, float* y) {
  for_rows<uint16_t>(
      w, x, r0, r1, w.cols, y,
      LLMPRUNE_ROWS(uint16_t, (bf16dot_rows_512<R>(p, x.bf16 + m * w.cols, w.cols, out))));
}
void q8_512(const WeightView& w, const Prepared& x, int64_t r0, int64_t r1, float* y) {
  for_rows<uint8_t>(w, x, r0, r1, q8_row_bytes(w), y,
                    LLMPRUNE_ROWS(uint8_t, (q8_rows_512<R>(p, x, m, w.padded_cols, out))));
}
void f32_256(const WeightView& w, const Prepared& x, int64_t r0, int64_t r1, float* y) {
  for_rows<float>(w, x, r0, r1, w.cols, y,
                  LLMPRUNE_ROWS(float, (fma_rows_256<R>(p, x.f32 + m * w.cols, w.cols, out))));
}
void bf16_256(const WeightView& w, const Prepared& x, int64_t r0, int64_t r1, float* y) {
  for_rows<uint16_t>(
      w, x, r0, r1, w.cols, y,
      LLMPRUNE_ROWS(uint16_t, (fma_rows_256<R>(p, x.f32 + m * w.cols, w.cols, out))));
}
void q8_256(const WeightView& w, const Prepared& x, int64_t r0, int64_t r1, float* y) {
  for_rows<uint8_t>(w, x, r0, r1, q8_row_bytes(w), y,
                    LLMPRUNE_ROWS(uint8_t, (q8_rows_256<R>(p, x, m, w.padded_cols, out))));
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

QuantizeRow avx512_quantizer() { return quantize_512; }
QuantizeRow avx2_quantizer() { return quantize_256; }

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
QuantizeRow avx512_quantizer() { return nullptr; }
QuantizeRow avx2_quantizer() { return nullptr; }
}  // namespace llmprune::kernels::detail

#endif
