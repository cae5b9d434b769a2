// `prune width` as a library call: score groups (magnitude, wanda, taylor, taylor2), select
// (uniform, global, hgsp), slice, export, and evaluate before and after (or apply a saved width
// plan without scoring). The CLI only parses flags into WidthJobOptions.
#pragma once

#include <string>

#include "calib/calib_data.h"
#include "importance/width_scores.h"
#include "model/causal_lm.h"
#include "plan/width_planner.h"
#include "util/json.h"

namespace llmprune {

struct WidthJobOptions {
  std::string model, out;
  CalibOptions calib;
  WidthRequest request;
  WidthImportanceOptions importance;
  std::string stream = "auto";  // auto | on | off
  std::string plan_file;        // apply this plan instead of scoring
  std::string save_plan;        // also write the plan here
  bool dry_run = false;         // plan only: print it (and --save-plan), write no model
  bool overwrite = false;
  std::string eval_dataset;     // "" = no perplexity before / after
  std::string eval_data_dir;
  int64_t eval_seq_len = 0;     // 0 = min(2048, max_position_embeddings)
  int64_t eval_max_windows = 0;
  LoadOptions load;
  std::string command_line;
};

json run_width_job(const WidthJobOptions& opts);

}  // namespace llmprune
