// Nemotron-NAS (DeciLM, model_type "nemotron-nas") configs for heterogeneous Llama-type models:
// one block_configs entry per layer (attention no_op or n_heads_in_group, ffn no_op, ffn_mult
// or intermediate_size), with the layout of NVIDIA's published configs (docs/export.md).
#pragma once

#include <cstdint>
#include <string>

#include "arch/model_spec.h"
#include "util/json.h"

namespace llmprune {

// DeciLM's rule (modeling_decilm.py, vLLM nemotron_nas.py): int(2 * ffn_mult * hidden / 3)
// rounded up to a multiple of 256.
int64_t nemotron_ffn_mult_to_intermediate(double ffn_mult, int64_t hidden_size);

// The ffn_mult that gives `intermediate_size` back through that rule (rounded to 6 decimals,
// as NVIDIA's FFNConfig stores it), or 0 when there is none (the size is not a multiple of 256).
double nemotron_ffn_mult_for(int64_t intermediate_size, int64_t hidden_size);

// config.json for `spec` in the nemotron-nas layout, from `patched` (the source config already
// patched to the spec by patch_config: every key it does not change is kept). bad_input,
// naming `where` and the layer, for a layer the format cannot express (query heads or head_dim
// differing from the global ones, sliding-window attention, biases).
json nemotron_nas_config(const json& patched, const ModelSpec& spec, const std::string& where);

}  // namespace llmprune
