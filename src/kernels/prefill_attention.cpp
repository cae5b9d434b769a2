// Prefill attention driver (see prefill_attention.h): packs q, K and V of every (batch, kv head)
// once, then hands tiles of query rows sharing a kv head to the AVX-512 BF16 pieces.
#include "kernels/prefill_attention.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <memory>

#include "kernels/cpu_features.h"
#include "kernels/gemv.h"
#include "kernels/prefill_attention_internal.h"
#include "util/error.h"

namespace llmprune::kernels {

bool prefill_attention_available() {
#if defined(__x86_64__)
  const CpuFeatures& f = cpu_features();
  return f.avx512() && f.avx512bf16 && kernel_limit() == KernelLevel::kAvx512;
#else
  return false;
#endif
}

void prefill_attention_bf16(const PrefillAttentionArgs& a) {
  LLMPRUNE_ASSERT(prefill_attention_available(), "prefill attention: no AVX-512 BF16 here");
  LLMPRUNE_ASSERT(
      a.B > 0 && a.KV > 0 && a.H % a.KV == 0 && a.T > 0 && a.past >= 0 && a.hd > 0 && a.scale > 0,
      "prefill attention shapes B ", a.B, " H ", a.H, " KV ", a.KV, " T ", a.T, " past ", a.past,
      " hd ", a.hd, " scale ", a.scale);
  const int64_t B = a.B, H = a.H, KV = a.KV, T = a.T, hd = a.hd, g = H / KV;
  const detail::PackDims d(a.past + T, hd);
  const int64_t kw = d.k_words(), vw = d.v_words(), qw = T * g * d.hdp / 2;
  std::unique_ptr<uint32_t[]> kpack(new uint32_t[static_cast<size_t>(B * KV * kw)]);
  std::unique_ptr<uint32_t[]> vpack(new uint32_t[static_cast<size_t>(B * KV * vw)]);
  // q x scale, rows of a (batch, kv head) ordered query-major then head ([T][g][hdp / 2]
  // pairs): the rows a tile needs lie together (read from q head by head, in order).
  std::unique_ptr<uint32_t[]> qpack(new uint32_t[static_cast<size_t>(B * KV * qw)]);
  at::parallel_for(0, B * KV, 1, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      const int64_t b = i / KV, kv = i % KV;
      detail::pack_k_512(a.k + b * a.k_stride[0] + kv * a.k_stride[1], a.k_stride[2], d,
                         kpack.get() + i * kw);
      detail::pack_v_512(a.v + b * a.v_stride[0] + kv * a.v_stride[1], a.v_stride[2], d,
                         vpack.get() + i * vw);
      for (int64_t hh = 0; hh < g; ++hh)
        for (int64_t t = 0; t < T; ++t)
          detail::scale_q_512(a.q + ((b * H + kv * g + hh) * T + t) * hd, a.scale, d,
                              qpack.get() + i * qw + (t * g + hh) * d.hdp / 2);
    }
  });

  // Work items: (batch, kv head, tile of tq queries), a tile's rows (query-major, then the g
  // heads of the kv head) in groups of up to kMaxRows. at::parallel_for gives each thread a
  // contiguous range of items, so tiles are ordered first, last, second, second-to-last, ...
  // within a kv head: any range then holds early (short) and late (long) rows alike.
  const int64_t tq = std::max<int64_t>(1, detail::kMaxRows / g);
  const int64_t nt = (T + tq - 1) / tq;
  at::parallel_for(0, B * KV * nt, 1, [&](int64_t i0, int64_t i1) {
    const int64_t rows = detail::kMaxRows;
    std::unique_ptr<float[]> s(new float[static_cast<size_t>(rows * d.Spad)]);
    std::unique_ptr<uint32_t[]> p(new uint32_t[static_cast<size_t>(rows * d.Spad / 2)]);
    for (int64_t i = i0; i < i1; ++i) {
      const int64_t bk = i / nt, j = i % nt, b = bk / KV, kv = bk % KV;
      const int64_t tile = j % 2 == 0 ? j / 2 : nt - 1 - j / 2;
      const int64_t t0 = tile * tq, n_rows = std::min(tq, T - t0) * g;
      for (int64_t r0 = 0; r0 < n_rows; r0 += rows) {
        detail::RowGroup grp;
        grp.n = static_cast<int>(std::min(rows, n_rows - r0));
        grp.q = qpack.get() + bk * qw + (t0 * g + r0) * d.hdp / 2;
        for (int r = 0; r < grp.n; ++r) {
          const int64_t t = t0 + (r0 + r) / g, h = kv * g + (r0 + r) % g, pos = a.past + t;
          grp.lo[r] = a.window > 0 ? std::max<int64_t>(0, pos - a.window + 1) : 0;
          grp.hi[r] = pos + 1;
          grp.out[r] = a.out + ((b * T + t) * H + h) * hd;
        }
        detail::attend_rows_512(grp, kpack.get() + bk * kw, vpack.get() + bk * vw, d, s.get(),
                                p.get());
      }
    }
  });
}

}  // namespace llmprune::kernels
