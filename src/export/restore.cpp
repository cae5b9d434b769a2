// Restoring bundles (see restore.h).
#include "export/restore.h"

#include <filesystem>
#include <map>
#include <memory>
#include <set>

#include "apply/depth_apply.h"
#include "apply/depth_map.h"
#include "arch/checkpoint_check.h"
#include "arch/registry.h"
#include "export/config_patch.h"
#include "export/depth_export.h"
#include "io/safetensors.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/log.h"

namespace llmprune {
namespace fs = std::filesystem;

namespace {

template <typename T>
T get(const json& j, const char* key, const std::string& file) {
  return json_get<T>(j, key, file, "[restore]");
}

const json& field(const json& j, const char* key, const std::string& file) {
  if (!j.is_object() || !j.contains(key))
    throw bad_input("[restore] ", file, ": missing \"", key, "\"");
  return j.at(key);
}

}  // namespace

json restore_bundles(const RestoreOptions& o) {
  LLMPRUNE_CHECK(!o.bundles.empty(), "[restore] give at least one --bundle");
  const std::string map_path = join_path(o.model, "layers_map.json");
  LLMPRUNE_CHECK(path_exists(map_path), "[restore] ", o.model,
                 " has no layers_map.json: not a model written by `llmprune prune depth`");
  const DepthMap dm = read_depth_map(o.model, "[restore]");
  const std::string& manifest_sha = dm.manifest_sha;
  const Family& family = *dm.family;
  const ModelSpec& source = dm.source;
  const json& original = dm.original_config;
  const TensorNaming& n = family.naming();
  std::vector<std::string> outs = {o.out};
  check_output_paths(o.model, outs);

  // What the model has now: original layer -> (attn, mlp), and where its tensors are.
  DepthState state = dm.state;
  const TensorStore a_store = TensorStore::open(o.model);
  // Every tensor available, under its original name -> (store, name in that store).
  std::map<std::string, std::pair<const TensorStore*, std::string>> available;
  for (const auto& [orig, name] : original_tensor_names(dm, a_store))
    available[orig] = {&a_store, name};

  std::vector<std::unique_ptr<TensorStore>> bundle_stores;  // one per layer file, stable addresses
  json applied = json::array();
  for (const std::string& dir : o.bundles) {
    const std::string meta_path = join_path(dir, "bundle_meta.json");
    LLMPRUNE_CHECK(path_exists(meta_path), "[restore] ", dir,
                   " has no bundle_meta.json: not a bundle");
    const json meta = read_json_file(meta_path);
    const std::string their = get<std::string>(meta, "manifest_sha256", meta_path);
    LLMPRUNE_CHECK(their == manifest_sha, "[restore] bundle ", dir,
                   " was made from another model: "
                   "its manifest hash ",
                   their.substr(0, 12), "... does not match ", o.model, " (",
                   manifest_sha.substr(0, 12), "...)");
    for (const json& u : field(meta, "units", meta_path)) {
      const int64_t l = get<int64_t>(u, "original_layer", meta_path);
      const std::string file = get<std::string>(u, "file", meta_path);
      LLMPRUNE_CHECK(!file.empty() && file.find('/') == std::string::npos && file != "..",
                     "[restore] ", meta_path, ": unit file \"", file,
                     "\" must be a file name inside the bundle");
      bundle_stores.push_back(
          std::make_unique<TensorStore>(TensorStore::open(join_path(dir, file))));
      const TensorStore& st = *bundle_stores.back();
      for (const std::string& name : st.names()) {
        LLMPRUNE_CHECK(!available.count(name), "[restore] bundle ", dir, " (layer ", l,
                       ") is already applied to ", o.model, " or given twice: tensor ", name,
                       " is present");
        available[name] = {&st, name};
      }
    }
    applied.push_back({{"bundle", meta.value("bundle", "")}, {"dir", dir}});
  }

  // Sub-blocks present now follow from the tensors: a sub-block is back when its tensors are.
  for (const TensorInfo& t : family.tensors(source)) {
    if (t.layer < 0 || !available.count(t.name)) continue;
    const bool attn = is_attention_role(t.role) || t.role == TensorRole::kAttnNorm;
    (attn ? state.attn : state.mlp)[static_cast<size_t>(t.layer)] = true;
  }
  std::vector<int64_t> kept;
  const ModelSpec spec = depth_spec(source, state, &kept);
  std::map<int64_t, int64_t> new_index;
  for (size_t i = 0; i < kept.size(); ++i) new_index[kept[i]] = static_cast<int64_t>(i);

  // Output names from original names; every tensor of the new spec must be available.
  std::map<std::string, TensorInfo> src_table;
  for (const TensorInfo& t : family.tensors(source)) src_table.emplace(t.name, t);
  std::map<const TensorStore*, std::vector<std::pair<std::string, std::string>>> by_store;
  for (const auto& [orig, where] : available) {
    auto it = src_table.find(orig);
    std::string out_name = orig;
    if (it != src_table.end() && it->second.layer >= 0) {
      const std::string prefix = n.layer_prefix(it->second.layer);
      out_name = n.layer_prefix(new_index.at(it->second.layer)) + orig.substr(prefix.size());
    }
    by_store[where.first].emplace_back(where.second, out_name);
  }
  ConfigPatch patch;
  patch.kept_original = kept;
  for (int64_t l : kept) {
    if (source.layers[static_cast<size_t>(l)].attn && !state.attn[static_cast<size_t>(l)])
      patch.dropped_attn.push_back(l);
    if (source.layers[static_cast<size_t>(l)].mlp && !state.mlp[static_cast<size_t>(l)])
      patch.dropped_mlp.push_back(l);
  }
  patch.torch_dtype = dm.pruned.config.value("torch_dtype", "");
  const json config = patch_config(original, family, spec, patch, join_path(o.out, "config.json"));

  json report;
  write_dir_atomic(o.out, o.overwrite, [&](const std::string& tmp) {
    // One combined output: gather (store, source name, output name) then stream in name order.
    std::vector<TensorDecl> decls;
    std::map<std::string, std::pair<const TensorStore*, std::string>> from;
    for (const auto& [store, names] : by_store)
      for (const auto& [src, dst] : names) {
        const TensorEntry& e = store->entry(src);
        decls.push_back({dst, e.dtype, e.shape});
        from[dst] = {store, src};
      }
    ShapeMap present;
    for (const auto& d : decls) present[d.name] = d.shape;
    validate_tensor_set(family, spec, present, "[restore] " + o.out);
    SafetensorsWriteOptions wo;
    wo.max_shard_bytes = source_shard_bytes(o.model, a_store);
    SafetensorsStreamWriter writer(tmp, std::move(decls), wo);
    for (const std::string& dst : writer.order()) {
      const auto& [store, src] = from.at(dst);
      writer.write(dst, store->load(src, /*release=*/true));
    }
    json files = json::array();
    for (const auto& f : writer.finish())
      files.push_back({{"file", f.name}, {"bytes", f.bytes}, {"sha256", f.sha256}});
    write_json_file(join_path(tmp, "config.json"), config);
    copy_tokenizer_files(o.model, tmp);
    fs::create_directories(join_path(tmp, "original_config"));
    write_file_atomic(join_path(tmp, "original_config/config.json"), read_file(dm.original_path));
    json layers = json::array();
    for (size_t i = 0; i < kept.size(); ++i)
      layers.push_back({{"layer", static_cast<int64_t>(i)},
                        {"original", kept[i]},
                        {"attn", spec.layers[i].attn.has_value()},
                        {"mlp", spec.layers[i].mlp.has_value()}});
    json new_map = dm.layers_map;
    new_map["layers"] = layers;
    for (const json& ap : applied) new_map["restored"].push_back(ap.at("bundle"));
    write_json_file(join_path(tmp, "layers_map.json"), new_map);
    report = {{"format", "llmprune-restore"},
              {"llmprune_version", LLMPRUNE_VERSION},
              {"from", o.model},
              {"bundles", applied},
              {"manifest_sha256", manifest_sha},
              {"n_layers", spec.n_layers()},
              {"source_layers", source.n_layers()},
              {"weights", files}};
    write_json_file(join_path(tmp, "manifest.json"), report);
  });
  log_info("restored ", o.out, ": ", spec.n_layers(), " of ", source.n_layers(), " layers");
  return report;
}

}  // namespace llmprune
