// AVX-512 BF16 pieces of the prefill attention kernel (see prefill_attention_internal.h):
// K/V packing, the q.k and p.v micro-kernels (vdpbf16ps, f32 accumulators) and the softmax.
#include <algorithm>
#include <cmath>

#include "kernels/prefill_attention_internal.h"
#include "kernels/vec_math.h"
#include "util/error.h"

#if defined(__x86_64__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#endif

namespace llmprune::kernels::detail {

#if defined(__x86_64__)
#define LLMPRUNE_BF16 __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16,fma")))

namespace {

using detail::lanes16;

LLMPRUNE_BF16 inline __m512bh as_bh(__m512i x) { return reinterpret_cast<__m512bh&>(x); }
// 16 bf16 to dst's lanes in m (masked stores are slow on some CPUs: plain when all 16).
LLMPRUNE_BF16 inline void store16(uint16_t* dst, __mmask16 m, __m256i x) {
  if (m == 0xFFFF)
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst), x);
  else
    _mm256_mask_storeu_epi16(dst, m, x);
}

// Scores of NR rows against NB consecutive key blocks: s[r * lds + j] = bf16(q_r.k_j) (as f32).
// q: NR rows of np pairs; kp: packed K from the first block.
template <int NR, int NB>
LLMPRUNE_BF16 void score_blocks(const uint32_t* q, int64_t np, const uint32_t* kp, float* s,
                                int64_t lds) {
  __m512 a[NB][NR];
  for (int b = 0; b < NB; ++b)
    for (int r = 0; r < NR; ++r) a[b][r] = _mm512_setzero_ps();
  for (int64_t i = 0; i < np; ++i) {
    __m512bh x[NB];
    for (int b = 0; b < NB; ++b) x[b] = as_bh(_mm512_loadu_si512(kp + (b * np + i) * 16));
    for (int r = 0; r < NR; ++r) {
      const __m512bh qb = as_bh(_mm512_set1_epi32(static_cast<int>(q[r * np + i])));
      for (int b = 0; b < NB; ++b) a[b][r] = _mm512_dpbf16_ps(a[b][r], qb, x[b]);
    }
  }
  for (int b = 0; b < NB; ++b)
    for (int r = 0; r < NR; ++r)
      _mm512_storeu_ps(s + r * lds + b * 16, _mm512_castsi512_ps(round_bf16_hi(a[b][r])));
}

// ... against nblk blocks, kScoreBlocks at a time (3 measured no faster than 2 at T = 512).
constexpr int kScoreBlocks = 2;
template <int NR>
LLMPRUNE_BF16 void scores(const uint32_t* q, int64_t np, const uint32_t* kp, int64_t nblk, float* s,
                          int64_t lds) {
  int64_t b = 0;
  for (; b + kScoreBlocks <= nblk; b += kScoreBlocks)
    score_blocks<NR, kScoreBlocks>(q, np, kp + b * 16 * np, s + b * 16, lds);
  for (; b < nblk; ++b) score_blocks<NR, 1>(q, np, kp + b * 16 * np, s + b * 16, lds);
}

// One row's softmax over s[lo, hi) of n (a multiple of 16) scores; the others get probability
// 0. Writes n bf16 probabilities (n / 2 pairs) to p.
LLMPRUNE_BF16 void softmax_row(float* s, int64_t n, int64_t lo, int64_t hi, uint32_t* p) {
  const int64_t j0 = lo / 16 * 16, j1 = (hi + 15) / 16 * 16;  // the vectors meeting [lo, hi)
  auto in = [&](int64_t j) { return __mmask16(lanes16(hi - j) & ~lanes16(lo - j)); };
  __m512 m = _mm512_set1_ps(-INFINITY);
  for (int64_t j = j0; j < j1; j += 16) m = _mm512_mask_max_ps(m, in(j), m, _mm512_loadu_ps(s + j));
  const __m512 mx = _mm512_set1_ps(_mm512_reduce_max_ps(m));
  __m512 z = _mm512_setzero_ps();
  for (int64_t j = j0; j < j1; j += 16) {
    const __m512 e = _mm512_maskz_mov_ps(in(j), exp_512(_mm512_sub_ps(_mm512_loadu_ps(s + j), mx)));
    _mm512_storeu_ps(s + j, e);
    z = _mm512_add_ps(z, e);
  }
  // LibTorch's softmax multiplies by the reciprocal of the sum.
  const __m512 inv = _mm512_set1_ps(1.0f / _mm512_reduce_add_ps(z));
  for (int64_t j = 0; j < n; j += 16) {
    const __m256i pr = j < j0 || j >= j1 ? _mm256_setzero_si256()
                                         : to_bf16_512(_mm512_mul_ps(_mm512_loadu_ps(s + j), inv));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(p + j / 2), pr);
  }
}

// out_r[col0 + 16c + ...] = bf16(sum_i p_r[i] . v[i]) for NR rows and NC 16-dim chunks over
// npair key pairs (p: rows of pairs, ldp apart; vp: packed V at the first pair and chunk).
template <int NR, int NC>
LLMPRUNE_BF16 void pv(const uint32_t* p, int64_t ldp, const uint32_t* vp, int64_t hdv,
                      int64_t npair, uint16_t* const* out, int64_t col0, int64_t hd) {
  __m512 a[NR][NC];
  for (int r = 0; r < NR; ++r)
    for (int c = 0; c < NC; ++c) a[r][c] = _mm512_setzero_ps();
  for (int64_t i = 0; i < npair; ++i) {
    __m512bh x[NC];
    for (int c = 0; c < NC; ++c) x[c] = as_bh(_mm512_loadu_si512(vp + i * hdv + c * 16));
    for (int r = 0; r < NR; ++r) {
      const __m512bh pb = as_bh(_mm512_set1_epi32(static_cast<int>(p[r * ldp + i])));
      for (int c = 0; c < NC; ++c) a[r][c] = _mm512_dpbf16_ps(a[r][c], pb, x[c]);
    }
  }
  for (int r = 0; r < NR; ++r)
    for (int c = 0; c < NC; ++c) {
      const int64_t col = col0 + c * 16;
      store16(out[r] + col, lanes16(hd - col), to_bf16_512(a[r][c]));
    }
}

using PvFn = void (*)(const uint32_t*, int64_t, const uint32_t*, int64_t, int64_t, uint16_t* const*,
                      int64_t, int64_t);
constexpr PvFn kPv[4][4] = {{pv<1, 1>, pv<1, 2>, pv<1, 3>, pv<1, 4>},
                            {pv<2, 1>, pv<2, 2>, pv<2, 3>, pv<2, 4>},
                            {pv<3, 1>, pv<3, 2>, pv<3, 3>, pv<3, 4>},
                            {pv<4, 1>, pv<4, 2>, pv<4, 3>, pv<4, 4>}};
using ScoreFn = void (*)(const uint32_t*, int64_t, const uint32_t*, int64_t, float*, int64_t);
constexpr ScoreFn kScores[kMaxRows] = {scores<1>, scores<2>, scores<3>, scores<4>,
                                       scores<5>, scores<6>, scores<7>, scores<8>};

}  // namespace

LLMPRUNE_BF16 void pack_k_512(const uint16_t* k, int64_t stride, const PackDims& d, uint32_t* out) {
  const int64_t np = d.hdp / 2;
  const bool gather = d.hd % 2 == 0 && stride % 2 == 0 && 15 * stride < (int64_t{1} << 30);
  const __m512i idx =
      _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                         _mm512_set1_epi32(static_cast<int>(stride)));
  for (int64_t kb = 0; kb < d.Spad / 16; ++kb) {
    uint32_t* o = out + kb * 16 * np;
    const int64_t keys = std::min<int64_t>(16, d.S - kb * 16);
    const uint16_t* rows = k + kb * 16 * stride;
    if (gather) {  // pair i of 16 rows: 32-bit gathers at element offsets j * stride + 2i
      const __mmask16 m = lanes16(keys);
      for (int64_t i = 0; i < np; ++i)
        _mm512_storeu_si512(o + i * 16, _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), m, idx,
                                                                    rows + 2 * i, 2));
      continue;
    }
    for (int64_t j = 0; j < 16; ++j)
      for (int64_t i = 0; i < np; ++i) {
        const uint16_t* row = rows + j * stride;
        const uint32_t lo = j < keys ? row[2 * i] : 0;
        const uint32_t hi = j < keys && 2 * i + 1 < d.hd ? row[2 * i + 1] : 0;
        o[i * 16 + j] = lo | hi << 16;
      }
  }
}

LLMPRUNE_BF16 void pack_v_512(const uint16_t* v, int64_t stride, const PackDims& d, uint32_t* out) {
  for (int64_t jp = 0; jp < d.Spad / 2; ++jp) {
    const int64_t j = 2 * jp;
    const uint16_t* r0 = v + j * stride;
    const uint16_t* r1 = r0 + stride;
    for (int64_t c = 0; c < d.hdv; c += 16) {
      const __mmask16 m = lanes16(d.hd - c);
      const __m512i a = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(j < d.S ? m : 0, r0 + c));
      const __m512i b =
          _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(j + 1 < d.S ? m : 0, r1 + c));
      _mm512_storeu_si512(out + jp * d.hdv + c, _mm512_or_si512(a, _mm512_slli_epi32(b, 16)));
    }
  }
}

LLMPRUNE_BF16 void scale_q_512(const uint16_t* q, float scale, const PackDims& d, uint32_t* dst) {
  const __m512 sc = _mm512_set1_ps(scale);
  for (int64_t c = 0; c < d.hdp; c += 16) {
    const __m512 x = detail::load_bf16_512(q + c, lanes16(d.hd - c));
    store16(reinterpret_cast<uint16_t*>(dst) + c, lanes16(d.hdp - c),
            to_bf16_512(_mm512_mul_ps(x, sc)));
  }
}

void attend_rows_512(const RowGroup& g, const uint32_t* kp, const uint32_t* vp, const PackDims& d,
                     float* s, uint32_t* p) {
  const int64_t lo = *std::min_element(g.lo, g.lo + g.n);
  const int64_t hi = *std::max_element(g.hi, g.hi + g.n);
  const int64_t kb0 = lo / 16, nblk = (hi + 15) / 16 - kb0, base = kb0 * 16, n = nblk * 16;
  const int64_t np = d.hdp / 2, lds = d.Spad, ldp = d.Spad / 2;
  kScores[g.n - 1](g.q, np, kp + kb0 * 16 * np, nblk, s, lds);
  for (int r = 0; r < g.n; ++r)
    softmax_row(s + r * lds, n, g.lo[r] - base, g.hi[r] - base, p + r * ldp);
  // Key pairs covering [lo, hi) (base is even; probabilities outside a row's keys are 0).
  const int64_t i0 = (lo - base) / 2, i1 = (hi - base + 1) / 2;
  const uint32_t* v0 = vp + (base / 2 + i0) * d.hdv;
  const int64_t chunks = d.hdv / 16;
  for (int r0 = 0; r0 < g.n; r0 += 4) {
    const int nr = std::min(4, g.n - r0);
    for (int64_t c0 = 0; c0 < chunks; c0 += 4) {
      const int64_t nc = std::min<int64_t>(4, chunks - c0);
      kPv[nr - 1][nc - 1](p + r0 * ldp + i0, ldp, v0 + c0 * 16, d.hdv, i1 - i0, g.out + r0, c0 * 16,
                          d.hd);
    }
  }
}

#else  // not x86-64: prefill_attention_available() is false, nothing calls these

void pack_k_512(const uint16_t*, int64_t, const PackDims&, uint32_t*) {
  LLMPRUNE_ASSERT(false, "prefill attention needs x86-64");
}
void pack_v_512(const uint16_t*, int64_t, const PackDims&, uint32_t*) {
  LLMPRUNE_ASSERT(false, "prefill attention needs x86-64");
}
void scale_q_512(const uint16_t*, float, const PackDims&, uint32_t*) {
  LLMPRUNE_ASSERT(false, "prefill attention needs x86-64");
}
void attend_rows_512(const RowGroup&, const uint32_t*, const uint32_t*, const PackDims&, float*,
                     uint32_t*) {
  LLMPRUNE_ASSERT(false, "prefill attention needs x86-64");
}

#endif

}  // namespace llmprune::kernels::detail
