// Taylor importance (see width_scores.h): the first-order estimate of the loss change when a
// weight is zeroed, |W * dL/dW|, plus, for taylor2, the second-order term with the diagonal
// Fisher in place of the Hessian diagonal (LLM-Pruner's "param_mix", source 001).
#include "importance/width_scores.h"

namespace llmprune {

torch::Tensor taylor_importance(const torch::Tensor& w, const torch::Tensor& grad,
                                const torch::Tensor& fisher) {
  torch::Tensor W = w.to(torch::kFloat64);
  torch::Tensor imp = (W * grad.to(torch::kFloat64)).abs();
  if (fisher.defined()) imp += 0.5 * W * W * fisher.to(torch::kFloat64);
  return imp;
}

}  // namespace llmprune
