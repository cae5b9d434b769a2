// PrunePlan: what to remove and why, as plain data with a JSON round trip, so a plan can be
// saved, read, edited by hand, diffed and applied later without recalibrating. Depth units
// (whole layers, attention or MLP sub-blocks) name original layer indices; a width plan also
// lists, per layer, the KV groups, query heads and MLP channels it removes.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "arch/model_spec.h"
#include "util/json.h"

namespace llmprune {

enum class UnitKind { kLayer, kAttn, kMlp };
const char* unit_kind_name(UnitKind k);  // "layer", "attn", "mlp"

struct PruneUnit {
  UnitKind kind = UnitKind::kLayer;
  int64_t layer = 0;    // original layer index
  double score = 0;     // the method's score when it was chosen (see `why`)
  double priority = 0;  // restore priority: the bundle split puts the highest in B
  std::string bundle;   // "B" (restored at stage AB) or "C" (restored at FULL)
  std::string why;
};

// Which sub-blocks a model has left (index = original layer).
struct DepthState {
  std::vector<bool> attn, mlp;
  static DepthState of(const ModelSpec& spec);
  bool has_layer(int64_t l) const {
    return attn[static_cast<size_t>(l)] || mlp[static_cast<size_t>(l)];
  }
  int64_t n_layers() const { return static_cast<int64_t>(attn.size()); }
  void remove(UnitKind kind, int64_t layer);
};

// Width cut: per layer, sorted group indices of the source model's group sets (arch/family.h).
struct WidthCut {
  std::map<int64_t, std::vector<int64_t>> kv_groups;  // layer -> removed KV groups
  std::map<int64_t, std::vector<int64_t>> q_heads;    // layer -> removed query heads
  std::map<int64_t, std::vector<int64_t>> channels;   // layer -> removed MLP channels
  std::vector<int64_t> hidden;                        // removed residual-stream channels
  bool empty() const {
    return kv_groups.empty() && q_heads.empty() && channels.empty() && hidden.empty();
  }
};

struct PrunePlan {
  static constexpr int kVersion = 1;
  std::string kind = "depth";
  std::string method;
  std::string family;  // of the source model
  int64_t source_layers = 0;
  json params = json::object();  // every parameter of the run that made it
  std::vector<PruneUnit> units;
  WidthCut width;  // kind "width" only; its units are sub-blocks removed whole

  json to_json() const;
  // `where` names the file in errors.
  static PrunePlan from_json(const json& j, const std::string& where);
  // bad_input (naming `where`) when a unit names a layer or sub-block the spec does not have,
  // a unit appears twice, or nothing would be left.
  void validate(const ModelSpec& spec, const std::string& where) const;
  // Width plans: also bad_input for a group index outside the layer's set, a layer whose kept
  // KV groups would keep different numbers of query heads, or a cut of every group of a
  // sub-block (that is a unit: an attention or MLP drop).
  // The sub-blocks left after removing every unit.
  DepthState result(const ModelSpec& spec) const;

 private:
  void validate_width(const ModelSpec& spec, const DepthState& left,
                      const std::string& where) const;
};

}  // namespace llmprune
