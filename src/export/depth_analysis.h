// The analysis written beside a depth-pruned model: every score as JSON and CSV, and the plots
// a person looks at (the d(l, n) heatmap of Gromov et al., a per-layer bar chart of the
// chosen method's scores with removed units marked).
#pragma once

#include <string>
#include <vector>

#include "plan/prune_plan.h"
#include "util/json.h"

namespace llmprune {

struct DepthAnalysis {
  int64_t n_layers = 0;
  std::string pair_pos, layer_pos;           // token positions behind the scores
  std::vector<std::vector<double>> angular;  // d[n][l] (empty when not computed)
  std::vector<double> block_influence, attn_redundancy, mlp_redundancy;
  json steps = json::array();         // iterative block influence / SLEB steps
  json calibration = json::object();  // the calibration set (calib_data.h)
  double calibration_ppl_before = 0, calibration_ppl_after = 0;  // 0 = not measured
};

json analysis_json(const DepthAnalysis& a, const PrunePlan& plan);
// Long format: score,layer,block_size,value,removed (one row per number).
std::string analysis_csv(const DepthAnalysis& a, const PrunePlan& plan);
// analysis.json, analysis.csv, angular_distance.svg (when computed), scores.svg into `dir`.
void write_analysis(const std::string& dir, const DepthAnalysis& a, const PrunePlan& plan);

}  // namespace llmprune
