// Grouped-query attention of one query per sequence (token-by-token decoding) over a KV cache
// read in place: one call for the whole [B, H] query block, the query heads sharing a kv head
// read each K and V row once together. f32 or bf16; rounds where the chunked path rounds.
#pragma once

#include <cstdint>

namespace llmprune::kernels {

// Query b, head h (at position S - 1) sees keys max(0, S - window)..S - 1 (window <= 0: all
// S) of kv head h / (H / KV). q, k, v and out all hold `bf16` ? raw bf16 bit patterns : f32.
struct DecodeAttentionArgs {
  bool bf16 = false;
  int64_t B = 0, H = 0, KV = 0, S = 0, hd = 0, window = 0;
  float scale = 0;          // q is multiplied by it in f32, then rounded (usually 1/sqrt(hd))
  const void* q = nullptr;  // [B, H, hd], contiguous
  // k, v: element (b, kv, j, d) at b * stride[0] + kv * stride[1] + j * stride[2] + d
  // (views into a [B, KV, max_len, hd] cache: the last dim contiguous).
  const void* k = nullptr;
  const void* v = nullptr;
  int64_t k_stride[3] = {0, 0, 0}, v_stride[3] = {0, 0, 0};
  void* out = nullptr;  // [B, H * hd], contiguous
};

// Per query head, with T the element type: qs = T(q x scale); s_j = T(qs . k_j) summed in f32;
// softmax in f32 (max subtracted, e^x, sum z); p_j = T(e_j / z); out = T(sum_j p_j v_j) summed
// in f32 (bf16: round to nearest even, as c10::BFloat16). Only the order of the f32 sums
// differs from a head-by-head loop, and e^x is a polynomial on the AVX paths (vec_math.h,
// within 2 ulp of std::exp). Dispatches on kernel_level() (gemv.h) once per call; splits
// (batch, kv head) items over LibTorch's intra-op threads when there is enough work.
void decode_attention(const DecodeAttentionArgs& a);

}  // namespace llmprune::kernels
