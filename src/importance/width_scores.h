// Width importance: one score per group (KV group, query head, MLP channel) of every layer,
// from a per-element scorer (one file each) reduced by GroupReducer:
//   magnitude  |W| (l1) or W^2 with the square root of the aggregate (l2)
//   wanda      |W_ij| x ||X_j||_2, X the linear's input on the calibration windows (rows of
//              q/k/v and gate/up against the layer's normed input, o_proj and down_proj columns
//              against their own inputs); a bias counts as a weight on a constant input 1
//   taylor     |W * g|, g the gradient of the causal-LM loss (calib/gradients.h)
//   taylor2    |W * g| + 0.5 * W^2 * F, F the diagonal empirical Fisher (source 001)
#pragma once

#include <torch/torch.h>

#include <map>
#include <string>
#include <vector>

#include "calib/runner.h"
#include "importance/group_scores.h"
#include "model/layer_source.h"
#include "util/json.h"

namespace llmprune {

// --- per-element scorers -------------------------------------------------------------------
torch::Tensor magnitude_importance(const torch::Tensor& w, bool l2);
torch::Tensor taylor_importance(const torch::Tensor& w, const torch::Tensor& grad,
                                const torch::Tensor& fisher /* undefined: first order */);

// Sums of squares of every linear's input per layer (double), over the calibration tokens.
struct WandaStats {
  std::map<int64_t, torch::Tensor> attn_in, context, mlp_in, act;  // layer -> [width]
  std::map<int64_t, int64_t> tokens;                                 // layer -> tokens seen
};

class WandaObserver : public CalibObserver {
 public:
  void observe(HookPoint p, int64_t layer, int64_t first, const torch::Tensor& x) override;
  const WandaStats& stats() const { return stats_; }

 private:
  WandaStats stats_;
};

// |W| x ||X_j|| for tensor `info` of a layer (bias: |b| x sqrt(tokens)); undefined for a
// tensor that is no linear of the layer (norms).
torch::Tensor wanda_importance(const torch::Tensor& w, const TensorInfo& info,
                               const WandaStats& stats);

// --- the driver -----------------------------------------------------------------------------
struct WidthImportanceOptions {
  std::string method = "taylor";  // magnitude | wanda | taylor | taylor2
  std::string norm = "l1";        // magnitude: l1 | l2
  Aggregate aggregate = Aggregate::kSum;
  int64_t batch_size = 1;           // calibration batches (wanda)
  int64_t gradient_batch_size = 1;  // windows per gradient batch (taylor, taylor2)
  bool hidden = false;  // also score the hidden-dimension set (appended last, layer -1)
  bool progress = true;
};

// Checks the method and norm names (bad_input) before any work.
void check_width_importance(const WidthImportanceOptions& o);

// Scores of every group set of every layer, layer order (sets of a layer in group_sets order),
// then the hidden set when asked. Hidden channels are scored over every tensor they touch
// (embedding, norms, projections, lm_head) by magnitude and taylor; wanda scores them over the
// linear maps of the layers only (norms and the embedding have no input to weigh).
// windows: [N, T] calibration windows (unused by magnitude). `info` receives what the run
// measured (loss, seconds, tokens).
std::vector<SetScores> score_width(LayerSource& src, const torch::Tensor& windows,
                                   const WidthImportanceOptions& o, json* info);

}  // namespace llmprune
