// Causal (optionally sliding-window) grouped-query attention of several bf16 queries over a
// bf16 KV cache in one fused CPU kernel (AVX-512 BF16), for prefill; rounds where the
// chunked LibTorch path (model/attention.cpp) rounds, so only f32 summation order differs.
#pragma once

#include <cstdint>

namespace llmprune::kernels {

// Queries at absolute positions past..past+T-1 over keys 0..S-1 (S = past + T); query p sees
// key j iff j <= p and (window <= 0 or p - j < window). Query head h uses kv head h / (H / KV).
// All tensors are raw bf16 bit patterns.
struct PrefillAttentionArgs {
  int64_t B = 0, H = 0, KV = 0, T = 0, past = 0, hd = 0, window = 0;
  float scale = 0;              // q is multiplied by it in f32, then rounded (usually ~1/sqrt(hd))
  const uint16_t* q = nullptr;  // [B, H, T, hd], contiguous
  // k, v: element (b, kv, j, d) at b * stride[0] + kv * stride[1] + j * stride[2] + d
  // (views into a [B, KV, max_len, hd] cache: the last dim contiguous).
  const uint16_t* k = nullptr;
  const uint16_t* v = nullptr;
  int64_t k_stride[3] = {0, 0, 0}, v_stride[3] = {0, 0, 0};
  uint16_t* out = nullptr;  // [B, T, H * hd], contiguous
};

// Whether prefill_attention_bf16 can run here: the CPU has AVX-512 F/BW/VL + BF16 and the
// kernel limit (gemv.h: set_kernel_limit) allows AVX-512.
bool prefill_attention_available();

// Per query row: q x scale rounded to bf16, scores q.k accumulated in f32 and rounded
// to bf16, softmax in f32 over the allowed keys, probabilities rounded to bf16, their product
// with v accumulated in f32 and rounded to bf16 (round to nearest even). Splits the work over
// LibTorch's intra-op threads. Requires prefill_attention_available().
void prefill_attention_bf16(const PrefillAttentionArgs& a);

}  // namespace llmprune::kernels
