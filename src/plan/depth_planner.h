// Depth planners: choose the layers or sub-blocks to remove from scores, and split what is
// removed into bundles B and C. Free of tensors: scores come in as numbers, and the iterative
// methods ask for fresh numbers through callbacks that run calibration on a DepthState.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "plan/prune_plan.h"

namespace llmprune {

// angular | block-influence | attn-drop | mlp-drop | joint | sleb
const std::vector<std::string>& depth_methods();

struct DepthRequest {
  std::string method = "angular";
  int64_t n_drop = 0;               // layers (layer methods) or sub-blocks (sub-block methods)
  bool keep_first = false;          // never remove layer 0 (or its sub-blocks)
  bool keep_last = true;            // never remove the last layer (or its sub-blocks)
  bool iterative = false;           // block-influence: re-score after each removal
  std::string sleb_unit = "block";  // sleb: block (layers) | sub-block (BlockPruner)
  double split_ratio = 0.5;         // fraction of the removed units that goes to bundle B
};

struct DepthScores {
  // From one calibration run of the unpruned model.
  std::vector<std::vector<double>> angular;  // d[n][l] (importance/depth_scores.h)
  std::vector<double> block_influence, attn_redundancy, mlp_redundancy;
  // Block influence of every layer of a model pruned to `state` (iterative block-influence).
  std::function<std::vector<double>(const DepthState&)> rescore_block_influence;
  // Mean calibration NLL of a model pruned to `state` (sleb).
  std::function<double(const DepthState&)> calibration_nll;
};

// Whether `method` removes sub-blocks (n_drop counts sub-blocks) rather than layers.
bool removes_sub_blocks(const DepthRequest& req);

// bad_input for a request the model cannot satisfy: unknown method or unit, split ratio outside
// [0, 1], n_drop < 0, a drop that leaves no layer, or more units than the constraints allow.
// Cheap: call it before calibrating.
void check_depth_request(const ModelSpec& spec, const DepthRequest& req);

// The plan, with each unit's score and restore priority. `trace` receives the steps of the
// iterative methods (candidates and their values) for the analysis report.
// bad_input: unknown method, n_drop < 0 or larger than the removable units, or a drop that
// leaves no layer.
PrunePlan plan_depth(const ModelSpec& spec, const DepthRequest& req, const DepthScores& scores,
                     json* trace);

// B gets the round(ratio * n) units of highest restore priority (ties: lower layer first),
// C the rest. The rule is stated in --help and in the report.
void split_bundles(std::vector<PruneUnit>& units, double ratio);

}  // namespace llmprune
