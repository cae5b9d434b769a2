// Internal to the prefill attention kernel: packed K/V layouts and the AVX-512 BF16 pieces
// (prefill_attention_x86.cpp) the driver (prefill_attention.cpp) strings together.
#pragma once

#include <cstdint>

namespace llmprune::kernels::detail {

// Packed layouts, per (batch, kv head), for S keys padded with zeros to Spad = S rounded up
// to 16; a "pair" is one 32-bit word holding two bf16 (the first in the low half).
// K: [Spad / 16 key blocks][hdp / 2 dim pairs][16 keys] pairs (hdp = hd rounded up to 2), so
//    one 512-bit load holds a dim pair of 16 keys for vdpbf16ps against a broadcast q pair.
// V: [Spad / 2 key pairs][hdv dims] pairs (hdv = hd rounded up to 16): two keys' values of a
//    dim, so one load holds 16 dims for vdpbf16ps against a broadcast pair of probabilities.
struct PackDims {
  int64_t S = 0, Spad = 0, hd = 0, hdp = 0, hdv = 0;
  explicit PackDims(int64_t s, int64_t h)
      : S(s), Spad((s + 15) / 16 * 16), hd(h), hdp((h + 1) / 2 * 2), hdv((h + 15) / 16 * 16) {}
  int64_t k_words() const { return Spad * hdp / 2; }
  int64_t v_words() const { return Spad / 2 * hdv; }
};

// rows [S, hd] with row stride `stride` (elements) -> the packed forms above.
void pack_k_512(const uint16_t* k, int64_t stride, const PackDims& d, uint32_t* out);
void pack_v_512(const uint16_t* v, int64_t stride, const PackDims& d, uint32_t* out);

// Up to kMaxRows query rows that share one packed K/V (one kv head): row r has its scaled
// query at q + r * hdp / 2 (bf16 pairs, zero-padded to hdp), sees keys [lo[r], hi[r]) and
// writes hd bf16 outputs to out[r]. Scratch: s (kMaxRows x Spad f32), p (kMaxRows x Spad / 2
// pairs of bf16 probabilities).
constexpr int kMaxRows = 8;
struct RowGroup {
  int n = 0;
  const uint32_t* q = nullptr;
  int64_t lo[kMaxRows] = {}, hi[kMaxRows] = {};
  uint16_t* out[kMaxRows] = {};
};
void attend_rows_512(const RowGroup& g, const uint32_t* kp, const uint32_t* vp, const PackDims& d,
                     float* s, uint32_t* p);

// dst (hdp / 2 pairs) = bf16(q[i] * scale) for i < hd, zero above.
void scale_q_512(const uint16_t* q, float scale, const PackDims& d, uint32_t* dst);

}  // namespace llmprune::kernels::detail
