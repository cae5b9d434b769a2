// Width planners: which KV groups / query heads / MLP channels to remove, from group scores.
//   uniform  the same fraction of groups in every layer of --attn-layers / --mlp-layers
//   global   fractional knapsack over every group of every unfrozen layer: score =
//            importance / cost (cost = parameters the group holds), lowest first, until
//            `ratio` of the prunable parameters is removed (source 001)
//   hgsp     global with layer and sub-block priors (source 001): score x M, M = B^T,
//            B = ln(1 + prior), prior = the layer's block influence (1 - cos of its input and
//            output) for layers whose block influence is below tau, else the sub-block's own
//            (attention or MLP) 1 - cos; a sub-block left with less than epsilon of its groups
//            is removed whole.
// Prunable parameters: the weights and biases of the groups in play (KV groups or query
// heads, and MLP channels) of the layers that may be pruned; embeddings, norms, lm_head and
// the o_proj / down_proj biases never count.
// Hidden channels (`hidden`, source 003): the same in every layer, so not part of the
// knapsack: every selection removes the round(ratio x hidden_size) lowest-scored ones (the
// kept count rounded to round_to), on top of the groups chosen as above.
#pragma once

#include <string>
#include <vector>

#include "arch/model_spec.h"
#include "plan/prune_plan.h"
#include "plan/set_scores.h"

namespace llmprune {

struct WidthRequest {
  std::string selection = "global";  // uniform | global | hgsp
  std::string unit = "kv-group";     // kv-group | q-head
  double ratio = 0.2;
  bool attn = true, mlp = true;      // which sub-blocks may lose groups
  int64_t attn_first = -1, attn_last = -1;  // uniform: inclusive layer range (-1 = all)
  int64_t mlp_first = -1, mlp_last = -1;
  int64_t freeze_first = 0, freeze_last = 0;
  int64_t round_to = 1;        // kept MLP channel counts are multiples of this
  bool uniform_shape = false;  // every layer keeps the same head and channel counts
  bool hidden = false;         // also remove round(ratio x hidden_size) residual channels
  double temperature = 1.0;    // hgsp
  std::string tau = "auto";    // hgsp: a number, auto (25th percentile) or inf
  double epsilon = 0.0;        // hgsp
};

// Per layer: block influence of the whole layer and of its sub-blocks (1 - mean cos).
struct WidthPriors {
  std::vector<double> layer, attn, mlp;
};

// One row of global_group_table.csv.
struct GroupRow {
  int64_t layer = 0;
  GroupKind kind = GroupKind::kKvGroup;
  int64_t group = 0;
  double importance = 0, score = 0, prior = 1;
  int64_t cost = 0;
  bool pruned = false;
};

struct WidthSelection {
  int64_t prunable = 0, target = 0, removed = 0;  // parameters
  double tau = 0;                                 // hgsp: the tau used
  std::vector<GroupRow> rows;
  std::vector<std::string> bounds;  // constraints that limited the selection, for the report
};

// Cheap checks before any work (bad_input): names, ratio in (0, 1), ranges, frozen layers,
// --round-to wider than a layer, and a ratio the constraints cannot reach (naming the largest
// attainable).
// sets: every group set of every layer (Family::group_sets).
void check_width_request(const ModelSpec& spec, const std::vector<GroupSet>& sets,
                         const WidthRequest& req);

// scores: every group set of every layer (score_width's output). priors: needed by hgsp.
PrunePlan plan_width(const ModelSpec& spec, const std::vector<SetScores>& scores,
                     const WidthRequest& req, const WidthPriors* priors, WidthSelection* sel);

}  // namespace llmprune
