// Internal to the decode attention kernel: one (batch, kv head) item as the per-ISA pieces
// (decode_attention.cpp: scalar; decode_attention_x86.cpp: AVX-512, AVX2) receive it.
#pragma once

#include <cstdint>

namespace llmprune::kernels::detail {

// The g query heads of one kv head. q, out: g rows of hd (contiguous); k, v: `keys` rows
// from the first visible key, row strides ks, vs. Element type: float or uint16_t (bf16).
// Scratch (f32, the caller's): qs [g][ldq], s [g][lds], kbuf [16][ldq], acc [g][ldq] with
// ldq = hd rounded up to 16 and lds = keys rounded up to 16.
struct DecodeItem {
  const void* q = nullptr;
  const void* k = nullptr;
  const void* v = nullptr;
  void* out = nullptr;
  int64_t ks = 0, vs = 0, keys = 0, hd = 0, g = 0;
  float scale = 0;
  float* qs = nullptr;
  float* s = nullptr;
  float* kbuf = nullptr;
  float* acc = nullptr;
  int64_t ldq = 0, lds = 0;
};
using DecodeItemFn = void (*)(const DecodeItem&);

// nullptr when this build has no such kernel (the caller checks the CPU).
DecodeItemFn decode_item_avx512(bool bf16);  // AVX-512 F/BW/VL + FMA
DecodeItemFn decode_item_avx2(bool bf16);    // AVX2 + FMA

}  // namespace llmprune::kernels::detail
