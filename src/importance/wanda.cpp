// Wanda importance (see width_scores.h): |W_ij| x ||X_j||_2 with the input norms of every
// linear map collected at the model's linear-input hook points.
#include "importance/width_scores.h"

#include <cmath>

namespace llmprune {

void WandaObserver::observe(HookPoint p, int64_t layer, int64_t, const torch::Tensor& x) {
  std::map<int64_t, torch::Tensor>* m = p == HookPoint::kAttnNormed    ? &stats_.attn_in
                                        : p == HookPoint::kAttnContext ? &stats_.context
                                        : p == HookPoint::kMlpNormed   ? &stats_.mlp_in
                                        : p == HookPoint::kMlpAct      ? &stats_.act
                                                                       : nullptr;
  if (p == HookPoint::kLayerInput) stats_.tokens[layer] += x.size(0) * x.size(1);
  if (!m) return;
  torch::Tensor sq = x.to(torch::kFloat64).pow(2).sum(std::vector<int64_t>{0, 1}).cpu();  // [width]
  auto it = m->find(layer);
  if (it == m->end())
    m->emplace(layer, sq);
  else
    it->second += sq;
}

torch::Tensor wanda_importance(const torch::Tensor& w, const TensorInfo& info,
                               const WandaStats& s) {
  const std::map<int64_t, torch::Tensor>* m = nullptr;
  switch (info.role) {
    case TensorRole::kQ: case TensorRole::kK: case TensorRole::kV: case TensorRole::kQkv:
      m = &s.attn_in; break;
    case TensorRole::kO: m = &s.context; break;
    case TensorRole::kGate: case TensorRole::kUp: case TensorRole::kGateUp:
      m = &s.mlp_in; break;
    case TensorRole::kDown: m = &s.act; break;
    default: return torch::Tensor();
  }
  torch::Tensor W = w.to(torch::kFloat64).abs();
  if (info.is_bias) {
    auto it = s.tokens.find(info.layer);
    const double n = it == s.tokens.end() ? 0.0 : static_cast<double>(it->second);
    return W * std::sqrt(n);
  }
  auto it = m->find(info.layer);
  if (it == m->end()) return torch::zeros_like(W);  // the sub-block never ran
  return W * it->second.sqrt().to(W.device()).unsqueeze(0);
}

}  // namespace llmprune
