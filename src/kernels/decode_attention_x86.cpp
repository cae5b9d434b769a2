// AVX-512 and AVX2 pieces of the decode attention kernel (see decode_attention_internal.h):
// scores of a block of keys against every query head of the group (K rows widened once),
// softmax with the vector e^x, and p.v with the heads' outputs held in registers.
#include <algorithm>
#include <cmath>

#include "kernels/decode_attention_internal.h"
#include "kernels/vec_math.h"

namespace llmprune::kernels::detail {

#if defined(__x86_64__)

namespace {

// ---- AVX-512: 16 lanes, row tails masked ------------------------------------------------

// x rounded to the element type (as the f32 it stands for).
LLMPRUNE_AVX512_MATH inline __m512 round16(__m512 x, const float*) { return x; }
LLMPRUNE_AVX512_MATH inline __m512 round16(__m512 x, const uint16_t*) {
  return _mm512_castsi512_ps(round_bf16_hi(x));
}
LLMPRUNE_AVX512_MATH inline void st16(float* p, __mmask16 m, __m512 x) {
  _mm512_mask_storeu_ps(p, m, x);
}
LLMPRUNE_AVX512_MATH inline void st16(uint16_t* p, __mmask16 m, __m512 x) {
  _mm256_mask_storeu_epi16(p, m, to_bf16_512(x));
}

// Lane i = the sum of a[i]'s lanes: fold halves pairwise (4 levels, 15 adds), which leaves
// the sum of a[k + 4m] in lane 4k + m; one permute puts it in order.
LLMPRUNE_AVX512_MATH inline __m512 sum16(const __m512* a) {
  __m512 b[8], c[4], d[2];
  for (int i = 0; i < 8; ++i)
    b[i] = _mm512_add_ps(_mm512_shuffle_f32x4(a[2 * i], a[2 * i + 1], _MM_SHUFFLE(1, 0, 1, 0)),
                         _mm512_shuffle_f32x4(a[2 * i], a[2 * i + 1], _MM_SHUFFLE(3, 2, 3, 2)));
  for (int i = 0; i < 4; ++i)
    c[i] = _mm512_add_ps(_mm512_shuffle_f32x4(b[2 * i], b[2 * i + 1], _MM_SHUFFLE(2, 0, 2, 0)),
                         _mm512_shuffle_f32x4(b[2 * i], b[2 * i + 1], _MM_SHUFFLE(3, 1, 3, 1)));
  for (int i = 0; i < 2; ++i)
    d[i] = _mm512_add_ps(_mm512_shuffle_ps(c[2 * i], c[2 * i + 1], _MM_SHUFFLE(1, 0, 1, 0)),
                         _mm512_shuffle_ps(c[2 * i], c[2 * i + 1], _MM_SHUFFLE(3, 2, 3, 2)));
  const __m512 e = _mm512_add_ps(_mm512_shuffle_ps(d[0], d[1], _MM_SHUFFLE(2, 0, 2, 0)),
                                 _mm512_shuffle_ps(d[0], d[1], _MM_SHUFFLE(3, 1, 3, 1)));
  const __m512i idx = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
  return _mm512_permutexvar_ps(idx, e);
}

// out[r][col0 + 16c + ...] = T(sum_j p[r][j] v_j) for NR heads and NC 16-dim chunks.
template <int NR, int NC, typename E>
LLMPRUNE_AVX512_MATH void pv_512(const float* p, int64_t lds, const E* v, int64_t vs, int64_t keys,
                                 int64_t col0, int64_t hd, E* out) {
  __m512 a[NR][NC];
  __mmask16 m[NC];
  for (int c = 0; c < NC; ++c) m[c] = lanes16(hd - col0 - 16 * c);
  for (int r = 0; r < NR; ++r)
    for (int c = 0; c < NC; ++c) a[r][c] = _mm512_setzero_ps();
  for (int64_t j = 0; j < keys; ++j) {
    __m512 x[NC];
    for (int c = 0; c < NC; ++c) x[c] = load_f32_512(v + j * vs + col0 + 16 * c, m[c]);
    for (int r = 0; r < NR; ++r) {
      const __m512 pb = _mm512_set1_ps(p[r * lds + j]);
      for (int c = 0; c < NC; ++c) a[r][c] = _mm512_fmadd_ps(pb, x[c], a[r][c]);
    }
  }
  for (int r = 0; r < NR; ++r)
    for (int c = 0; c < NC; ++c) st16(out + r * hd + col0 + 16 * c, m[c], a[r][c]);
}

template <typename E>
using Pv512 = void (*)(const float*, int64_t, const E*, int64_t, int64_t, int64_t, int64_t, E*);
// [heads - 1][chunks - 1]: up to 8 heads x 2 chunks or 4 heads x 4 chunks (16 accumulators).
template <typename E>
constexpr Pv512<E> kPv512[8][4] = {
    {pv_512<1, 1, E>, pv_512<1, 2, E>, pv_512<1, 3, E>, pv_512<1, 4, E>},
    {pv_512<2, 1, E>, pv_512<2, 2, E>, pv_512<2, 3, E>, pv_512<2, 4, E>},
    {pv_512<3, 1, E>, pv_512<3, 2, E>, pv_512<3, 3, E>, pv_512<3, 4, E>},
    {pv_512<4, 1, E>, pv_512<4, 2, E>, pv_512<4, 3, E>, pv_512<4, 4, E>},
    {pv_512<5, 1, E>, pv_512<5, 2, E>, nullptr, nullptr},
    {pv_512<6, 1, E>, pv_512<6, 2, E>, nullptr, nullptr},
    {pv_512<7, 1, E>, pv_512<7, 2, E>, nullptr, nullptr},
    {pv_512<8, 1, E>, pv_512<8, 2, E>, nullptr, nullptr}};

template <typename E>
LLMPRUNE_AVX512_MATH void item_512(const DecodeItem& it) {
  const E* q = static_cast<const E*>(it.q);
  const E* K = static_cast<const E*>(it.k);
  const E* V = static_cast<const E*>(it.v);
  E* out = static_cast<E*>(it.out);
  const int64_t g = it.g, hd = it.hd, keys = it.keys, ldq = it.ldq, lds = it.lds;
  const __m512 sc = _mm512_set1_ps(it.scale);
  for (int64_t h = 0; h < g; ++h)
    for (int64_t c = 0; c < ldq; c += 16)
      _mm512_storeu_ps(
          it.qs + h * ldq + c,
          round16(_mm512_mul_ps(load_f32_512(q + h * hd + c, lanes16(hd - c)), sc), q));
  // Scores, 16 keys at a time: their rows widened once (zero-padded), then per head 16 dot
  // products reduced together.
  for (int64_t j0 = 0; j0 < keys; j0 += 16) {
    const int64_t nk = std::min<int64_t>(16, keys - j0);
    for (int64_t r = 0; r < 16; ++r)
      for (int64_t c = 0; c < ldq; c += 16)
        _mm512_storeu_ps(
            it.kbuf + r * ldq + c,
            r < nk ? load_f32_512(K + (j0 + r) * it.ks + c, lanes16(hd - c)) : _mm512_setzero_ps());
    for (int64_t h = 0; h < g; ++h) {
      const float* qh = it.qs + h * ldq;
      __m512 a[16];
      for (int r = 0; r < 16; ++r) a[r] = _mm512_setzero_ps();
      for (int64_t c = 0; c < ldq; c += 16) {
        const __m512 qv = _mm512_loadu_ps(qh + c);
#pragma GCC unroll 16
        for (int r = 0; r < 16; ++r)
          a[r] = _mm512_fmadd_ps(qv, _mm512_loadu_ps(it.kbuf + r * ldq + c), a[r]);
      }
      _mm512_storeu_ps(it.s + h * lds + j0, round16(sum16(a), q));
    }
  }
  // Softmax per head; the probabilities replace the scores (0 past `keys`).
  for (int64_t h = 0; h < g; ++h) {
    float* s = it.s + h * lds;
    __m512 m = _mm512_set1_ps(-INFINITY);
    for (int64_t j = 0; j < keys; j += 16)
      m = _mm512_mask_max_ps(m, lanes16(keys - j), m, _mm512_loadu_ps(s + j));
    const __m512 mx = _mm512_set1_ps(_mm512_reduce_max_ps(m));
    __m512 z = _mm512_setzero_ps();
    for (int64_t j = 0; j < keys; j += 16) {
      const __m512 e = _mm512_maskz_mov_ps(lanes16(keys - j),
                                           exp_512(_mm512_sub_ps(_mm512_loadu_ps(s + j), mx)));
      _mm512_storeu_ps(s + j, e);
      z = _mm512_add_ps(z, e);
    }
    const __m512 zv = _mm512_set1_ps(_mm512_reduce_add_ps(z));
    for (int64_t j = 0; j < keys; j += 16)
      _mm512_storeu_ps(s + j, round16(_mm512_div_ps(_mm512_loadu_ps(s + j), zv), q));
  }
  const int64_t chunks = ldq / 16;
  for (int64_t h0 = 0; h0 < g; h0 += 8) {
    const int64_t nr = std::min<int64_t>(8, g - h0), cmax = nr <= 4 ? 4 : 2;
    for (int64_t c0 = 0; c0 < chunks; c0 += cmax) {
      const int64_t nc = std::min(cmax, chunks - c0);
      kPv512<E>[nr - 1][nc - 1](it.s + h0 * lds, lds, V, it.vs, keys, c0 * 16, hd, out + h0 * hd);
    }
  }
}

// ---- AVX2: 8 lanes, row tails scalar ----------------------------------------------------

inline float widen1(float x) { return x; }
inline float widen1(uint16_t x) {
  const uint32_t b = static_cast<uint32_t>(x) << 16;
  float f;
  __builtin_memcpy(&f, &b, 4);
  return f;
}
LLMPRUNE_AVX2_MATH inline __m256 ld8(const float* p) { return _mm256_loadu_ps(p); }
LLMPRUNE_AVX2_MATH inline __m256 ld8(const uint16_t* p) {
  const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}
// As round_bf16_hi (vec_math.h), 8 lanes.
LLMPRUNE_AVX2_MATH inline __m256i round_bf16_hi_256(__m256 x) {
  const __m256i u = _mm256_castps_si256(x);
  const __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(1));
  __m256i r = _mm256_add_epi32(u, _mm256_add_epi32(lsb, _mm256_set1_epi32(0x7FFF)));
  r = _mm256_and_si256(r, _mm256_set1_epi32(static_cast<int>(0xFFFF0000u)));
  const __m256i nan = _mm256_castps_si256(_mm256_cmp_ps(x, x, _CMP_UNORD_Q));
  return _mm256_blendv_epi8(r, _mm256_set1_epi32(0x7FC00000), nan);
}
LLMPRUNE_AVX2_MATH inline __m256 round8(__m256 x, const float*) { return x; }
LLMPRUNE_AVX2_MATH inline __m256 round8(__m256 x, const uint16_t*) {
  return _mm256_castsi256_ps(round_bf16_hi_256(x));
}
LLMPRUNE_AVX2_MATH inline float round1(float x, const float*) { return x; }
LLMPRUNE_AVX2_MATH inline float round1(float x, const uint16_t*) {
  return _mm256_cvtss_f32(round8(_mm256_set1_ps(x), static_cast<const uint16_t*>(nullptr)));
}
LLMPRUNE_AVX2_MATH inline void st8(float* p, __m256 x) { _mm256_storeu_ps(p, x); }
LLMPRUNE_AVX2_MATH inline void st8(uint16_t* p, __m256 x) {
  const __m256i h = _mm256_srli_epi32(round_bf16_hi_256(x), 16);
  _mm_storeu_si128(reinterpret_cast<__m128i*>(p),
                   _mm_packus_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1)));
}
LLMPRUNE_AVX2_MATH inline void st1(float* p, float x) { *p = x; }
LLMPRUNE_AVX2_MATH inline void st1(uint16_t* p, float x) {
  *p = static_cast<uint16_t>(_mm256_extract_epi32(round_bf16_hi_256(_mm256_set1_ps(x)), 0) >> 16);
}

// dst[0, ldq) = widened src[0, n) x mul (rounded when `round`), zeros after.
template <typename E>
LLMPRUNE_AVX2_MATH void widen_row_256(const E* src, int64_t n, int64_t ldq, float mul, bool round,
                                      float* dst) {
  const __m256 m = _mm256_set1_ps(mul);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 x = _mm256_mul_ps(ld8(src + i), m);
    _mm256_storeu_ps(dst + i, round ? round8(x, src) : x);
  }
  for (; i < n; ++i) dst[i] = round ? round1(widen1(src[i]) * mul, src) : widen1(src[i]) * mul;
  for (; i < ldq; ++i) dst[i] = 0;
}

// All-ones in the first n of 8 lanes.
LLMPRUNE_AVX2_MATH inline __m256 valid8(int64_t n) {
  const __m256i iota = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_castsi256_ps(
      _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(std::min<int64_t>(n, 8))), iota));
}

// Lane i = the sum of a[i]'s lanes.
LLMPRUNE_AVX2_MATH inline __m256 sum8(const __m256* a) {
  const __m256 t0 = _mm256_hadd_ps(a[0], a[1]), t1 = _mm256_hadd_ps(a[2], a[3]);
  const __m256 t2 = _mm256_hadd_ps(a[4], a[5]), t3 = _mm256_hadd_ps(a[6], a[7]);
  const __m256 u0 = _mm256_hadd_ps(t0, t1), u1 = _mm256_hadd_ps(t2, t3);
  return _mm256_add_ps(_mm256_permute2f128_ps(u0, u1, 0x20), _mm256_permute2f128_ps(u0, u1, 0x31));
}

// As pv_512 over whole 8-dim chunks (col0 + 8 NC <= hd).
template <int NR, int NC, typename E>
LLMPRUNE_AVX2_MATH void pv_256(const float* p, int64_t lds, const E* v, int64_t vs, int64_t keys,
                               int64_t col0, int64_t hd, E* out) {
  __m256 a[NR][NC];
  for (int r = 0; r < NR; ++r)
    for (int c = 0; c < NC; ++c) a[r][c] = _mm256_setzero_ps();
  for (int64_t j = 0; j < keys; ++j) {
    __m256 x[NC];
    for (int c = 0; c < NC; ++c) x[c] = ld8(v + j * vs + col0 + 8 * c);
    for (int r = 0; r < NR; ++r) {
      const __m256 pb = _mm256_broadcast_ss(p + r * lds + j);
      for (int c = 0; c < NC; ++c) a[r][c] = _mm256_fmadd_ps(pb, x[c], a[r][c]);
    }
  }
  for (int r = 0; r < NR; ++r)
    for (int c = 0; c < NC; ++c) st8(out + r * hd + col0 + 8 * c, a[r][c]);
}

template <typename E>
using Pv256 = void (*)(const float*, int64_t, const E*, int64_t, int64_t, int64_t, int64_t, E*);
// [heads - 1][chunks - 1]: up to 4 heads x 3 chunks (12 accumulators).
template <typename E>
constexpr Pv256<E> kPv256[4][3] = {{pv_256<1, 1, E>, pv_256<1, 2, E>, pv_256<1, 3, E>},
                                   {pv_256<2, 1, E>, pv_256<2, 2, E>, pv_256<2, 3, E>},
                                   {pv_256<3, 1, E>, pv_256<3, 2, E>, pv_256<3, 3, E>},
                                   {pv_256<4, 1, E>, pv_256<4, 2, E>, pv_256<4, 3, E>}};

template <typename E>
LLMPRUNE_AVX2_MATH void item_256(const DecodeItem& it) {
  const E* q = static_cast<const E*>(it.q);
  const E* K = static_cast<const E*>(it.k);
  const E* V = static_cast<const E*>(it.v);
  E* out = static_cast<E*>(it.out);
  const int64_t g = it.g, hd = it.hd, keys = it.keys, ldq = it.ldq, lds = it.lds;
  for (int64_t h = 0; h < g; ++h)
    widen_row_256(q + h * hd, hd, ldq, it.scale, true, it.qs + h * ldq);
  for (int64_t j0 = 0; j0 < keys; j0 += 8) {
    const int64_t nk = std::min<int64_t>(8, keys - j0);
    for (int64_t r = 0; r < 8; ++r)
      widen_row_256(K + (j0 + r) * it.ks, r < nk ? hd : 0, ldq, 1.0f, false, it.kbuf + r * ldq);
    for (int64_t h = 0; h < g; ++h) {
      const float* qh = it.qs + h * ldq;
      __m256 a[8];
      for (int r = 0; r < 8; ++r) a[r] = _mm256_setzero_ps();
      for (int64_t c = 0; c < ldq; c += 8) {
        const __m256 qv = _mm256_loadu_ps(qh + c);
#pragma GCC unroll 8
        for (int r = 0; r < 8; ++r)
          a[r] = _mm256_fmadd_ps(qv, _mm256_loadu_ps(it.kbuf + r * ldq + c), a[r]);
      }
      _mm256_storeu_ps(it.s + h * lds + j0, round8(sum8(a), q));
    }
  }
  for (int64_t h = 0; h < g; ++h) {
    float* s = it.s + h * lds;
    __m256 m = _mm256_set1_ps(-INFINITY);
    for (int64_t j = 0; j < keys; j += 8)
      m = _mm256_blendv_ps(m, _mm256_max_ps(m, _mm256_loadu_ps(s + j)), valid8(keys - j));
    float mx = -INFINITY;
    alignas(32) float tmp[8];
    _mm256_store_ps(tmp, m);
    for (float x : tmp) mx = std::max(mx, x);
    __m256 z = _mm256_setzero_ps();
    for (int64_t j = 0; j < keys; j += 8) {
      const __m256 e = _mm256_and_ps(
          valid8(keys - j), exp_256(_mm256_sub_ps(_mm256_loadu_ps(s + j), _mm256_set1_ps(mx))));
      _mm256_storeu_ps(s + j, e);
      z = _mm256_add_ps(z, e);
    }
    _mm256_store_ps(tmp, z);
    float zs = 0;
    for (float x : tmp) zs += x;
    const __m256 zv = _mm256_set1_ps(zs);
    for (int64_t j = 0; j < keys; j += 8)
      _mm256_storeu_ps(s + j, round8(_mm256_div_ps(_mm256_loadu_ps(s + j), zv), q));
  }
  const int64_t chunks = hd / 8;
  for (int64_t h0 = 0; h0 < g; h0 += 4) {
    const int64_t nr = std::min<int64_t>(4, g - h0);
    for (int64_t c0 = 0; c0 < chunks; c0 += 3) {
      const int64_t nc = std::min<int64_t>(3, chunks - c0);
      kPv256<E>[nr - 1][nc - 1](it.s + h0 * lds, lds, V, it.vs, keys, c0 * 8, hd, out + h0 * hd);
    }
  }
  for (int64_t h = 0; h < g; ++h)  // the last hd % 8 dims
    for (int64_t d = chunks * 8; d < hd; ++d) {
      float acc = 0;
      for (int64_t j = 0; j < keys; ++j) acc += it.s[h * lds + j] * widen1(V[j * it.vs + d]);
      st1(out + h * hd + d, acc);
    }
}

}  // namespace

DecodeItemFn decode_item_avx512(bool bf16) { return bf16 ? item_512<uint16_t> : item_512<float>; }
DecodeItemFn decode_item_avx2(bool bf16) { return bf16 ? item_256<uint16_t> : item_256<float>; }

#else  // not x86-64

DecodeItemFn decode_item_avx512(bool) { return nullptr; }
DecodeItemFn decode_item_avx2(bool) { return nullptr; }

#endif

}  // namespace llmprune::kernels::detail
