// Decode attention driver (see decode_attention.h): picks the kernel for this CPU once, splits
// the (batch, kv head) items over threads when worth it, and holds the scalar fallback.
#include "kernels/decode_attention.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/decode_attention_internal.h"
#include "kernels/gemv.h"
#include "kernels/gemv_internal.h"
#include "util/error.h"

namespace llmprune::kernels {

namespace {

inline float widen(float x) { return x; }
inline float widen(uint16_t x) { return detail::bf16_to_f32(x); }
// f32 -> the element type, returned as the f32 it stands for / as stored.
inline float round_to(float x, const float*) { return x; }
inline float round_to(float x, const uint16_t*) { return detail::bf16_to_f32(detail::to_bf16(x)); }
inline void put(float x, float* dst) { *dst = x; }
inline void put(float x, uint16_t* dst) { *dst = detail::to_bf16(x); }

// The reference order: as the old per-head loop, but each K / V row read once for all heads.
template <typename E>
void item_scalar(const detail::DecodeItem& it) {
  const E* q = static_cast<const E*>(it.q);
  const E* K = static_cast<const E*>(it.k);
  const E* V = static_cast<const E*>(it.v);
  E* out = static_cast<E*>(it.out);
  const int64_t g = it.g, hd = it.hd, keys = it.keys;
  for (int64_t h = 0; h < g; ++h)
    for (int64_t d = 0; d < hd; ++d)
      it.qs[h * it.ldq + d] = round_to(widen(q[h * hd + d]) * it.scale, q);
  for (int64_t j = 0; j < keys; ++j)
    for (int64_t h = 0; h < g; ++h) {
      float acc = 0;
      for (int64_t d = 0; d < hd; ++d) acc += it.qs[h * it.ldq + d] * widen(K[j * it.ks + d]);
      it.s[h * it.lds + j] = round_to(acc, q);
    }
  for (int64_t h = 0; h < g; ++h) {
    float* s = it.s + h * it.lds;
    const float mx = *std::max_element(s, s + keys);
    float z = 0;
    for (int64_t j = 0; j < keys; ++j) z += (s[j] = std::exp(s[j] - mx));
    for (int64_t j = 0; j < keys; ++j) s[j] = round_to(s[j] / z, q);
    std::fill(it.acc + h * it.ldq, it.acc + h * it.ldq + hd, 0.0f);
  }
  for (int64_t j = 0; j < keys; ++j)
    for (int64_t h = 0; h < g; ++h) {
      const float p = it.s[h * it.lds + j];
      float* acc = it.acc + h * it.ldq;
      for (int64_t d = 0; d < hd; ++d) acc[d] += p * widen(V[j * it.vs + d]);
    }
  for (int64_t h = 0; h < g; ++h)
    for (int64_t d = 0; d < hd; ++d) put(it.acc[h * it.ldq + d], out + h * hd + d);
}

detail::DecodeItemFn pick(bool bf16) {
  detail::DecodeItemFn fn = nullptr;
  switch (kernel_level()) {
    case KernelLevel::kAvx512:
      fn = detail::decode_item_avx512(bf16);
      break;
    case KernelLevel::kAvx2:
      fn = detail::decode_item_avx2(bf16);
      break;
    case KernelLevel::kScalar:
      break;
  }
  if (fn) return fn;
  return bf16 ? item_scalar<uint16_t> : item_scalar<float>;
}

// Per-thread scratch, grown as needed and kept: no allocation per token once warm.
struct Scratch {
  std::vector<float> buf;
  float* get(size_t n) {
    if (buf.size() < n) buf.resize(n);
    return buf.data();
  }
};
thread_local Scratch t_scratch;

// Multiply-adds (of q.k; p.v as many again) a thread's share needs before the items are split
// over threads. Not tuned finely: on a 2-core EPYC at TinyLlama's shape, 64 keys (4 items of
// 2^15, so split in two) took ~7.4 us on 2 threads against ~10.9 us inline (docs/decoding.md);
// with fewer keys the call runs inline.
constexpr int64_t kMinParallelWork = int64_t{1} << 16;

}  // namespace

void decode_attention(const DecodeAttentionArgs& a) {
  LLMPRUNE_ASSERT(a.B > 0 && a.KV > 0 && a.H > 0 && a.H % a.KV == 0 && a.S > 0 && a.hd > 0 && a.q &&
                      a.k && a.v && a.out,
                  "decode attention shapes B ", a.B, " H ", a.H, " KV ", a.KV, " S ", a.S, " hd ",
                  a.hd);
  const int64_t g = a.H / a.KV, hd = a.hd;
  const int64_t first = a.window > 0 ? std::max<int64_t>(0, a.S - a.window) : 0;
  const int64_t keys = a.S - first;
  const int64_t ldq = (hd + 15) / 16 * 16, lds = (keys + 15) / 16 * 16;
  const size_t es = a.bf16 ? 2 : 4;
  const detail::DecodeItemFn fn = pick(a.bf16);
  const auto* Q = static_cast<const char*>(a.q);
  const auto* K = static_cast<const char*>(a.k);
  const auto* V = static_cast<const char*>(a.v);
  auto* O = static_cast<char*>(a.out);
  auto run = [&](int64_t i0, int64_t i1) {
    const size_t nq = static_cast<size_t>(g * ldq), ns = static_cast<size_t>(g * lds);
    float* buf = t_scratch.get(2 * nq + ns + 16 * static_cast<size_t>(ldq));
    detail::DecodeItem it;
    it.ks = a.k_stride[2];
    it.vs = a.v_stride[2];
    it.keys = keys;
    it.hd = hd;
    it.g = g;
    it.scale = a.scale;
    it.ldq = ldq;
    it.lds = lds;
    it.qs = buf;
    it.acc = buf + nq;
    it.kbuf = buf + 2 * nq;
    it.s = buf + 2 * nq + 16 * ldq;
    for (int64_t i = i0; i < i1; ++i) {
      const int64_t b = i / a.KV, kv = i % a.KV;
      const int64_t qo = (b * a.H + kv * g) * hd;
      it.q = Q + qo * es;
      it.out = O + qo * es;
      it.k = K + (b * a.k_stride[0] + kv * a.k_stride[1] + first * a.k_stride[2]) * es;
      it.v = V + (b * a.v_stride[0] + kv * a.v_stride[1] + first * a.v_stride[2]) * es;
      fn(it);
    }
  };
  const int64_t items = a.B * a.KV, work = g * keys * hd;
  const int64_t grain = std::max<int64_t>(1, (kMinParallelWork + work - 1) / work);
  if (items < 2 * grain || at::get_num_threads() < 2 || at::in_parallel_region())
    run(0, items);
  else
    at::parallel_for(0, items, grain, run);
}

}  // namespace llmprune::kernels
