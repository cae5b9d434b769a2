// Depth-pruning outputs (see depth_export.h).
#include "export/depth_export.h"

#include <cstdio>
#include <ctime>
#include <filesystem>
#include <set>

#include "export/config_patch.h"
#include "export/model_files.h"
#include "io/checkpoint.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/sha256.h"

namespace llmprune {
namespace fs = std::filesystem;

namespace {

std::string layer_file(int64_t layer) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "layer_%03lld", static_cast<long long>(layer));
  return buf;
}

}  // namespace

json export_depth(const CheckpointConfig& source, const TensorStore& store,
                  const DepthLayout& layout, const PrunePlan& plan, const DepthExport& opts) {
  check_output_paths(source.dir, {opts.out_dir, opts.bundles_dir});
  for (const auto& out : {opts.out_dir, opts.bundles_dir})
    LLMPRUNE_CHECK(opts.overwrite || !path_exists(out), "output ", out,
                   " already exists (pass --overwrite to replace it)");
  const Family& family = *source.family;
  std::string stored_dtype = "F32";
  if (!layout.kept.empty())
    stored_dtype = dtype_name(store.entry(layout.kept.front().second).dtype);
  ConfigPatch patch;
  for (const auto& e : layout.layers) patch.kept_original.push_back(e.original);
  patch.dropped_attn = layout.dropped_attn;
  patch.dropped_mlp = layout.dropped_mlp;
  patch.torch_dtype = torch_dtype_of(stored_dtype);
  const json config = patch_config(source.config, family, layout.spec, patch,
                                   join_path(opts.out_dir, "config.json"));
  SafetensorsWriteOptions wo;
  wo.max_shard_bytes = source_shard_bytes(source.dir, store);

  json manifest;
  write_dir_atomic(opts.out_dir, opts.overwrite, [&](const std::string& tmp) {
    std::vector<std::pair<std::string, std::string>> names;
    for (const auto& [dst, src] : layout.kept) names.emplace_back(src, dst);
    const std::vector<WrittenFile> files =
        copy_tensors(store, names, tmp, wo, "writing pruned model");
    write_json_file(join_path(tmp, "config.json"), config);
    const std::vector<std::string> tok = copy_tokenizer_files(source.dir, tmp);
    fs::create_directories(join_path(tmp, "original_config"));
    write_file_atomic(join_path(tmp, "original_config/config.json"), read_file(source.config_path));
    write_json_file(join_path(tmp, "prune_plan.json"), plan.to_json());

    json removed = json::array();
    for (const auto& u : plan.units)
      removed.push_back({{"kind", unit_kind_name(u.kind)},
                         {"layer", u.layer},
                         {"score", u.score},
                         {"priority", u.priority},
                         {"bundle", u.bundle},
                         {"why", u.why}});
    manifest = opts.manifest_extra;
    manifest["format"] = "llmprune-depth";
    manifest["llmprune_version"] = LLMPRUNE_VERSION;
    manifest["created_utc"] = utc_now();
    manifest["source"] = {{"path", canonical_path(source.dir)},
                          {"family", family.name()},
                          {"n_layers", plan.source_layers},
                          {"config_sha256", sha256_file(source.config_path)},
                          {"weights", weight_file_hashes(source.dir, store)}};
    manifest["method"] = plan.method;
    manifest["removed"] = removed;
    manifest["n_layers"] = layout.spec.n_layers();
    manifest["weights"] = files_json(files);
    manifest["tokenizer_files"] = tok;
    manifest["bundles_dir"] = canonical_path(opts.bundles_dir);
    const std::string manifest_text = manifest.dump(2) + "\n";
    write_file_atomic(join_path(tmp, "manifest.json"), manifest_text);
    const std::string manifest_sha = sha256_hex(manifest_text);

    json layers = json::array();
    for (const auto& e : layout.layers)
      layers.push_back(
          {{"layer", e.layer}, {"original", e.original}, {"attn", e.attn}, {"mlp", e.mlp}});
    json bundle_units = json::object();
    for (const auto& [b, by_layer] : layout.bundles) {
      json idx = json::array();
      for (const auto& [l, names] : by_layer) idx.push_back(l);
      bundle_units[b] = idx;
    }
    write_json_file(join_path(tmp, "layers_map.json"), {{"format", "llmprune-layers-map"},
                                                        {"manifest_sha256", manifest_sha},
                                                        {"family", family.name()},
                                                        {"source_layers", plan.source_layers},
                                                        {"layers", layers},
                                                        {"bundles", bundle_units},
                                                        {"restored", json::array()}});
    if (opts.extra) opts.extra(tmp);

    // The bundles last: their metadata names A's manifest.
    write_dir_atomic(opts.bundles_dir, opts.overwrite, [&](const std::string& btmp) {
      for (const std::string b : {"B", "C"}) {
        const std::string dir = join_path(btmp, b);
        fs::create_directories(dir);
        json units = json::array();
        auto it = layout.bundles.find(b);
        if (it != layout.bundles.end()) {
          for (const auto& [layer, tensor_names] : it->second) {
            std::vector<std::pair<std::string, std::string>> same;
            for (const auto& n : tensor_names) same.emplace_back(n, n);
            SafetensorsWriteOptions bo;
            bo.prefix = layer_file(layer);
            const auto written = copy_tensors(store, same, dir, bo, "");
            json kinds = json::array();
            for (const auto& u : plan.units)
              if (u.layer == layer && u.bundle == b) kinds.push_back(unit_kind_name(u.kind));
            units.push_back({{"original_layer", layer},
                             {"removed", kinds},
                             {"file", written.front().name},
                             {"sha256", written.front().sha256},
                             {"tensors", tensor_names}});
          }
        }
        write_json_file(join_path(dir, "bundle_meta.json"),
                        {{"format", "llmprune-bundle"},
                         {"bundle", b},
                         {"stage", b == "B" ? "AB" : "FULL"},
                         {"restores", b == "B" ? "A + B = stage AB" : "A + B + C = stage FULL"},
                         {"manifest_sha256", manifest_sha},
                         {"family", family.name()},
                         {"source_layers", plan.source_layers},
                         {"units", units}});
      }
    });
  });
  log_info("pruned model: ", opts.out_dir, " (", layout.spec.n_layers(), " of ", plan.source_layers,
           " layers); bundles: ", opts.bundles_dir);
  return manifest;
}

}  // namespace llmprune
