// StagedModel: a depth-pruned model A and the bundles depth pruning wrote (BUNDLES/B, C),
// loaded once as one set of layer weights (the union: as large as the full model), with one
// layer schedule per stage (A, AB, FULL). Each stage is a CausalLM of its own spec, so
// generate(), KVCache and everything else take it as they take a loaded checkpoint.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "model/causal_lm.h"
#include "model/decoder_lm.h"

namespace llmprune {

struct StageInfo {
  std::string name;                      // "A", "AB", "FULL" (from bundle_meta.json "stage")
  std::vector<std::string> bundles;      // bundles applied on top of A ("B", "C")
  std::vector<int64_t> original_layers;  // original index of each layer the stage runs
  std::vector<ScheduledLayer> schedule;  // over the shared model's layers
  ModelSpec spec;                        // the stage as a checkpoint (== restore's output)
};

class StagedModel {
 public:
  // `bundles_dir` "" (or a model without layers_map.json): one stage, the model itself.
  // bad_input: bundles made from another model (manifest hash), a malformed bundle.
  static std::unique_ptr<StagedModel> load(const std::string& model_dir,
                                           const std::string& bundles_dir,
                                           const LoadOptions& opts = {});
  ~StagedModel();

  int n_stages() const { return static_cast<int>(stages_.size()); }
  const StageInfo& info(int stage) const { return stages_.at(static_cast<size_t>(stage)); }
  // The stage as a model (shares the weights). Thread-safe for concurrent forward passes
  // with separate caches.
  CausalLM& stage(int stage) { return *views_.at(static_cast<size_t>(stage)); }
  // Index of a stage by name; bad_input listing the stages otherwise.
  int stage_index(const std::string& name) const;
  std::string stage_names() const;  // "A, AB, FULL"
  CausalLM& shared() { return *shared_; }
  const std::string& model_dir() const { return model_dir_; }

 private:
  StagedModel() = default;
  std::string model_dir_;
  std::unique_ptr<CausalLM> shared_;
  std::vector<StageInfo> stages_;
  std::vector<std::unique_ptr<CausalLM>> views_;
};

}  // namespace llmprune
