// LoRA adapters (PEFT's convention): y = W x + (alpha / r) B A dropout(x), A [r, in]
// Kaiming-uniform, B [out, r] zero at start, fp32 (fp64 when the model computes in fp64).
// They live beside the model and attach to its Linear modules through LinearImpl::adapter.
#pragma once

#include <torch/torch.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "arch/family.h"
#include "arch/model_spec.h"
#include "model/modules.h"

namespace llmprune {

struct LoraConfig {
  int64_t r = 8;
  double alpha = 16;
  double dropout = 0;
  // HF module names (q_proj, ...), or the groups attn, mlp, all.
  std::vector<std::string> targets = {"q_proj", "v_proj"};
};

// Dropout state shared by a set's adapters: when `on`, adapter i draws its mask from a
// generator seeded with mix(seed, i), so a recomputed forward draws the same masks.
struct LoraDropout {
  bool on = false;
  uint64_t seed = 0;
};

class LoraAdapter : public LinearAdapter {
 public:
  LoraAdapter(torch::Tensor a, torch::Tensor b, double scaling, double dropout, uint64_t index,
              std::shared_ptr<const LoraDropout> state);
  torch::Tensor forward(const torch::Tensor& x) const override;
  torch::Tensor A, B;  // [r, in], [out, r]
  double scaling;

 private:
  double dropout_;
  uint64_t index_;
  std::shared_ptr<const LoraDropout> state_;
};

// One adapted linear map.
struct LoraModule {
  std::string path;        // HF module path: model.layers.3.self_attn.q_proj
  std::string short_name;  // q_proj
  int64_t layer = 0;
  int64_t in = 0, out = 0;
  std::shared_ptr<LoraAdapter> adapter;
};

// The linear maps of a model that LoRA can target: (module path, short name, layer, in, out),
// from the family's tensor table (so heterogeneous layers get their own shapes; removed
// sub-blocks have none).
struct LinearSite {
  std::string path, short_name;
  int64_t layer, in, out;
  TensorRole role;
};
std::vector<LinearSite> linear_sites(const Family& family, const ModelSpec& spec);
// The adapted module of a site with adapter weights A [r, in] and B [out, r].
LoraModule lora_module(const LinearSite& site, torch::Tensor a, torch::Tensor b);
// Resolve --targets (names and attn/mlp/all) against the sites; bad_input naming the valid
// module names for an unknown one.
std::vector<std::string> resolve_targets(const std::vector<std::string>& targets,
                                         const std::vector<LinearSite>& sites);

class LoraSet {
 public:
  // Fresh adapters (A Kaiming-uniform from `seed`, B zero) on every targeted site.
  static LoraSet create(const Family& family, const ModelSpec& spec, const LoraConfig& cfg,
                        uint64_t seed, torch::ScalarType dtype);
  const LoraConfig& config() const { return cfg_; }
  const std::vector<LoraModule>& modules() const { return modules_; }
  // The resolved short names targeted (sorted).
  const std::vector<std::string>& target_names() const { return targets_; }
  // Set every adapter of `root` (a decoder layer, or a whole model with prefix "") whose
  // module path prefix + key is adapted; `detach` removes them instead.
  void attach(torch::nn::Module& root, const std::string& prefix, bool detach = false) const;
  // Adapters of one layer: PEFT key (without "base_model.model.") -> tensor, A and B.
  std::vector<std::pair<std::string, torch::Tensor>> layer_tensors(int64_t layer) const;
  // All adapter tensors under PEFT names: base_model.model.<path>.lora_{A,B}.weight.
  std::vector<std::pair<std::string, torch::Tensor>> peft_tensors() const;
  LoraDropout& dropout() { return *dropout_; }
  // Module paths adapted in a layer.
  int64_t n_parameters() const;

  // Used by the PEFT loader: adapters from given tensors.
  static LoraSet from_tensors(const LoraConfig& cfg, std::vector<LoraModule> modules);

 private:
  LoraConfig cfg_;
  std::vector<std::string> targets_;
  std::vector<LoraModule> modules_;
  std::map<std::string, size_t> by_path_;
  std::shared_ptr<LoraDropout> dropout_ = std::make_shared<LoraDropout>();
};

// PEFT tensor names for a module path.
std::string peft_key(const std::string& module_path, char ab);  // 'A' or 'B'

}  // namespace llmprune
