// MLP sub-block: gated down(act(gate(x)) * up(x)) (SwiGLU; gate/up separate or one fused
// [gate | up] matrix), or plain down(act(up(x))) when the family names no gate (OPT fc1/fc2).
#pragma once

#include <torch/torch.h>

#include "arch/family.h"
#include "arch/model_spec.h"
#include "model/modules.h"

namespace llmprune {

// silu / relu / gelu (exact, erf-based, as transformers' "gelu").
torch::Tensor activate(const torch::Tensor& x, Activation act);

class MlpImpl : public torch::nn::Module {
 public:
  MlpImpl(const MlpSpec& spec, Activation act, int64_t hidden, const TensorNaming& names,
          const torch::TensorOptions& opts);
  torch::Tensor forward(const torch::Tensor& x) const { return down(act(x)); }  // [B, T, hidden]
  // The two halves of forward: act(gate(x)) * up(x) or act(up(x)) [B, T, intermediate], then
  // down_proj.
  torch::Tensor act(const torch::Tensor& x) const;
  torch::Tensor down(const torch::Tensor& a) const { return down_->forward(a); }
  const MlpSpec& spec() const { return spec_; }
  // forward() of one bf16 row on raw values (model/decode_token.h): gated SiLU MLPs with bf16
  // CPU maps, as decode_token_applies says.
  bool decode_token_applies() const;
  void decode_token(const uint16_t* h, uint16_t* out) const;

 private:
  std::vector<const LinearImpl*> gate_up_maps() const;

  MlpSpec spec_;
  Activation act_;
  Linear gate_{nullptr}, up_{nullptr}, gate_up_{nullptr}, down_{nullptr};
};
TORCH_MODULE(Mlp);

}  // namespace llmprune
