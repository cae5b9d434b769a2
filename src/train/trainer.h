// The healing loop: LoRA (adapters beside a frozen model) or full fine-tuning, one optimizer
// step = batch_size x grad_accum windows whose gradients come from calib/gradients.h's layer
// recomputation (memory ~ one layer's activations plus the stored layer inputs). The data
// order, dropout masks and initialisation follow from the seed alone, so a run resumed from a
// checkpoint (step, adapter or weights, AdamW moments) ends with the same bytes as one that
// was not interrupted.
#pragma once

#include <cmath>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "model/layer_source.h"
#include "train/data.h"
#include "train/lora.h"
#include "train/optimizer.h"
#include "util/json.h"

namespace llmprune {

struct TrainOptions {
  std::string method = "lora";  // lora | full
  LoraConfig lora;
  double lr = 3e-4, weight_decay = 0, max_grad_norm = 1.0;
  int64_t warmup_steps = 0;
  std::string scheduler = "cosine";
  int64_t epochs = 1, max_steps = 0;  // max_steps > 0 overrides epochs
  int64_t batch_size = 1, grad_accum = 1;
  uint64_t seed = 0;
  int64_t save_every = 0;      // write a checkpoint every N steps (0 = never)
  std::string checkpoint_dir;  // where (replaced each time)
  std::string resume;          // a checkpoint folder to continue from
  int64_t eval_every = 0;      // validation loss every N steps (0 = only at start and end)
  int64_t stop_after = 0;      // stop (as if killed) after this many steps; tests
  bool progress = true;
  std::string base_model;  // recorded in adapter_config.json
};

struct StepRecord {
  int64_t step = 0;  // 1-based
  double loss = 0, lr = 0, grad_norm = 0, tokens_per_second = 0;
  double val_loss = NAN;
  json to_json() const;
};

struct TrainResult {
  int64_t steps = 0, total_steps = 0, tokens = 0;
  double seconds = 0, val_before = NAN, val_after = NAN;
  std::vector<StepRecord> log;
};

class Trainer {
 public:
  // LoRA: adapters are created (or taken from the resume checkpoint) and attached to each
  // layer as it is fetched, so `src` may stream (one layer's weights at a time, fetched twice
  // per step). Full (`src` resident, compute dtype f32 or f64): every decoder-layer parameter,
  // the final norm and an untied lm_head train; the embedding stays frozen.
  Trainer(LayerSource& src, TrainData train, TrainData val, TrainOptions opts);
  TrainResult run(const std::function<void(const StepRecord&)>& on_step = {});
  const LoraSet* lora() const { return lora_ ? &*lora_ : nullptr; }
  // The trainable tensors under their names (PEFT names for LoRA, HF names for full).
  const std::vector<std::pair<std::string, torch::Tensor>>& trainable() const {
    return opt_->params();
  }
  // Masked mean NLL of `data` (token-weighted) with the current weights and adapters.
  double eval_loss(const TrainData& data);
  // The whole model's tensors under HF names (full fine-tuning output).
  std::vector<std::pair<std::string, torch::Tensor>> model_tensors();

 private:
  void save_checkpoint(int64_t step, const std::vector<StepRecord>& log) const;
  int64_t load_checkpoint(std::vector<StepRecord>& log);
  torch::Tensor batch_rows(int64_t step) const;
  json fingerprint() const;

  LayerSource& src_;
  TrainData train_, val_;
  TrainOptions o_;
  std::optional<LoraSet> lora_;
  std::unique_ptr<AdamW> opt_;
  std::map<std::string, size_t> index_;  // trainable name -> position
  int64_t total_steps_ = 0;
};

}  // namespace llmprune
