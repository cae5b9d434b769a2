// config.json of a pruned or restored model: the source config with every key it does not
// change kept (rope extras, pad ids, quantization hints...), and the keys that follow from the
// new layer list patched: num_hidden_layers, per-layer lists (layer_types), qwen2's
// max_window_layers, the "llmprune" per-layer block when layers differ, LLM-Drop's
// drop_attn_list / drop_mlp_list, and torch_dtype.
#pragma once

#include <string>
#include <vector>

#include "arch/family.h"
#include "util/json.h"

namespace llmprune {

struct ConfigPatch {
  // Original index of each layer of the new model, in order.
  std::vector<int64_t> kept_original;
  // Original indices of kept layers whose attention / MLP sub-block was removed (source 002).
  std::vector<int64_t> dropped_attn, dropped_mlp;
  std::string torch_dtype;  // the stored dtype of the new weights ("" = keep)
};

// The result is checked: reading it back gives exactly `spec` (bad_input-free by design; an
// internal error otherwise).
json patch_config(const json& source_config, const Family& family, const ModelSpec& spec,
                  const ConfigPatch& patch, const std::string& where);

// "float32", "bfloat16", "float16" for a safetensors dtype name ("F32", ...).
std::string torch_dtype_of(const std::string& safetensors_dtype);

}  // namespace llmprune
