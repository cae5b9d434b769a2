// SwiGLU MLP (see mlp.h).
#include "model/mlp.h"

namespace llmprune {

MlpImpl::MlpImpl(const MlpSpec& spec, int64_t hidden, const TensorNaming& n,
                 const torch::TensorOptions& opts)
    : spec_(spec) {
  const int64_t I = spec.intermediate_size;
  if (n.fused_gate_up()) {
    gate_up_ = register_module(n.gate_up, Linear(hidden, 2 * I, spec.bias, opts));
  } else {
    gate_ = register_module(n.gate, Linear(hidden, I, spec.bias, opts));
    up_ = register_module(n.up, Linear(hidden, I, spec.bias, opts));
  }
  down_ = register_module(n.down, Linear(I, hidden, spec.bias, opts));
}

torch::Tensor MlpImpl::act(const torch::Tensor& x) const {
  torch::Tensor gate, up;
  if (gate_up_) {
    auto both = gate_up_->forward(x);
    gate = both.narrow(-1, 0, spec_.intermediate_size);
    up = both.narrow(-1, spec_.intermediate_size, spec_.intermediate_size);
  } else {
    gate = gate_->forward(x);
    up = up_->forward(x);
  }
  return torch::silu(gate).mul_(up);
}

}  // namespace llmprune
