// One decoder layer: x + attn(norm(x)), then x + mlp(norm(x)). Either sub-block may be
// absent (pruned away): it is then an exact residual pass-through and its norm is absent too.
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
  DecoderLayerImpl(int64_t index, const LayerSpec& spec, int64_t hidden, double eps,
                   const TensorNaming& names, const torch::TensorOptions& opts);
  // rope: table for this layer's head_dim (ignored without attention).
  torch::Tensor forward(torch::Tensor x, const RopeTable* rope, KVSlot* slot,
                        const ForwardHook* hook, SubBlockMask mask = {}) const;
  const LayerSpec& spec() const { return spec_; }

 private:
  int64_t index_;
  LayerSpec spec_;
  RmsNorm attn_norm_{nullptr}, mlp_norm_{nullptr};
  Attention attn_{nullptr};
  Mlp mlp_{nullptr};
};
TORCH_MODULE(DecoderLayer);

}  // namespace llmprune
