// ShortGPT block influence (see depth_scores.h).
#include <limits>

#include "importance/depth_scores.h"

namespace llmprune {

std::vector<double> block_influence(const HiddenStats& s) {
  std::vector<double> bi;
  for (size_t l = 0; l < s.layer_cos_sum.size(); ++l)
    bi.push_back(s.layer_count[l] ? 1.0 - s.layer_cos_sum[l] / static_cast<double>(s.layer_count[l])
                                  : std::numeric_limits<double>::quiet_NaN());
  return bi;
}

}  // namespace llmprune
