// PEFT adapter folders: adapter_config.json + adapter_model.safetensors with PEFT's field and
// tensor names (base_model.model.<module>.lora_A.weight), written atomically; loading checks
// every tensor against the model it is applied to. Also merging an adapter into a checkpoint.
#pragma once

#include <string>

#include "arch/family.h"
#include "arch/model_spec.h"
#include "train/lora.h"
#include "util/json.h"

namespace llmprune {

// The PEFT release whose format this follows (docs/healing.md).
constexpr const char* kPeftFormatVersion = "0.21.2";

// adapter_config.json for a set (base_model_name_or_path = `base_model`).
json peft_config(const LoraSet& set, const std::string& base_model);
// Write the folder atomically (replacing an existing adapter folder only when `overwrite`).
// `extra_files`: more (name, content) pairs written inside (e.g. a training state).
void save_adapter(const std::string& dir, const LoraSet& set, const std::string& base_model,
                  bool overwrite,
                  const std::vector<std::pair<std::string, std::string>>& extra_files = {});
// Read an adapter for a model: bad_input for a non-LoRA or unsupported config, a tensor
// naming no linear map of the model, or a shape that differs (both shapes named).
LoraSet load_adapter(const std::string& dir, const Family& family, const ModelSpec& spec,
                     torch::ScalarType dtype);
// Write `model_dir` with every adapted weight replaced by W + scaling B A (computed in fp32,
// stored in the weight's dtype) into `out_dir` (atomic; config and tokenizer files copied),
// streaming one tensor at a time.
void merge_adapter(const std::string& model_dir, const LoraSet& set, const std::string& out_dir,
                   bool overwrite);

}  // namespace llmprune

namespace llmprune {
class CausalLM;
// Load the adapter in `dir` for `model` and attach it (eval/generate --adapter); "" = none.
void apply_adapter(CausalLM& model, const std::string& dir);
}  // namespace llmprune
