// Leaf modules (see modules.h).
#include "model/modules.h"

#include <algorithm>

#include "kernels/rms_norm.h"
#include "model/linear.h"
#include "util/error.h"

namespace llmprune {

LinearImpl::LinearImpl(int64_t in, int64_t out, bool has_bias, const torch::TensorOptions& opts) {
  weight = register_parameter("weight", torch::empty({out, in}, opts), false);
  if (has_bias) bias = register_parameter("bias", torch::empty({out}, opts), false);
}

torch::Tensor LinearImpl::forward(const torch::Tensor& x) const {
  torch::Tensor y = linear_forward(x, weight, bias, q8.get());
  if (adapter) y = y + adapter->forward(x);
  return y;
}

std::vector<torch::Tensor> forward_group(const torch::Tensor& x,
                                         const std::vector<const LinearImpl*>& maps) {
  std::vector<LinearParams> params;
  for (const LinearImpl* m : maps) params.push_back({m->weight, m->bias, m->q8.get()});
  std::vector<torch::Tensor> ys = linear_forward_group(x, params);
  for (size_t i = 0; i < maps.size(); ++i)
    if (maps[i]->adapter) ys[i] = ys[i] + maps[i]->adapter->forward(x);
  return ys;
}

NormImpl::NormImpl(int64_t dim, NormKind kind_, bool affine, double eps_,
                   const torch::TensorOptions& opts)
    : kind(kind_), eps(eps_) {
  if (!affine) return;
  weight = register_parameter("weight", torch::empty({dim}, opts), false);
  if (kind == NormKind::kLayer) bias = register_parameter("bias", torch::empty({dim}, opts), false);
}

NormImpl::NormImpl(const ModelSpec& spec, const torch::TensorOptions& opts)
    : NormImpl(spec.hidden_size, spec.norm, spec.norm_affine, spec.rms_norm_eps, opts) {}

namespace {

// bf16 RMSNorm by the CPU kernel (kernels/rms_norm.h: LlamaRMSNorm's roundings), or an
// undefined tensor where it does not apply: another device or dtype (f32 keeps LibTorch's
// ops, bit-identical to transformers), or a gradient wanted.
torch::Tensor fused_rms_norm(const torch::Tensor& x, const torch::Tensor& weight, double eps) {
  if (!x.device().is_cpu() || x.scalar_type() != torch::kBFloat16 || x.numel() == 0 ||
      (weight.defined() && weight.scalar_type() != torch::kBFloat16) ||
      (torch::GradMode::is_enabled() &&
       (x.requires_grad() || (weight.defined() && weight.requires_grad()))))
    return {};
  const int64_t cols = x.size(-1);
  const torch::Tensor rows =
      x.stride(-1) == 1 ? x.reshape({-1, cols}) : x.contiguous().view({-1, cols});
  const torch::Tensor w = weight.defined() ? weight.contiguous() : weight;
  torch::Tensor out = torch::empty(x.sizes(), x.options());
  auto bits = [](const torch::Tensor& t) {
    return t.defined() ? reinterpret_cast<uint16_t*>(t.data_ptr<at::BFloat16>()) : nullptr;
  };
  kernels::rms_norm(bits(rows), rows.stride(0), bits(w), static_cast<float>(eps), rows.size(0),
                    cols, bits(out));
  return out;
}

}  // namespace

torch::Tensor NormImpl::forward(const torch::Tensor& x) const {
  // Statistics in fp32 whatever the compute dtype (fp64 stays fp64: gradient checks).
  const auto f32 = x.scalar_type() == torch::kFloat64 ? torch::kFloat64 : torch::kFloat32;
  if (kind == NormKind::kRms) {
    torch::Tensor fused = fused_rms_norm(x, weight, eps);
    if (fused.defined()) return fused;
    // transformers' LlamaRMSNorm, operation for operation (llama-like models keep their bits).
    torch::Tensor h = x.to(f32);
    torch::Tensor var = h.pow(2).mean(-1, /*keepdim=*/true);
    h = h * torch::rsqrt(var + eps);
    h = h.to(x.scalar_type());
    return weight.defined() ? weight * h : h;
  }
  // LayerNorm: statistics in fp32, the affine part in fp32 too, result in the input dtype.
  torch::Tensor w = weight.defined() ? weight.to(f32) : torch::Tensor();
  torch::Tensor b = bias.defined() ? bias.to(f32) : torch::Tensor();
  return torch::layer_norm(x.to(f32), {x.size(-1)}, w, b, eps).to(x.scalar_type());
}

EmbeddingImpl::EmbeddingImpl(int64_t vocab, int64_t dim, const torch::TensorOptions& opts) {
  weight = register_parameter("weight", torch::empty({vocab, dim}, opts), false);
}

torch::Tensor EmbeddingImpl::forward(const torch::Tensor& ids) const {
  const int64_t vocab = weight.size(0);
  if (ids.numel() > 0) {
    int64_t lo = 0, hi = 0;
    if (ids.device().is_cpu() && ids.scalar_type() == torch::kLong && ids.is_contiguous()) {
      // In place (decoding checks one id per token; two reductions cost more than the loop).
      const int64_t* v = ids.data_ptr<int64_t>();
      const auto [mn, mx] = std::minmax_element(v, v + ids.numel());
      lo = *mn;
      hi = *mx;
    } else {
      lo = ids.min().item<int64_t>();
      hi = ids.max().item<int64_t>();
    }
    if (lo < 0 || hi >= vocab)
      throw bad_input("[model] token id ", lo < 0 ? lo : hi, " out of range for vocab_size ",
                      vocab);
  }
  return torch::embedding(weight, ids);
}

}  // namespace llmprune
