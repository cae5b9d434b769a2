// Decoder layer (see decoder_layer.h). Hooks fire at every HookPoint even for removed
// sub-blocks, so observers see the pass-through explicitly.
#include "model/decoder_layer.h"

#include "model/decode_token.h"

namespace llmprune {

DecoderLayerImpl::DecoderLayerImpl(int64_t index, const LayerSpec& spec, const ModelSpec& model,
                                   const TensorNaming& n, const torch::TensorOptions& opts)
    : index_(index), spec_(spec), post_norm_(model.post_norm) {
  const int64_t hidden = model.hidden_size;
  // Registration order follows transformers' state_dict order within a layer.
  if (spec.attn) attn_ = register_module(n.attn, Attention(*spec.attn, hidden, n, opts));
  if (spec.mlp) {
    mlp_ = Mlp(*spec.mlp, model.activation, hidden, n, opts);
    if (!n.mlp.empty()) {
      register_module(n.mlp, mlp_);
    } else {
      // The MLP's linears sit directly in the layer (OPT "layers.N.fc1"): register them here.
      for (const auto& child : mlp_->named_children()) register_module(child.key(), child.value());
    }
  }
  if (spec.attn) attn_norm_ = register_module(n.attn_norm, Norm(model, opts));
  if (spec.mlp) mlp_norm_ = register_module(n.mlp_norm, Norm(model, opts));
}

torch::Tensor DecoderLayerImpl::forward(torch::Tensor x, const RopeTable* rope, KVSlot* slot,
                                        const ForwardHook* hook, SubBlockMask mask) const {
  auto fire = [&](HookPoint p, const torch::Tensor& t) {
    if (hook && *hook) (*hook)(p, index_, t);
  };
  fire(HookPoint::kLayerInput, x);
  fire(HookPoint::kAttnInput, x);
  if (attn_ && mask.attn) {
    // Pre-LN: x + attn(norm(x)); post-LN (OPT-350m): norm(x + attn(x)).
    torch::Tensor h = post_norm_ ? x : attn_norm_->forward(x);
    fire(HookPoint::kAttnNormed, h);
    h = attn_->context(h, rope, slot);
    fire(HookPoint::kAttnContext, h);
    x = post_norm_ ? attn_norm_->forward(x + attn_->project(h)) : x + attn_->project(h);
  }
  fire(HookPoint::kAttnOutput, x);
  fire(HookPoint::kMlpInput, x);
  if (mlp_ && mask.mlp) {
    torch::Tensor h = post_norm_ ? x : mlp_norm_->forward(x);
    fire(HookPoint::kMlpNormed, h);
    h = mlp_->act(h);
    fire(HookPoint::kMlpAct, h);
    x = post_norm_ ? mlp_norm_->forward(x + mlp_->down(h)) : x + mlp_->down(h);
  }
  fire(HookPoint::kMlpOutput, x);
  fire(HookPoint::kLayerOutput, x);
  return x;
}

bool DecoderLayerImpl::decode_token_applies(const RopeTable* rope, const KVSlot* slot,
                                            SubBlockMask mask) const {
  if (post_norm_) return false;
  if (attn_ && mask.attn &&
      (!slot || !raw_norm_applies(*attn_norm_) || !attn_->decode_token_applies(*slot, rope)))
    return false;
  return !(mlp_ && mask.mlp && (!raw_norm_applies(*mlp_norm_) || !mlp_->decode_token_applies()));
}

void DecoderLayerImpl::decode_token(uint16_t* x, int64_t hidden, const RopeTable* rope,
                                    KVSlot* slot, SubBlockMask mask) const {
  DecodeBuffers& b = decode_buffers();
  b.h.resize(static_cast<size_t>(hidden));
  b.out.resize(static_cast<size_t>(hidden));
  if (attn_ && mask.attn) {
    raw_norm(*attn_norm_, x, hidden, b.h.data());
    attn_->decode_token(b.h.data(), rope, *slot, b.out.data());
    bf16_residual_add(x, b.out.data(), hidden);
  }
  if (mlp_ && mask.mlp) {
    raw_norm(*mlp_norm_, x, hidden, b.h.data());
    mlp_->decode_token(b.h.data(), b.out.data());
    bf16_residual_add(x, b.out.data(), hidden);
  }
}

}  // namespace llmprune
