// Runs calibration windows through a model layer by layer (layer-major): every window of a
// pass goes through layer 0, then layer 1, ..., so only one decoder layer's weights need to
// be in memory when the LayerSource streams. The hidden states of the pass stay in memory in
// the compute dtype, one tensor per batch, replaced by each layer's output. Observers see the
// model's own hook points (HookPoint) tagged with the windows they belong to.
#pragma once

#include <torch/torch.h>

#include <string>
#include <vector>

#include "model/layer_source.h"

namespace llmprune {

// Which sub-blocks run, per layer of the source (both false: the layer is skipped whole).
using Schedule = std::vector<SubBlockMask>;
Schedule full_schedule(const ModelSpec& spec);  // every existing sub-block runs

class CalibObserver {
 public:
  virtual ~CalibObserver() = default;
  // Hook point `p` of `layer` fired for windows [first, first + x.size(0)); x: [b, T, hidden].
  virtual void observe(HookPoint p, int64_t layer, int64_t first, const torch::Tensor& x) = 0;
  // After each pass (a pass covers all windows, or one batch when !whole_set_pass()).
  virtual void end_pass() {}
  // false: the observer needs every layer of a window before the next windows (it keeps
  // per-window state across layers and cannot afford it for the whole set).
  virtual bool whole_set_pass() const { return true; }
};

struct RunOptions {
  int64_t batch_size = 1;
  bool nll = false;  // also compute each window's next-token NLL (final norm + lm_head)
  std::string label = "calibration";
  bool progress = true;
};

struct RunResult {
  std::vector<double> nll;  // per window, natural log summed over tokens 1..T-1 (if asked)
  int64_t scored_tokens = 0;
  double seconds = 0;
  double mean_nll() const;
};

// windows: [N, T] int64. A skipped layer (schedule) is neither loaded nor observed.
RunResult run_calibration(LayerSource& src, const torch::Tensor& windows, const Schedule& schedule,
                          CalibObserver* observer, const RunOptions& opts);

}  // namespace llmprune
