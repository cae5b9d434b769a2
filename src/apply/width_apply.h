// Width cuts: removing KV groups (one KV head with its query heads and the matching o_proj
// columns), query heads and MLP channels (gate/up rows, down column) from layers, by slicing
// the tensors along the ranges of the family's group sets (src/arch/family.h), or by zeroing
// the same ranges (the reference a sliced model must reproduce). The new layer shapes are
// derived from the sliced tensor shapes, never from requested counts (source 004).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "arch/family.h"
#include "io/safetensors.h"
#include "plan/prune_plan.h"

namespace llmprune {

// What slicing does to each tensor, known from shapes alone (so a 7B model can be written
// tensor by tensor).
struct WidthLayout {
  struct Entry {
    std::string name;
    std::vector<std::pair<int64_t, std::vector<int64_t>>> keep;  // (axis, kept indices)
    double scale = 1.0;          // norm weights after hidden pruning (see width_layout)
    std::vector<int64_t> shape;  // output shape
  };
  ModelSpec spec;              // of the result (derived from the output shapes)
  std::vector<Entry> kept;     // source order
  std::vector<std::string> dropped;  // tensors of sub-blocks removed whole (norms included)
};

// The cut of a width plan with its units (attention / MLP / layer drops) expanded into every
// group of those sub-blocks.
WidthCut full_cut(const ModelSpec& source, const PrunePlan& plan);

// shapes: every tensor of the source checkpoint (names not in the family's table are copied).
// Removing hidden channels keeps the model equal to the source with those channels zeroed:
// RMSNorm divides by the RMS over the channels, so with H' of H channels left every norm
// weight is scaled by sqrt(H / H') and rms_norm_eps by H / H' (then
// w' x / sqrt(sum x^2 / H' + eps') = w x / sqrt(sum x^2 / H + eps) exactly).
// bad_input: a layer or group index that does not exist, or kept KV groups left with different
// numbers of query heads.
WidthLayout width_layout(const Family& family, const ModelSpec& source, const WidthCut& cut,
                         const std::map<std::string, std::vector<int64_t>>& shapes);

// One tensor of the layout: `t` (source shape) -> output tensor.
torch::Tensor slice_entry(const WidthLayout::Entry& e, const torch::Tensor& t);

// In memory: the tensors with the cut applied, and the spec they have.
NamedTensors slice_width(const Family& family, const ModelSpec& source, const WidthCut& cut,
                         const NamedTensors& tensors, ModelSpec* sliced_spec);

// The same groups zeroed in place (shapes unchanged).
void mask_width(const Family& family, const ModelSpec& source, const WidthCut& cut,
                NamedTensors& tensors);

}  // namespace llmprune
