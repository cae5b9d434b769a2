// LLM-Drop sub-block redundancy (see depth_scores.h).
#include <limits>

#include "importance/depth_scores.h"

namespace llmprune {
namespace {
std::vector<double> mean_or_nan(const std::vector<double>& sum, const std::vector<int64_t>& n) {
  std::vector<double> out;
  for (size_t i = 0; i < sum.size(); ++i)
    out.push_back(n[i] ? sum[i] / static_cast<double>(n[i])
                       : std::numeric_limits<double>::quiet_NaN());
  return out;
}
}  // namespace

std::vector<double> attn_redundancy(const HiddenStats& s) {
  return mean_or_nan(s.attn_cos_sum, s.attn_count);
}

std::vector<double> mlp_redundancy(const HiddenStats& s) {
  return mean_or_nan(s.mlp_cos_sum, s.mlp_count);
}

}  // namespace llmprune
