// Reading a depth-pruned model's layers_map.json (see depth_map.h).
#include "apply/depth_map.h"

#include "arch/registry.h"
#include "util/fs.h"

namespace llmprune {

DepthMap read_depth_map(const std::string& dir, const std::string& tag) {
  DepthMap m;
  m.dir = dir;
  m.map_path = join_path(dir, "layers_map.json");
  m.layers_map = read_json_file(m.map_path);
  const json& map = m.layers_map;
  m.manifest_sha = json_get<std::string>(map, "manifest_sha256", m.map_path, tag);
  m.pruned = read_checkpoint_config(dir);
  m.original_path = join_path(dir, "original_config/config.json");
  m.original_config = read_json_file(m.original_path);
  m.family = &detect_family(m.original_config, m.original_path);
  m.source = spec_from_config(*m.family, m.original_config, m.original_path);

  m.state.attn.assign(static_cast<size_t>(m.source.n_layers()), false);
  m.state.mlp = m.state.attn;
  const json layers = json_get<json>(map, "layers", m.map_path, tag);
  LLMPRUNE_CHECK(layers.is_array(), tag, " ", m.map_path, ": \"layers\" is not a list");
  for (const json& e : layers) {
    const int64_t l = json_get<int64_t>(e, "original", m.map_path, tag);
    LLMPRUNE_CHECK(l >= 0 && l < m.source.n_layers(), tag, " ", m.map_path, ": original layer ", l,
                   " outside the source's ", m.source.n_layers(), " layers");
    m.state.attn[static_cast<size_t>(l)] = json_get<bool>(e, "attn", m.map_path, tag);
    m.state.mlp[static_cast<size_t>(l)] = json_get<bool>(e, "mlp", m.map_path, tag);
    m.original_of.push_back(l);
  }
  LLMPRUNE_CHECK(static_cast<int64_t>(m.original_of.size()) == m.pruned.spec.n_layers(), tag, " ",
                 m.map_path, " lists ", m.original_of.size(), " layers, the model has ",
                 m.pruned.spec.n_layers());
  if (map.contains("restored") && map.at("restored").is_array())
    for (const json& r : map.at("restored"))
      if (r.is_string()) m.restored.insert(r.get<std::string>());
  return m;
}

std::map<std::string, std::string> original_tensor_names(const DepthMap& m,
                                                         const TensorStore& store) {
  const TensorNaming& n = m.family->naming();
  std::map<std::string, TensorInfo> table;
  for (const TensorInfo& t : m.family->tensors(m.pruned.spec)) table.emplace(t.name, t);
  std::map<std::string, std::string> out;
  for (const std::string& name : store.names()) {
    auto it = table.find(name);
    if (it == table.end() || it->second.layer < 0) {
      out[name] = name;
      continue;
    }
    const std::string prefix = n.layer_prefix(it->second.layer);
    out[n.layer_prefix(m.original_of[static_cast<size_t>(it->second.layer)]) +
        name.substr(prefix.size())] = name;
  }
  return out;
}

}  // namespace llmprune
