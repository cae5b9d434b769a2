// Hugging Face folder export driver (see hf_export.h): check, patch the config, then stream the
// tensors into an atomically written folder.
#include "export/hf_export.h"

#include <filesystem>

#include "arch/checkpoint_check.h"
#include "arch/registry.h"
#include "export/config_patch.h"
#include "export/model_files.h"
#include "export/nemotron_nas.h"
#include "io/safetensors.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/timer.h"

namespace llmprune {
namespace {

std::string attn_str(const AttentionSpec& a) {
  return std::to_string(a.n_heads) + " query heads, " + std::to_string(a.n_kv_heads) +
         " KV heads, head_dim " + std::to_string(a.head_dim);
}

DType parse_dtype_out(const std::string& s) {
  if (s == "f32") return DType::kF32;
  if (s == "bf16") return DType::kBF16;
  if (s == "f16") return DType::kF16;
  throw bad_input("--dtype-out must be f32, bf16 or f16, got '", s, "'");
}

}  // namespace

std::string first_differing_layer(const ModelSpec& spec) {
  if (spec.layers.empty()) return "";
  const LayerSpec& f = spec.layers.front();
  for (int64_t i = 0; i < spec.n_layers(); ++i) {
    const LayerSpec& L = spec.layers[static_cast<size_t>(i)];
    const std::string at = "layer " + std::to_string(i);
    if (!L.attn) return at + " has no attention";
    if (!L.mlp) return at + " has no MLP";
    if (i == 0) continue;
    const AttentionSpec &a = *L.attn, &b = *f.attn;
    if (a.n_heads != b.n_heads || a.n_kv_heads != b.n_kv_heads || a.head_dim != b.head_dim)
      return at + " has " + attn_str(a) + " where layer 0 has " + attn_str(b);
    if (L.mlp->intermediate_size != f.mlp->intermediate_size)
      return at + " has MLP width " + std::to_string(L.mlp->intermediate_size) +
             " where layer 0 has " + std::to_string(f.mlp->intermediate_size);
  }
  return "";
}

json export_hf(const HfExportOptions& o) {
  Timer timer;
  const std::string tag = "[" + o.format + "] ";
  LLMPRUNE_CHECK(o.format == "hf" || o.format == "nemotron-nas", "unknown format '", o.format,
                 "' (expected hf or nemotron-nas)");
  LLMPRUNE_CHECK(!o.out.empty(), tag, "--out is required");
  const bool convert = !o.dtype_out.empty();
  const DType out_dtype = convert ? parse_dtype_out(o.dtype_out) : DType::kF32;
  check_output_paths(o.model, {o.out});
  LLMPRUNE_CHECK(o.overwrite || !path_exists(o.out), tag, o.out,
                 " already exists (pass --overwrite to replace it)");
  CheckpointConfig cc = read_checkpoint_config(o.model);
  const Family& family = *cc.family;
  const ModelSpec& spec = cc.spec;
  TensorStore store = TensorStore::open(o.model);
  ShapeMap present;
  for (const auto& n : store.names()) present[n] = store.entry(n).shape;
  validate_tensor_set(family, spec, present, tag + o.model);

  if (o.format == "hf") {
    const std::string differs = first_differing_layer(spec);
    LLMPRUNE_CHECK(differs.empty(), tag, o.model, ": ", differs,
                   ": a stock Hugging Face config has one shape for every layer; use --format "
                   "nemotron-nas (per-layer KV heads and MLP widths) or --format gguf");
  }
  // Output dtypes: converted, or each tensor's own; torch_dtype is the (first) matrix's dtype.
  std::vector<TensorDecl> decls;
  std::string torch_dtype;
  for (const auto& n : store.names()) {
    const TensorEntry& e = store.entry(n);
    const DType d = convert ? out_dtype : e.dtype;
    decls.push_back({n, d, e.shape});
    if (torch_dtype.empty() && e.shape.size() == 2) torch_dtype = torch_dtype_of(dtype_name(d));
  }
  ConfigPatch patch;
  for (int64_t l = 0; l < spec.n_layers(); ++l) patch.kept_original.push_back(l);
  patch.torch_dtype = torch_dtype;
  const std::string config_where = join_path(o.out, "config.json");
  json config = patch_config(cc.config, family, spec, patch, config_where);
  if (o.format == "nemotron-nas") config = nemotron_nas_config(config, spec, o.model);

  SafetensorsWriteOptions wo;
  wo.max_shard_bytes = source_shard_bytes(o.model, store);
  std::vector<WrittenFile> files;
  std::vector<std::string> tok;
  write_dir_atomic(o.out, o.overwrite, [&](const std::string& tmp) {
    SafetensorsStreamWriter writer(tmp, decls, wo);
    for (const std::string& name : writer.order()) {
      torch::Tensor t = store.load(name, /*release=*/true);
      if (convert) t = t.to(to_torch(out_dtype)).contiguous();
      writer.write(name, t);
    }
    files = writer.finish();
    write_json_file(join_path(tmp, "config.json"), config);
    tok = copy_tokenizer_files(o.model, tmp);
  });
  log_info(tag, "wrote ", o.out, ": ", decls.size(), " tensors, torch_dtype ", torch_dtype, " (",
           timer.seconds(), " s)");
  return {{"command", "export"},
          {"format", o.format},
          {"model", o.model},
          {"out", o.out},
          {"tensors", decls.size()},
          {"torch_dtype", torch_dtype},
          {"weights", files_json(files)},
          {"tokenizer_files", tok},
          {"seconds", timer.seconds()}};
}

}  // namespace llmprune
