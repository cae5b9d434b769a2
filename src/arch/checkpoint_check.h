// Strict checkpoint validation: the tensor set and every shape must be exactly what the
// family table derives from the config (head counts derived from the weights are
// cross-checked). Also opens a checkpoint folder's config with one-line errors.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "arch/family.h"
#include "arch/model_spec.h"
#include "util/json.h"

namespace llmprune {

class TensorStore;  // io/safetensors.h

using ShapeMap = std::map<std::string, std::vector<int64_t>>;

struct TensorSetCheck {
  std::vector<std::string> warnings;
  std::string tied_lm_head;  // name of an lm_head present although embeddings are tied
};

// Throws bad_input (one line, prefixed by `where`) when tensors are missing, unexpected
// (q/k/v biases that the family would drop get their own message) or mis-shaped.
TensorSetCheck validate_tensor_set(const Family& family, const ModelSpec& spec,
                                   const ShapeMap& present, const std::string& where);

// config.json of a checkpoint folder, with errors for a missing folder / config / weights.
struct CheckpointConfig {
  std::string dir, config_path;
  json config;
  const Family* family = nullptr;
  ModelSpec spec;
};
CheckpointConfig read_checkpoint_config(const std::string& dir);
// The checkpoint's tensors under the family's canonical names (Family::canonical_name).
TensorStore open_checkpoint_tensors(const CheckpointConfig& cc);

std::string shape_str(const std::vector<int64_t>& shape);  // "[64, 512]"

}  // namespace llmprune
