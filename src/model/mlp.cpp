// MLP sub-block (see mlp.h).
#include "model/mlp.h"

#include <ATen/Parallel.h>

#include "kernels/activation.h"
#include "model/decode_token.h"

namespace llmprune {

namespace {

// bf16 silu(gate) * up by the fused CPU kernel (kernels/activation.h), or an undefined tensor
// where it does not apply: another device or dtype (f32 keeps LibTorch's ops, bit-identical
// to transformers), or a gradient wanted.
torch::Tensor fused_silu_mul(const torch::Tensor& gate, const torch::Tensor& up) {
  if (!gate.device().is_cpu() || gate.scalar_type() != torch::kBFloat16 ||
      up.scalar_type() != torch::kBFloat16 || !up.device().is_cpu() || gate.sizes() != up.sizes() ||
      gate.numel() == 0 ||
      (torch::GradMode::is_enabled() && (gate.requires_grad() || up.requires_grad())))
    return {};
  const int64_t I = gate.size(-1);
  // Rows of [rows, I] with the last dim contiguous (gate and up may be halves of one fused
  // [gate | up] output: row stride 2 I).
  auto rows_of = [&](const torch::Tensor& t) {
    return t.stride(-1) == 1 ? t.reshape({-1, I}) : t.contiguous().view({-1, I});
  };
  const torch::Tensor g = rows_of(gate), u = rows_of(up);
  torch::Tensor out = torch::empty(gate.sizes(), gate.options());
  auto bits = [](const torch::Tensor& t) {
    return reinterpret_cast<uint16_t*>(t.data_ptr<at::BFloat16>());
  };
  const uint16_t *gp = bits(g), *upp = bits(u);
  uint16_t* op = bits(out);
  const int64_t gs = g.stride(0), us = u.stride(0);
  at::parallel_for(0, g.size(0), std::max<int64_t>(1, 16384 / I), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) kernels::silu_mul(gp + r * gs, upp + r * us, op + r * I, I);
  });
  return out;
}

}  // namespace

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

std::vector<const LinearImpl*> MlpImpl::gate_up_maps() const {
  if (gate_up_) return {gate_up_.get()};
  return {gate_.get(), up_.get()};
}

bool MlpImpl::decode_token_applies() const {
  if (act_ != Activation::kSilu || (!gate_ && !gate_up_)) return false;
  const int64_t cols = down_->weight.size(0);  // hidden
  return raw_linear_group_applies(gate_up_maps(), cols) &&
         raw_linear_group_applies({down_.get()}, spec_.intermediate_size);
}

void MlpImpl::decode_token(const uint16_t* h, uint16_t* out) const {
  const int64_t I = spec_.intermediate_size;
  DecodeBuffers& b = decode_buffers();
  b.gate_up.resize(static_cast<size_t>(2 * I));
  b.act.resize(static_cast<size_t>(I));
  raw_linear_group(gate_up_maps(), h, b.gate_up.data());  // [gate | up]
  kernels::silu_mul(b.gate_up.data(), b.gate_up.data() + I, b.act.data(), I);
  raw_linear_group({down_.get()}, b.act.data(), out);
}

torch::Tensor MlpImpl::act(const torch::Tensor& x) const {
  if (!gate_ && !gate_up_) return activate(up_->forward(x), act_);
  torch::Tensor gate, up;
  if (gate_up_) {
    auto both = gate_up_->forward(x);
    gate = both.narrow(-1, 0, spec_.intermediate_size);
    up = both.narrow(-1, spec_.intermediate_size, spec_.intermediate_size);
  } else {
    auto both = forward_group(x, gate_up_maps());
    gate = both[0];
    up = both[1];
  }
  if (act_ == Activation::kSilu) {
    torch::Tensor fused = fused_silu_mul(gate, up);
    if (fused.defined()) return fused;
  }
  return activate(gate, act_).mul_(up);
}

}  // namespace llmprune
