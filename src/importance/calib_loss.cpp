// SLEB calibration loss (see depth_scores.h).
#include <cmath>

#include "importance/depth_scores.h"

namespace llmprune {

double calibration_ppl(double mean_nll) { return std::exp(mean_nll); }

}  // namespace llmprune
