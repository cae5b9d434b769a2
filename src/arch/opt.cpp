// OPT family (OPTForCausalLM, facebook/opt-*): LayerNorm with bias, learned absolute positions
// (table row = position + 2), ReLU/GELU fc1 -> fc2 MLP, biases on every projection, pre-LN or
// post-LN layers, optional project_in / project_out around the decoder, tied lm_head.
#include "arch/family.h"
#include "arch/hf_config.h"
#include "arch/registry.h"
#include "util/error.h"

namespace llmprune {
namespace {

// transformers' OPTLearnedPositionalEmbedding: "if padding_idx is specified then offset the
// embedding ids by 2", which every OPT checkpoint keeps.
constexpr int64_t kOptPositionOffset = 2;

TensorNaming opt_naming() {
  TensorNaming n;
  n.model = "model.decoder";
  n.embed = "embed_tokens";
  n.positions = "embed_positions";
  n.project_in = "project_in";
  n.project_out = "project_out";
  n.layers = "layers";
  n.final_norm = "final_layer_norm";
  n.lm_head = "lm_head";
  n.attn = "self_attn";
  n.q = "q_proj";
  n.k = "k_proj";
  n.v = "v_proj";
  n.o = "out_proj";
  n.mlp = "";  // fc1 / fc2 sit directly in the layer
  n.gate = "";
  n.up = "fc1";
  n.down = "fc2";
  n.attn_norm = "self_attn_layer_norm";
  n.mlp_norm = "final_layer_norm";  // the layer's, not model.decoder.final_layer_norm
  return n;
}

Activation parse_activation(const ConfigReader& cfg) {
  const std::string act = cfg.get_string("activation_function", "relu");
  if (act == "relu") return Activation::kRelu;
  if (act == "gelu") return Activation::kGelu;
  throw bad_input("[config] ", cfg.path(), ": unsupported activation_function '", act,
                  "' for opt (supported: relu, gelu)");
}

const char* activation_name(Activation a) {
  switch (a) {
    case Activation::kRelu:
      return "relu";
    case Activation::kGelu:
      return "gelu";
    case Activation::kSilu:
      return "silu";
  }
  return "?";
}

int64_t positive_int(const ConfigReader& cfg, const char* key, int64_t hi) {
  const int64_t v = cfg.get_required_int(key, INT64_MIN, hi);
  if (v <= 0) throw bad_input("[config] ", cfg.path(), ": \"", key, "\" must be > 0, got ", v);
  return v;
}

class OptFamily : public Family {
 public:
  OptFamily() : Family("opt", {"opt"}, {"OPTForCausalLM"}, opt_naming()) {}

  ModelSpec config_to_spec(const json& config, const std::string& path) const override {
    ConfigReader cfg(config, path);
    ModelSpec spec;
    spec.family = name();
    spec.model_type = cfg.get_string("model_type", "opt");
    spec.vocab_size = positive_int(cfg, "vocab_size", kMaxVocabSize);
    spec.hidden_size = positive_int(cfg, "hidden_size", kMaxHiddenSize);
    const int64_t n_layers = cfg.get_required_int("num_hidden_layers", 0, kMaxLayers);
    const int64_t n_heads = positive_int(cfg, "num_attention_heads", kMaxHeads);
    const int64_t ffn = positive_int(cfg, "ffn_dim", kMaxIntermediateSize);
    if (spec.hidden_size % n_heads != 0)
      throw bad_input("[config] ", path, ": hidden_size ", spec.hidden_size,
                      " is not divisible by num_attention_heads ", n_heads);
    // OPTConfig defaults for the optional keys.
    spec.max_position_embeddings = cfg.get_int("max_position_embeddings", 2048, 1, kMaxPositions);
    const int64_t proj = cfg.get_int("word_embed_proj_dim", spec.hidden_size, 1, kMaxHiddenSize);
    spec.embed_dim = proj == spec.hidden_size ? 0 : proj;
    const bool pre_ln = cfg.get_bool("do_layer_norm_before", true);
    spec.post_norm = !pre_ln;
    spec.final_norm = pre_ln && !cfg.get_bool("_remove_final_layer_norm", false);
    spec.activation = parse_activation(cfg);
    const bool bias = cfg.get_bool("enable_bias", true);
    spec.norm = NormKind::kLayer;
    spec.norm_affine = cfg.get_bool("layer_norm_elementwise_affine", true);
    spec.rms_norm_eps = 1e-5;  // nn.LayerNorm default; OPTConfig has no eps key
    spec.positions = PositionKind::kLearned;
    spec.position_offset = kOptPositionOffset;
    spec.tie_word_embeddings = cfg.get_bool("tie_word_embeddings", true);
    if (cfg.has("num_key_value_heads") &&
        cfg.get_int("num_key_value_heads", n_heads, 1, kMaxHeads) != n_heads)
      throw bad_input("[config] ", path, ": opt has no grouped-query attention, but ",
                      "num_key_value_heads ", cfg.get_int("num_key_value_heads"),
                      " differs from num_attention_heads ", n_heads);
    parse_token_ids(cfg, spec);
    AttentionSpec a;
    a.n_heads = a.n_kv_heads = n_heads;
    a.head_dim = spec.hidden_size / n_heads;
    a.qkv_bias = a.o_bias = bias;
    MlpSpec m;
    m.intermediate_size = ffn;
    m.bias = bias;
    spec.layers.assign(static_cast<size_t>(n_layers), LayerSpec{a, m});
    return spec;
  }

  json spec_to_config(const ModelSpec& spec) const override {
    const AttentionSpec* a = representative_attn(spec);
    const MlpSpec* m = representative_mlp(spec);
    if (!a || !m)
      throw bad_input("[config] cannot write an opt config: no layer keeps ",
                      !a ? "attention" : "an MLP", " (num_attention_heads / ffn_dim would be 0)");
    json c;
    c["architectures"] = json::array({architectures()[0]});
    c["model_type"] = spec.model_type.empty() ? name() : spec.model_type;
    c["_remove_final_layer_norm"] = !spec.post_norm && !spec.final_norm;
    c["activation_dropout"] = 0.0;
    c["activation_function"] = activation_name(spec.activation);
    c["attention_dropout"] = 0.0;
    c["bos_token_id"] = spec.bos_token_id ? json(*spec.bos_token_id) : json(nullptr);
    c["do_layer_norm_before"] = !spec.post_norm;
    c["dropout"] = 0.0;
    c["enable_bias"] = a->qkv_bias;
    if (spec.eos_token_ids.size() == 1)
      c["eos_token_id"] = spec.eos_token_ids[0];
    else if (spec.eos_token_ids.empty())
      c["eos_token_id"] = nullptr;
    else
      c["eos_token_id"] = spec.eos_token_ids;
    c["ffn_dim"] = m->intermediate_size;
    c["hidden_size"] = spec.hidden_size;
    c["init_std"] = 0.02;
    c["layer_norm_elementwise_affine"] = spec.norm_affine;
    c["layerdrop"] = 0.0;
    c["max_position_embeddings"] = spec.max_position_embeddings;
    // OPT's heads always span hidden_size (head_dim = hidden_size / heads): the stock key is
    // that full count; layers with fewer heads (width-pruned) go to the llmprune block, also
    // when every layer lost the same heads (no stock config can express that).
    const int64_t full_heads = spec.hidden_size / a->head_dim;
    c["num_attention_heads"] = full_heads;
    bool stock = spec.hidden_size % a->head_dim == 0;
    for (const auto& l : spec.layers)
      stock = stock && l.attn && l.mlp && l.attn->n_heads == full_heads &&
              l.attn->head_dim == a->head_dim && l.mlp->intermediate_size == m->intermediate_size;
    if (!stock) c["llmprune"] = llmprune_block(spec);
    c["num_hidden_layers"] = spec.n_layers();
    c["pad_token_id"] = 1;
    c["tie_word_embeddings"] = spec.tie_word_embeddings;
    c["torch_dtype"] = "float32";
    c["transformers_version"] = "4.44.0";
    c["use_cache"] = true;
    c["vocab_size"] = spec.vocab_size;
    c["word_embed_proj_dim"] = spec.token_dim();
    return c;
  }

  // facebook/opt-* files were saved from OPTModel ("decoder.*") or OPTForCausalLM
  // ("model.decoder.*"); transformers accepts both through base_model_prefix "model".
  std::string canonical_name(const std::string& stored) const override {
    if (stored.rfind("decoder.", 0) == 0) return "model." + stored;
    return stored;
  }
};

}  // namespace

const Family& opt_family() {
  static const OptFamily f;
  return f;
}

}  // namespace llmprune
