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
  if (attn_ && mask.attn) {
    torch::Tensor h = attn_norm_->forward(x);
    fire(HookPoint::kAttnNormed, h);
    h = attn_->context(h, *rope, slot);
    fire(HookPoint::kAttnContext, h);
    x = x + attn_->project(h);
  }
  fire(HookPoint::kAttnOutput, x);
  fire(HookPoint::kMlpInput, x);
  if (mlp_ && mask.mlp) {
    torch::Tensor h = mlp_norm_->forward(x);
    fire(HookPoint::kMlpNormed, h);
    h = mlp_->act(h);
    fire(HookPoint::kMlpAct, h);
    x = x + mlp_->down(h);
  }
  fire(HookPoint::kMlpOutput, x);
  fire(HookPoint::kLayerOutput, x);
  return x;
}

}  // namespace llmprune
