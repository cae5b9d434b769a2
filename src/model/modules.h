// Leaf modules holding parameters under their Hugging Face names ("weight", "bias"):
// a linear map, a norm (RMSNorm or LayerNorm) and an embedding table. Parameters are created empty
// with the final shape, dtype and device; the loader copies checkpoint data into them.
#pragma once

#include <torch/torch.h>

#include "arch/model_spec.h"
#include "kernels/q8_weight.h"

namespace llmprune {

// A side path added to a linear map's output (LoRA, src/train/). It lives beside the model:
// not a registered module, so named_parameters() stays the checkpoint's keys.
class LinearAdapter {
 public:
  virtual ~LinearAdapter() = default;
  virtual torch::Tensor forward(const torch::Tensor& x) const = 0;
};

// y = x W^T (+ b) (+ adapter(x)). Weight [out, in], bias [out]. Decoding runs through the
// GEMV kernels (model/linear.h), on `q8` when a Q8_0 copy was made (LoadOptions::weights).
class LinearImpl : public torch::nn::Module {
 public:
  LinearImpl(int64_t in, int64_t out, bool bias, const torch::TensorOptions& opts);
  torch::Tensor forward(const torch::Tensor& x) const;
  torch::Tensor weight, bias;                   // bias undefined when absent
  std::shared_ptr<const kernels::Q8Weight> q8;  // null unless quantized for decoding
  std::shared_ptr<LinearAdapter> adapter;       // optional
};
TORCH_MODULE(Linear);

// maps[i]->forward(x) for maps of the same input (q, k and v; gate and up), computed together
// (one GEMV kernel call when decoding, see model/linear.h).
std::vector<torch::Tensor> forward_group(const torch::Tensor& x,
                                         const std::vector<const LinearImpl*>& maps);

// The norm of a ModelSpec: RMSNorm as transformers computes it (statistics in fp32, fp64
// stays fp64; then weight * x.to(input dtype)), or LayerNorm (mean-centred, weight and bias;
// OPT) computed in fp32 likewise. `affine` false: no parameters (weight 1, bias 0).
class NormImpl : public torch::nn::Module {
 public:
  NormImpl(int64_t dim, NormKind kind, bool affine, double eps, const torch::TensorOptions& opts);
  // The norm a spec asks for.
  NormImpl(const ModelSpec& spec, const torch::TensorOptions& opts);
  torch::Tensor forward(const torch::Tensor& x) const;
  torch::Tensor weight, bias;  // undefined when absent
  NormKind kind;
  double eps;
};
TORCH_MODULE(Norm);

class EmbeddingImpl : public torch::nn::Module {
 public:
  EmbeddingImpl(int64_t vocab, int64_t dim, const torch::TensorOptions& opts);
  torch::Tensor forward(const torch::Tensor& ids) const;  // [B, T] -> [B, T, dim]
  torch::Tensor weight;
};
TORCH_MODULE(Embedding);

}  // namespace llmprune
