// The "Healing" option group shared by `llmprune heal` and `prune depth|width --heal`, and
// the job they run: train LoRA or full fine-tuning on a data file, write the adapter (or the
// fine-tuned model), a JSON-lines log and an SVG loss curve.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "train/trainer.h"
#include "util/json.h"

namespace llmprune::cli {

struct HealCliOptions {
  std::string data, val_data, tokenizer, out, merged_out, preset, log, loss_svg,
      targets = "q_proj,v_proj";
  double val_fraction = 0;
  int64_t seq_len = 256;
  bool train_on_inputs = false, overwrite = false, stream = false;
  TrainOptions train;
};

// Every healing option, named "--<prefix><name>": prefix "" for `heal` (--data required),
// "heal-" for `prune ... --heal` (--heal-data, --heal-out, --heal-lr, ...).
void add_heal_options(CLI::App* cmd, HealCliOptions& o, const std::string& prefix = "");
// Apply --preset to every option the command line did not set.
void apply_heal_preset(CLI::App* cmd, HealCliOptions& o, const std::string& prefix = "");
// `prune depth|width --heal`: the shared flags (--heal and the heal- group), and the step run
// after pruning: heal `pruned_dir` (adapter to --heal-out, default <pruned>-heal) and, when
// `eval_dataset` is set, its perplexity after healing (eval's protocol).
struct PruneHealOptions {
  bool heal = false;
  HealCliOptions opts;
};
void add_prune_heal_options(CLI::App* cmd, PruneHealOptions& o);
// Before pruning: --heal-data given and readable.
void check_prune_heal(const PruneHealOptions& o);
json prune_then_heal(CLI::App* cmd, PruneHealOptions& o, const std::string& pruned_dir,
                     bool overwrite, uint64_t seed, const std::string& device,
                     const std::string& dtype, const std::string& eval_dataset,
                     int64_t eval_seq_len);
// Heal `model_dir` (compute dtype / device from `load`); returns the report section.
json run_heal_job(const std::string& model_dir, const HealCliOptions& o, const std::string& device,
                  const std::string& dtype);

}  // namespace llmprune::cli
