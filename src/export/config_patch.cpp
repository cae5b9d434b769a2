// Config patching (see config_patch.h).
#include "export/config_patch.h"

#include "arch/registry.h"
#include "util/error.h"

namespace llmprune {

std::string torch_dtype_of(const std::string& st) {
  if (st == "BF16") return "bfloat16";
  if (st == "F16") return "float16";
  return "float32";
}

namespace {

bool same_spec(const ModelSpec& a, const ModelSpec& b) {
  if (a.n_layers() != b.n_layers() || a.hidden_size != b.hidden_size ||
      a.rms_norm_eps != b.rms_norm_eps)
    return false;
  for (int64_t i = 0; i < a.n_layers(); ++i) {
    const LayerSpec &x = a.layers[static_cast<size_t>(i)], &y = b.layers[static_cast<size_t>(i)];
    if (x.attn.has_value() != y.attn.has_value() || x.mlp.has_value() != y.mlp.has_value())
      return false;
    if (x.attn && (x.attn->n_heads != y.attn->n_heads || x.attn->n_kv_heads != y.attn->n_kv_heads ||
                   x.attn->head_dim != y.attn->head_dim || x.attn->qkv_bias != y.attn->qkv_bias ||
                   x.attn->sliding_window != y.attn->sliding_window))
      return false;
    if (x.mlp && x.mlp->intermediate_size != y.mlp->intermediate_size) return false;
  }
  return true;
}

}  // namespace

json patch_config(const json& source, const Family& family, const ModelSpec& spec,
                  const ConfigPatch& p, const std::string& where) {
  LLMPRUNE_ASSERT(static_cast<int64_t>(p.kept_original.size()) == spec.n_layers(),
                  "config patch: ", p.kept_original.size(), " kept layers for a spec of ",
                  spec.n_layers());
  json c = source;
  const int64_t n_src = source.value("num_hidden_layers", int64_t{0});
  c["num_hidden_layers"] = spec.n_layers();
  // Per-layer lists follow the kept layers.
  for (const char* key : {"layer_types"}) {
    if (!c.contains(key) || !c.at(key).is_array() ||
        static_cast<int64_t>(c.at(key).size()) != n_src)
      continue;
    json kept = json::array();
    for (int64_t o : p.kept_original) kept.push_back(source.at(key).at(static_cast<size_t>(o)));
    c[key] = kept;
  }
  // qwen2: layers >= max_window_layers slide; that suffix stays a suffix after removal.
  if (c.contains("max_window_layers") && c.at("max_window_layers").is_number_integer()) {
    const int64_t m = c.at("max_window_layers").get<int64_t>();
    int64_t below = 0;
    for (int64_t o : p.kept_original) below += o < m ? 1 : 0;
    c["max_window_layers"] = below;
  }
  // Shapes: every layer alike -> the family's stock keys (what its config writer emits for
  // the spec, e.g. num_key_value_heads or OPT's ffn_dim; head_dim only when the source has it
  // or hidden_size / heads no longer gives it); otherwise, or when the stock keys cannot
  // express the shape (the writer adds a block), the "llmprune" per-layer block.
  c.erase("llmprune");
  // Hidden-dimension pruning: the residual width and the compensated norm epsilon.
  if (c.contains("hidden_size")) c["hidden_size"] = spec.hidden_size;
  const double eps_read = c.contains("rms_norm_eps") && c.at("rms_norm_eps").is_number()
                             ? c.at("rms_norm_eps").get<double>()
                             : 1e-6;  // hf_config's default
  if (spec.norm == NormKind::kRms && eps_read != spec.rms_norm_eps)
    c["rms_norm_eps"] = spec.rms_norm_eps;
  if (is_uniform(spec)) {
    const json stock = family.spec_to_config(spec);
    for (const char* key : {"hidden_size", "num_attention_heads", "num_key_value_heads",
                            "intermediate_size", "ffn_dim"})
      if (stock.contains(key) && c.contains(key)) c[key] = stock.at(key);
    const AttentionSpec& a = *spec.layers.front().attn;
    if (stock.contains("head_dim") &&
        (c.contains("head_dim") || spec.hidden_size != a.n_heads * a.head_dim))
      c["head_dim"] = stock.at("head_dim");
    if (stock.contains("llmprune")) c["llmprune"] = stock.at("llmprune");
  } else {
    c["llmprune"] = llmprune_block(spec);
  }
  // head_dim must be stated once hidden_size / num_attention_heads no longer gives it (hidden
  // channels or heads removed).
  for (const auto& L : spec.layers) {
    if (!L.attn) continue;
    const int64_t heads = c.contains("num_attention_heads") && c.at("num_attention_heads").is_number_integer()
                              ? c.at("num_attention_heads").get<int64_t>() : 0;
    if (!c.contains("head_dim") && c.contains("num_attention_heads") &&
        (heads <= 0 || spec.hidden_size % heads != 0 || spec.hidden_size / heads != L.attn->head_dim) &&
        spec.positions == PositionKind::kRope)
      c["head_dim"] = L.attn->head_dim;
    break;
  }
  c.erase("drop_attn_list");
  c.erase("drop_mlp_list");
  if (!p.dropped_attn.empty()) c["drop_attn_list"] = p.dropped_attn;
  if (!p.dropped_mlp.empty()) c["drop_mlp_list"] = p.dropped_mlp;
  if (!p.torch_dtype.empty()) c["torch_dtype"] = p.torch_dtype;

  const ModelSpec back = spec_from_config(family, c, where);
  LLMPRUNE_ASSERT(same_spec(back, spec), where,
                  ": patched config does not read back as the "
                  "pruned model's layer shapes");
  return c;
}

}  // namespace llmprune
