// Hidden-state statistics (see hidden_stats.h).
#include "calib/hidden_stats.h"

#include <cmath>

#include "util/error.h"

namespace llmprune {

const char* token_pos_name(TokenPos p) { return p == TokenPos::kLast ? "last" : "all"; }

HiddenStats::HiddenStats(int64_t layers, TokenPos pair, TokenPos layer)
    : pair_pos(pair),
      layer_pos(layer),
      n_layers(layers),
      cos_sum(static_cast<size_t>(layers + 1),
              std::vector<double>(static_cast<size_t>(layers + 1), 0.0)),
      angle_sum(cos_sum),
      layer_cos_sum(static_cast<size_t>(layers), 0.0),
      attn_cos_sum(layer_cos_sum),
      mlp_cos_sum(layer_cos_sum),
      layer_count(static_cast<size_t>(layers), 0),
      attn_count(layer_count),
      mlp_count(layer_count) {}

HiddenStatsObserver::HiddenStatsObserver(int64_t n_layers, TokenPos pair_pos, TokenPos layer_pos,
                                         bool pairwise)
    : stats_(n_layers, pair_pos, layer_pos), pairwise_(pairwise) {}

torch::Tensor HiddenStatsObserver::positions(const torch::Tensor& x, TokenPos pos) {
  torch::Tensor p =
      pos == TokenPos::kLast ? x.select(1, x.size(1) - 1) : x.reshape({-1, x.size(-1)});
  return p.to(torch::kDouble);
}

namespace {
// Row-wise cosine of a and b ([rows, hidden] double) given their row norms; a zero vector
// has cosine 1 with a zero vector and 0 with anything else.
torch::Tensor row_cos(const torch::Tensor& a, const torch::Tensor& na, const torch::Tensor& b,
                      const torch::Tensor& nb) {
  torch::Tensor denom = na * nb;
  torch::Tensor c = (a * b).sum(1) / denom.clamp_min(1e-300);
  c = torch::where(denom > 0, c, (na == nb).to(torch::kDouble));
  return c.clamp(-1.0, 1.0);
}

std::pair<double, int64_t> sum_cos(const torch::Tensor& a, const torch::Tensor& b) {
  torch::Tensor c = row_cos(a, a.norm(2, 1), b, b.norm(2, 1));
  return {c.sum().item<double>(), c.size(0)};
}
}  // namespace

void HiddenStatsObserver::boundary(int64_t b, int64_t first, const torch::Tensor& x) {
  torch::Tensor p = positions(x, stats_.pair_pos), n = p.norm(2, 1);
  for (auto& [i, by_first] : boundaries_) {
    auto it = by_first.find(first);
    if (it == by_first.end()) continue;
    torch::Tensor c = row_cos(it->second.first, it->second.second, p, n);
    stats_.cos_sum[static_cast<size_t>(i)][static_cast<size_t>(b)] += c.sum().item<double>();
    stats_.angle_sum[static_cast<size_t>(i)][static_cast<size_t>(b)] +=
        (torch::acos(c) / M_PI).sum().item<double>();
  }
  if (b == 0) stats_.pair_count += p.size(0);  // every window passes boundary 0 once
  boundaries_[b][first] = {p, n};
}

void HiddenStatsObserver::observe(HookPoint point, int64_t layer, int64_t first,
                                  const torch::Tensor& x) {
  const size_t l = static_cast<size_t>(layer);
  switch (point) {
    case HookPoint::kLayerInput:
      layer_in_ = x;
      if (pairwise_) boundary(layer, first, x);
      break;
    case HookPoint::kAttnInput:
      attn_in_ = x;
      break;
    case HookPoint::kMlpInput:
      mlp_in_ = x;
      break;
    case HookPoint::kAttnOutput: {
      auto [s, n] = sum_cos(positions(attn_in_, stats_.layer_pos), positions(x, stats_.layer_pos));
      stats_.attn_cos_sum[l] += s;
      stats_.attn_count[l] += n;
      break;
    }
    case HookPoint::kMlpOutput: {
      auto [s, n] = sum_cos(positions(mlp_in_, stats_.layer_pos), positions(x, stats_.layer_pos));
      stats_.mlp_cos_sum[l] += s;
      stats_.mlp_count[l] += n;
      break;
    }
    case HookPoint::kLayerOutput: {
      auto [s, n] = sum_cos(positions(layer_in_, stats_.layer_pos), positions(x, stats_.layer_pos));
      stats_.layer_cos_sum[l] += s;
      stats_.layer_count[l] += n;
      if (pairwise_ && layer == stats_.n_layers - 1) boundary(stats_.n_layers, first, x);
      break;
    }
    default:
      break;
  }
}

}  // namespace llmprune
