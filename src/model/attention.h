// Grouped-query self-attention with RoPE (or none: learned positions), causal mask, optional
// sliding window and KV cache. q/k/v are separate or one fused projection, as the family's
// TensorNaming says.
#pragma once

#include <torch/torch.h>

#include "arch/family.h"
#include "arch/model_spec.h"
#include "model/modules.h"
#include "model/rope.h"

namespace llmprune {

// Scaled dot-product attention of queries at absolute positions past..past+T-1 over keys at
// positions 0..S-1 (S = past + T), causal, and limited to the last `window` positions
// (query p sees key j iff j <= p and p - j < window) when window > 0.
// q: [B, n_heads, T, hd]; k, v: [B, n_kv_heads, S, hd]; returns [B, T, n_heads * hd].
// Query head h uses kv head h / (n_heads / n_kv_heads), as transformers' repeat_kv.
// Processes queries in chunks of `chunk` (0 = automatic: the [heads, chunk, keys] score
// block kept near 4M elements, 16..256 queries) so scores are not materialised for all T.
// On the CPU without gradients, one query (decoding) and several bf16 queries on a CPU with
// AVX-512 BF16 (prefill: kernels/prefill_attention.h) take fused kernels instead; `chunk`
// then has no effect.
torch::Tensor grouped_attention(const torch::Tensor& q, const torch::Tensor& k,
                                const torch::Tensor& v, int64_t past, int64_t window,
                                int64_t chunk = 0);

// Per-layer key/value storage the attention writes into (views into a KVCache).
struct KVSlot {
  torch::Tensor k, v;  // [B, n_kv_heads, max_len, hd]
  int64_t past = 0;    // tokens already stored
};

class AttentionImpl : public torch::nn::Module {
 public:
  AttentionImpl(const AttentionSpec& spec, int64_t hidden, const TensorNaming& names,
                const torch::TensorOptions& opts);
  // x: normed hidden [B, T, hidden]; rope for positions past..past+T-1, or null (or an
  // empty table, rot_dim 0) for models whose positions are learned embeddings (OPT).
  torch::Tensor forward(const torch::Tensor& x, const RopeTable* rope, KVSlot* slot) const {
    return project(context(x, rope, slot));
  }
  // The two halves of forward: the context entering o_proj [B, T, heads x hd], then o_proj.
  torch::Tensor context(const torch::Tensor& x, const RopeTable* rope, KVSlot* slot) const;
  torch::Tensor project(const torch::Tensor& context) const { return o_->forward(context); }
  const AttentionSpec& spec() const { return spec_; }
  // forward() for one position of one sequence on raw bf16 values (model/decode_token.h):
  // h [hidden] normed, out [hidden] = o_proj(context); k and v go into the cache row at
  // slot.past. Applies where decode_token_applies says (bf16 CPU maps and cache, room left).
  bool decode_token_applies(const KVSlot& slot, const RopeTable* rope) const;
  void decode_token(const uint16_t* h, const RopeTable* rope, KVSlot& slot, uint16_t* out) const;

 private:
  // One position per sequence on the CPU (decoding) with the projections q, k, v
  // [B, 1, heads * hd]: RoPE writes k and v straight into the cache; undefined where it does
  // not apply (the general path then runs).
  torch::Tensor decode_step(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                            const RopeTable* rope, KVSlot& slot) const;

  std::vector<const LinearImpl*> qkv_maps() const;

  AttentionSpec spec_;
  Linear q_{nullptr}, k_{nullptr}, v_{nullptr}, qkv_{nullptr}, o_{nullptr};
};
TORCH_MODULE(Attention);

}  // namespace llmprune
