// Width cuts: removing whole KV groups (one KV head with its query heads and the matching
// o_proj columns) and MLP channels (gate/up rows, down column) from layers, by physically
// slicing the tensors along the ranges the family's prune groups name (src/arch/family.h), or
// by zeroing the same ranges (the reference a sliced model must reproduce). The new layer
// shapes are derived from the sliced tensors, never from requested counts.
#pragma once

#include <map>
#include <vector>

#include "arch/family.h"
#include "io/safetensors.h"

namespace llmprune {

struct WidthCut {
  std::map<int64_t, std::vector<int64_t>> kv_groups;  // layer -> removed KV-group indices
  std::map<int64_t, std::vector<int64_t>> channels;   // layer -> removed MLP channel indices
};

// The tensors of `source` (HF names) with the cut applied physically, and the spec they have.
// A layer that loses every KV group loses its attention sub-block (and its norm); every
// channel, its MLP. bad_input: a layer or group index that does not exist.
NamedTensors slice_width(const Family& family, const ModelSpec& source, const WidthCut& cut,
                         const NamedTensors& tensors, ModelSpec* sliced_spec);

// The same groups zeroed in place (shapes unchanged).
void mask_width(const Family& family, const ModelSpec& source, const WidthCut& cut,
                NamedTensors& tensors);

}  // namespace llmprune
