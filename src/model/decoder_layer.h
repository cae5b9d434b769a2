// One decoder layer: x + attn(norm(x)), then x + mlp(norm(x)) (pre-norm), or
// norm(x + attn(x)), then norm(x + mlp(x)) (post-norm, OPT do_layer_norm_before=false).
// Either sub-block may be absent (pruned away): it is then an exact residual pass-through and
// its norm is absent too.
#pragma once

#include <torch/torch.h>

#include "arch/family.h"
#include "arch/model_spec.h"
#include "model/attention.h"
#include "model/causal_lm.h"
#include "model/mlp.h"
#include "model/modules.h"

namespace llmprune {

// Which sub-blocks of a layer run (calibration and SLEB evaluate a model with some skipped,
// without rebuilding it). A skipped sub-block is the same residual pass-through as a removed one.
struct SubBlockMask {
  bool attn = true;
  bool mlp = true;
};

class DecoderLayerImpl : public torch::nn::Module {
 public:
  // `model`: the model-wide options (norm kind, eps, post-norm, activation, hidden size).
  DecoderLayerImpl(int64_t index, const LayerSpec& spec, const ModelSpec& model,
                   const TensorNaming& names, const torch::TensorOptions& opts);
  // rope: table for this layer's head_dim (ignored without attention; null or empty for
  // learned positions).
  torch::Tensor forward(torch::Tensor x, const RopeTable* rope, KVSlot* slot,
                        const ForwardHook* hook, SubBlockMask mask = {}) const;
  const LayerSpec& spec() const { return spec_; }
  // forward() of one position of one sequence on raw bf16 values, in place on x [hidden]
  // (model/decode_token.h), where decode_token_applies says: pre-norm RMSNorm layers whose
  // running sub-blocks apply (attention needs its cache slot).
  bool decode_token_applies(const RopeTable* rope, const KVSlot* slot, SubBlockMask mask) const;
  void decode_token(uint16_t* x, int64_t hidden, const RopeTable* rope, KVSlot* slot,
                    SubBlockMask mask) const;

 private:
  int64_t index_;
  LayerSpec spec_;
  bool post_norm_;
  Norm attn_norm_{nullptr}, mlp_norm_{nullptr};
  Attention attn_{nullptr};
  Mlp mlp_{nullptr};
};
TORCH_MODULE(DecoderLayer);

}  // namespace llmprune
