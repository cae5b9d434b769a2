// Architecture registry: the supported families, detection from config.json (model_type +
// architectures must agree), and the spec of a config including its "llmprune" block.
#pragma once

#include <string>
#include <vector>

#include "arch/family.h"
#include "arch/model_spec.h"
#include "util/json.h"

namespace llmprune {

const std::vector<const Family*>& families();
std::string supported_families();                     // "llama, mistral, qwen2, phi3, opt"
const Family& family_by_name(const std::string& name);  // bad_input listing the supported

// Detect the family of a config.json. Refuses (bad_input, naming the file) an unknown
// model_type or architecture (listing the supported families) and a model_type that
// disagrees with the architectures list.
const Family& detect_family(const json& config, const std::string& config_path);

// Family adapter + "llmprune" block (per-layer shapes of pruned models).
ModelSpec spec_from_config(const Family& family, const json& config,
                           const std::string& config_path);

// The "llmprune" block: {"layers": [{"attn": {"n_heads", "n_kv_heads", "head_dim"} | null,
//                                     "mlp": {"intermediate_size"} | null}, ...]}.
void apply_llmprune_block(const json& block, const std::string& config_path, ModelSpec& spec);
json llmprune_block(const ModelSpec& spec);
// True when every layer has attention and MLP of identical shape (stock config suffices).
bool is_uniform(const ModelSpec& spec);
// A full config.json for `spec`: the family's stock keys, plus the llmprune block when the
// layers are not uniform.
json config_for_spec(const Family& family, const ModelSpec& spec);

}  // namespace llmprune
