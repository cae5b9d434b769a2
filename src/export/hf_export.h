// Hugging Face folder export (`llmprune export --format hf | nemotron-nas`): the source
// config.json patched (every key it does not change kept, the real torch_dtype), tokenizer and
// generation files copied, weights streamed tensor by tensor, optionally converted to another
// float dtype. "hf" writes stock keys and refuses a heterogeneous model; "nemotron-nas" writes
// DeciLM block_configs (src/export/nemotron_nas.h).
#pragma once

#include <string>

#include "arch/model_spec.h"
#include "util/json.h"

namespace llmprune {

struct HfExportOptions {
  std::string model;          // Hugging Face checkpoint folder
  std::string out;            // output folder
  std::string format = "hf";  // hf | nemotron-nas
  std::string dtype_out;      // "" = keep each tensor's dtype; f32 | bf16 | f16
  bool overwrite = false;
};

// "" when every layer has the shape of layer 0 (stock keys suffice), otherwise a description
// of the first layer that differs ("layer 3 has no attention", "layer 2 has MLP width 96
// where layer 0 has 172", ...).
std::string first_differing_layer(const ModelSpec& spec);

// Export; returns the JSON report (out, format, files, torch_dtype, seconds).
json export_hf(const HfExportOptions& opts);

}  // namespace llmprune
