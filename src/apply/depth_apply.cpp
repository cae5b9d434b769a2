// Depth plan application (see depth_apply.h).
#include "apply/depth_apply.h"

#include "util/error.h"

namespace llmprune {

ModelSpec depth_spec(const ModelSpec& source, const DepthState& state,
                     std::vector<int64_t>* kept_original) {
  ModelSpec spec = source;
  spec.layers.clear();
  for (int64_t l = 0; l < source.n_layers(); ++l) {
    if (!state.has_layer(l)) continue;
    LayerSpec L = source.layers[static_cast<size_t>(l)];
    if (!state.attn[static_cast<size_t>(l)]) L.attn.reset();
    if (!state.mlp[static_cast<size_t>(l)]) L.mlp.reset();
    spec.layers.push_back(L);
    if (kept_original) kept_original->push_back(l);
  }
  return spec;
}

DepthLayout apply_depth(const Family& family, const ModelSpec& source, const PrunePlan& plan,
                        const std::vector<std::string>& source_tensors) {
  plan.validate(source, "plan");
  DepthLayout out;
  std::vector<int64_t> kept;
  out.spec = depth_spec(source, plan.result(source), &kept);
  std::map<int64_t, int64_t> new_index;  // original -> pruned
  for (size_t i = 0; i < kept.size(); ++i) {
    const auto& L = out.spec.layers[i];
    out.layers.push_back({static_cast<int64_t>(i), kept[i], L.attn.has_value(), L.mlp.has_value()});
    new_index[kept[i]] = static_cast<int64_t>(i);
  }
  // Which bundle each removed sub-block goes to.
  std::map<int64_t, std::string> attn_bundle, mlp_bundle;
  for (const auto& u : plan.units) {
    if (u.kind != UnitKind::kMlp && source.layers[static_cast<size_t>(u.layer)].attn)
      attn_bundle[u.layer] = u.bundle;
    if (u.kind != UnitKind::kAttn && source.layers[static_cast<size_t>(u.layer)].mlp)
      mlp_bundle[u.layer] = u.bundle;
  }
  for (const auto& [l, b] : attn_bundle)
    if (new_index.count(l)) out.dropped_attn.push_back(l);
  for (const auto& [l, b] : mlp_bundle)
    if (new_index.count(l)) out.dropped_mlp.push_back(l);

  std::map<std::string, TensorInfo> table;
  for (const TensorInfo& t : family.tensors(source)) table.emplace(t.name, t);
  const TensorNaming& n = family.naming();
  for (const std::string& name : source_tensors) {
    auto it = table.find(name);
    if (it == table.end() || it->second.layer < 0) {
      out.kept.emplace_back(name, name);
      continue;
    }
    const TensorInfo& t = it->second;
    const bool attn = is_attention_role(t.role) || t.role == TensorRole::kAttnNorm;
    const auto& bundle_of = attn ? attn_bundle : mlp_bundle;
    auto b = bundle_of.find(t.layer);
    if (b != bundle_of.end()) {
      out.bundles[b->second][t.layer].push_back(name);
      continue;
    }
    const std::string old_prefix = n.layer_prefix(t.layer);
    LLMPRUNE_ASSERT(name.rfind(old_prefix, 0) == 0, "tensor ", name, " of layer ", t.layer,
                    " does not start with ", old_prefix);
    out.kept.emplace_back(n.layer_prefix(new_index.at(t.layer)) + name.substr(old_prefix.size()),
                          name);
  }
  return out;
}

}  // namespace llmprune
