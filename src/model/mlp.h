// SwiGLU MLP: down(silu(gate(x)) * up(x)), gate/up separate or one fused [gate | up] matrix.
#pragma once

#include <torch/torch.h>

#include "arch/family.h"
#include "arch/model_spec.h"
#include "model/modules.h"

namespace llmprune {

class MlpImpl : public torch::nn::Module {
 public:
  MlpImpl(const MlpSpec& spec, int64_t hidden, const TensorNaming& names,
          const torch::TensorOptions& opts);
  torch::Tensor forward(const torch::Tensor& x) const { return down(act(x)); }  // [B, T, hidden]
  // The two halves of forward: silu(gate(x)) * up(x) [B, T, intermediate], then down_proj.
  torch::Tensor act(const torch::Tensor& x) const;
  torch::Tensor down(const torch::Tensor& a) const { return down_->forward(a); }
  const MlpSpec& spec() const { return spec_; }

 private:
  MlpSpec spec_;
  Linear gate_{nullptr}, up_{nullptr}, gate_up_{nullptr}, down_{nullptr};
};
TORCH_MODULE(Mlp);

}  // namespace llmprune
