// Angular distance between layer boundaries (see depth_scores.h).
#include <cmath>
#include <limits>

#include "importance/depth_scores.h"
#include "util/error.h"

namespace llmprune {

std::vector<std::vector<double>> angular_distance(const HiddenStats& s) {
  const int64_t L = s.n_layers;
  const double nan = std::numeric_limits<double>::quiet_NaN();
  LLMPRUNE_ASSERT(s.pair_count > 0, "angular distance needs pairwise boundary statistics");
  std::vector<std::vector<double>> d(static_cast<size_t>(L + 1),
                                     std::vector<double>(static_cast<size_t>(L + 1), nan));
  for (int64_t n = 1; n <= L; ++n)
    for (int64_t l = 0; l + n <= L; ++l)
      d[static_cast<size_t>(n)][static_cast<size_t>(l)] =
          s.angle_sum[static_cast<size_t>(l)][static_cast<size_t>(l + n)] /
          static_cast<double>(s.pair_count);
  return d;
}

}  // namespace llmprune
