// `prune depth` as a library call: calibrate, score, plan, apply, export (or apply a saved
// plan without calibrating). The CLI only parses flags into DepthJobOptions.
#pragma once

#include <string>

#include "calib/calib_data.h"
#include "model/causal_lm.h"
#include "plan/depth_planner.h"
#include "util/json.h"

namespace llmprune {

struct DepthJobOptions {
  std::string model, out, bundles_dir;
  CalibOptions calib;
  DepthRequest request;            // request.n_drop < 0: derive from drop_frac
  double drop_frac = -1;           // n = round(drop_frac x layers); < 0 = not given
  std::string token_pos = "auto";  // auto | last | all
  std::string stream = "auto";     // auto | on | off
  std::string plan_file;           // apply this plan instead of calibrating
  std::string save_plan;           // also write the plan here
  bool dry_run = false;            // plan only: print it (and --save-plan), write no model
  bool overwrite = false;
  bool pruned_ppl = true;  // one more calibration pass for the pruned model's calibration PPL
  LoadOptions load;
  std::string command_line;
};

// Returns the run's report (also what --report writes).
json run_depth_job(const DepthJobOptions& opts);

// Whether calibration should stream one layer at a time: "on"/"off", or "auto" = when the
// weights in the compute dtype plus the calibration activations would take more than half of
// the memory available now. `why` receives the reason for the log and report.
bool decide_stream(const std::string& mode, uint64_t weight_bytes, uint64_t activation_bytes,
                   std::string* why);

}  // namespace llmprune
