// MLP sub-block (see mlp.h).
#include "model/mlp.h"

namespace llmprune {

torch::Tensor activate(const torch::Tensor& x, Activation act) {
  switch (act) {
    case Activation::kSilu: return torch::silu(x);
    case Activation::kRelu: return torch::relu(x);
    case Activation::kGelu: return torch::gelu(x);
  }
  return x;
}

MlpImpl::MlpImpl(const MlpSpec& spec, Activation act, int64_t hidden, const TensorNaming& n,
                 const torch::TensorOptions& opts)
    : spec_(spec), act_(act) {
  const int64_t I = spec.intermediate_size;
  if (n.fused_gate_up()) {
    gate_up_ = register_module(n.gate_up, Linear(hidden, 2 * I, spec.bias, opts));
  } else {
    if (n.gated_mlp()) gate_ = register_module(n.gate, Linear(hidden, I, spec.bias, opts));
    up_ = register_module(n.up, Linear(hidden, I, spec.bias, opts));
  }
  down_ = register_module(n.down, Linear(I, hidden, spec.bias, opts));
}

torch::Tensor MlpImpl::act(const torch::Tensor& x) const {
  if (!gate_ && !gate_up_) return activate(up_->forward(x), act_);
  torch::Tensor gate, up;
  if (gate_up_) {
    auto both = gate_up_->forward(x);
    gate = both.narrow(-1, 0, spec_.intermediate_size);
    up = both.narrow(-1, spec_.intermediate_size, spec_.intermediate_size);
  } else {
    auto both = forward_group(x, {gate_.get(), up_.get()});
    gate = both[0];
    up = both[1];
  }
  return activate(gate, act_).mul_(up);
}

}  // namespace llmprune
