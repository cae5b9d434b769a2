// Applying a depth plan: the pruned model's spec (layers renumbered 0.., removed sub-blocks
// gone), the map from its layers to the original ones, and where every source tensor goes:
// renamed into the pruned model, or into bundle B or C under its original name. Names come
// from the family's tensor table; nothing here knows a tensor name.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "arch/family.h"
#include "plan/prune_plan.h"

namespace llmprune {

struct LayerMapEntry {
  int64_t layer = 0;     // index in the pruned model
  int64_t original = 0;  // index in the source model
  bool attn = true, mlp = true;
};

struct DepthLayout {
  ModelSpec spec;                                         // the pruned model
  std::vector<LayerMapEntry> layers;                      // one per pruned layer
  std::vector<std::pair<std::string, std::string>> kept;  // (name in pruned model, source name)
  // bundle ("B"/"C") -> original layer -> source tensor names (original names)
  std::map<std::string, std::map<int64_t, std::vector<std::string>>> bundles;
  // Original indices of kept layers that lost their attention / MLP sub-block (LLM-Drop's
  // drop_attn_list / drop_mlp_list).
  std::vector<int64_t> dropped_attn, dropped_mlp;
};

// `source_tensors`: every tensor name in the source checkpoint (names the family table does not
// know, such as a stored tied lm_head, are kept as they are).
DepthLayout apply_depth(const Family& family, const ModelSpec& source, const PrunePlan& plan,
                        const std::vector<std::string>& source_tensors);

// The spec of `source` reduced to `state`: layers with neither sub-block are dropped, the rest
// renumbered in order. `kept_original` receives the original index of each remaining layer.
ModelSpec depth_spec(const ModelSpec& source, const DepthState& state,
                     std::vector<int64_t>* kept_original);

}  // namespace llmprune
