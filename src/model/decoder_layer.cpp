// Decoder layer (see decoder_layer.h). Hooks fire at every HookPoint even for removed
// sub-blocks, so observers see the pass-through explicitly.
#include "model/decoder_layer.h"

namespace llmprune {

DecoderLayerImpl::DecoderLayerImpl(int64_t index, const LayerSpec& spec, int64_t hidden,
                                   double eps, const TensorNaming& n,
                                   const torch::TensorOptions& opts)
    : index_(index), spec_(spec) {
  // Registration order follows transformers' state_dict order within a layer.
  if (spec.attn) attn_ = register_module(n.attn, Attention(*spec.attn, hidden, n, opts));
  if (spec.mlp) mlp_ = register_module(n.mlp, Mlp(*spec.mlp, hidden, n, opts));
  if (spec.attn) attn_norm_ = register_module(n.attn_norm, RmsNorm(hidden, eps, opts));
  if (spec.mlp) mlp_norm_ = register_module(n.mlp_norm, RmsNorm(hidden, eps, opts));
}

torch::Tensor DecoderLayerImpl::forward(torch::Tensor x, const RopeTable* rope, KVSlot* slot,
                                        const ForwardHook* hook, SubBlockMask mask) const {
  auto fire = [&](HookPoint p, const torch::Tensor& t) {
    if (hook && *hook) (*hook)(p, index_, t);
  };
  fire(HookPoint::kLayerInput, x);
  fire(HookPoint::kAttnInput, x);
  if (attn_ && mask.attn) x = x + attn_->forward(attn_norm_->forward(x), *rope, slot);
  fire(HookPoint::kAttnOutput, x);
  fire(HookPoint::kMlpInput, x);
  if (mlp_ && mask.mlp) x = x + mlp_->forward(mlp_norm_->forward(x));
  fire(HookPoint::kMlpOutput, x);
  fire(HookPoint::kLayerOutput, x);
  return x;
}

}  // namespace llmprune
