// Loading a model from tensors in mapped safetensors stores, possibly several and under other
// names (a depth-pruned model plus its bundles, serve/staged_model.cpp): the one weight-loading
// path, which CausalLM::load takes too (in place where the dtype is kept, else one copy).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <utility>

#include "arch/checkpoint_check.h"
#include "model/causal_lm.h"

namespace llmprune {

class TensorStore;  // io/safetensors.h

// Where the tensor of the parameter `name` is stored: its store and its name there.
using TensorLocator =
    std::function<std::pair<const TensorStore*, std::string>(const std::string& name)>;

// Validates the tensor set `present` (names and shapes under the model's names) against
// `family` and `spec`, builds the model for `opts` and loads every parameter from
// `locate(name)`, with `--weights` and `--check-weights` applied. `where` prefixes errors.
std::unique_ptr<CausalLM> load_stored_weights(const Family& family, const ModelSpec& spec,
                                              const ShapeMap& present, const TensorLocator& locate,
                                              const LoadOptions& opts, const std::string& where);

}  // namespace llmprune
