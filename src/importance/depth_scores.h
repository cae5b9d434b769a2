// Depth importance scores: plain functions from captured hidden-state statistics to numbers
// (one scorer per .cpp). NaN marks a value that does not exist (a block past the last layer,
// a sub-block the layer does not have).
#pragma once

#include <vector>

#include "calib/hidden_stats.h"

namespace llmprune {

// Angular distance (Gromov et al., arXiv 2403.17887): d[n][l] = mean over counted positions
// of arccos(cos(x_l, x_{l+n})) / pi, x_l the hidden state entering layer l; n = 1..L,
// l = 0..L-n (other entries NaN; row 0 is all NaN). Needs pairwise statistics.
std::vector<std::vector<double>> angular_distance(const HiddenStats& s);

// ShortGPT block influence: BI_l = 1 - mean cos(x_l, x_{l+1}) over counted positions (the
// input and output of layer l). Low = the layer changes the hidden state little.
std::vector<double> block_influence(const HiddenStats& s);

// LLM-Drop module redundancy: mean cos(input, input + module(input)) of each attention and MLP
// sub-block (high = droppable).
std::vector<double> attn_redundancy(const HiddenStats& s);
std::vector<double> mlp_redundancy(const HiddenStats& s);

// SLEB's calibration loss: perplexity exp(mean NLL) of the calibration windows.
double calibration_ppl(double mean_nll);

}  // namespace llmprune
