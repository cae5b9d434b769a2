// Width-pruning output (see width_export.h).
#include "export/width_export.h"

#include <filesystem>
#include <map>

#include "export/config_patch.h"
#include "export/model_files.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/sha256.h"

namespace llmprune {
namespace fs = std::filesystem;

json export_width(const CheckpointConfig& source, const TensorStore& store,
                  const WidthLayout& layout, const PrunePlan& plan, const WidthExport& opts) {
  check_output_paths(source.dir, {opts.out_dir});
  LLMPRUNE_CHECK(opts.overwrite || !path_exists(opts.out_dir), "output ", opts.out_dir,
                 " already exists (pass --overwrite to replace it)");
  const Family& family = *source.family;
  ConfigPatch patch;
  for (int64_t l = 0; l < layout.spec.n_layers(); ++l) {
    patch.kept_original.push_back(l);
    const LayerSpec &was = source.spec.layers[static_cast<size_t>(l)],
                    &now = layout.spec.layers[static_cast<size_t>(l)];
    if (was.attn && !now.attn) patch.dropped_attn.push_back(l);
    if (was.mlp && !now.mlp) patch.dropped_mlp.push_back(l);
  }
  if (!layout.kept.empty())
    patch.torch_dtype = torch_dtype_of(dtype_name(store.entry(layout.kept.front().name).dtype));
  const json config = patch_config(source.config, family, layout.spec, patch,
                                   join_path(opts.out_dir, "config.json"));
  SafetensorsWriteOptions wo;
  wo.max_shard_bytes = source_shard_bytes(source.dir, store);

  int64_t params_before = 0, params_after = 0;
  std::vector<TensorDecl> decls;
  std::map<std::string, const WidthLayout::Entry*> entry;
  for (const auto& e : layout.kept) {
    decls.push_back({e.name, store.entry(e.name).dtype, e.shape});
    entry[e.name] = &e;
    int64_t n = 1;
    for (int64_t d : e.shape) n *= d;
    params_after += n;
  }
  for (const auto& name : store.names()) params_before += store.entry(name).numel();

  json manifest;
  write_dir_atomic(opts.out_dir, opts.overwrite, [&](const std::string& tmp) {
    SafetensorsStreamWriter writer(tmp, decls, wo);
    Progress progress("writing pruned model", static_cast<int64_t>(decls.size()), "tensor");
    for (const std::string& name : writer.order()) {
      writer.write(name, slice_entry(*entry.at(name), store.load(name, /*release=*/true)));
      progress.advance(1, 1);
    }
    progress.finish();
    const std::vector<WrittenFile> files = writer.finish();
    write_json_file(join_path(tmp, "config.json"), config);
    const std::vector<std::string> tok = copy_tokenizer_files(source.dir, tmp);
    fs::create_directories(join_path(tmp, "original_config"));
    write_file_atomic(join_path(tmp, "original_config/config.json"), read_file(source.config_path));
    write_json_file(join_path(tmp, "prune_plan.json"), plan.to_json());
    manifest = opts.manifest_extra;
    manifest["format"] = "llmprune-width";
    manifest["llmprune_version"] = LLMPRUNE_VERSION;
    manifest["created_utc"] = utc_now();
    manifest["source"] = {{"path", canonical_path(source.dir)},
                          {"family", family.name()},
                          {"n_layers", source.spec.n_layers()},
                          {"parameters", params_before},
                          {"config_sha256", sha256_file(source.config_path)},
                          {"weights", weight_file_hashes(source.dir, store)}};
    manifest["method"] = plan.method;
    manifest["parameters"] = params_after;
    manifest["removed_tensors"] = layout.dropped;
    manifest["weights"] = files_json(files);
    manifest["tokenizer_files"] = tok;
    if (opts.extra) opts.extra(tmp);
    write_file_atomic(join_path(tmp, "manifest.json"), manifest.dump(2) + "\n");
  });
  log_info("pruned model: ", opts.out_dir, " (", params_after, " of ", params_before,
           " parameters)");
  return manifest;
}

}  // namespace llmprune
