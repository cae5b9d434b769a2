// Magnitude importance (see width_scores.h): the weights alone, no data.
#include "importance/width_scores.h"

namespace llmprune {

torch::Tensor magnitude_importance(const torch::Tensor& w, bool l2) {
  torch::Tensor a = w.to(torch::kFloat64);
  return l2 ? a * a : a.abs();
}

}  // namespace llmprune
