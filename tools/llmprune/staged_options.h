// Options shared by `llmprune route` and `llmprune serve`: the staged model (--model,
// --bundles-dir), routing (--thresholds, --calibrate + --fractions, --force-stage,
// --escalate, --speculative) and generation defaults.
#pragma once

#include <memory>
#include <string>

#include "command.h"
#include "serve/generate.h"
#include "serve/router.h"
#include "serve/staged_model.h"
#include "tokenizer/tokenizer.h"

namespace llmprune::cli {

struct StagedCliOptions {
  std::string model, bundles_dir;
  std::string thresholds = "2,4", calibrate, fractions = "0.34,0.33,0.33", force_stage;
  bool escalate = false, ignore_eos = false;
  int64_t escalate_window = 8, speculative = 0;
  GenerateOptions gen;
  RuntimeOptions runtime;
};

void add_staged_options(CLI::App* cmd, StagedCliOptions& o, bool with_generation);

// Everything the options set up: the model, its tokenizer and the routing policy (thresholds
// calibrated on the --calibrate file when given). Checks the options before loading.
struct StagedSetup {
  std::unique_ptr<StagedModel> model;
  std::unique_ptr<Tokenizer> tokenizer;
  RoutePolicy policy;
  json calibration;  // null unless --calibrate
};
StagedSetup setup_staged(const StagedCliOptions& o);

// The stages as JSON: name, layers, original layer indices, bundles.
json stages_json(const StagedModel& m);

}  // namespace llmprune::cli
