// Phi-3 family (Phi3ForCausalLM): fused qkv_proj rows [q | k | v] and gate_up_proj rows
// [gate | up], no biases, optional sliding_window on every layer, partial rotary allowed.
// LongRoPE ("longrope"/"su" rope_scaling) is refused by parse_rope as unsupported.
#include "arch/family.h"
#include "arch/hf_config.h"

namespace llmprune {
namespace {

TensorNaming phi3_naming() {
  TensorNaming n = llama_style_naming();
  n.q = n.k = n.v = "";
  n.qkv = "qkv_proj";
  n.gate = n.up = "";
  n.gate_up = "gate_up_proj";
  return n;
}

class Phi3Family : public Family {
 public:
  Phi3Family() : Family("phi3", {"phi3"}, {"Phi3ForCausalLM"}, phi3_naming()) {}

  ModelSpec config_to_spec(const json& config, const std::string& path) const override {
    ConfigReader cfg(config, path);
    ModelSpec spec = parse_common_config(cfg, name());
    const int64_t window = cfg.get_int("sliding_window", 0);
    for (auto& l : spec.layers) l.attn->sliding_window = window;
    return spec;
  }

  json spec_to_config(const ModelSpec& spec) const override {
    json c = common_config_keys(spec, architectures()[0], "float32");
    const AttentionSpec* a = representative_attn(spec);
    if (a && a->head_dim * a->n_heads != spec.hidden_size) c["head_dim"] = a->head_dim;
    c["attention_bias"] = false;
    c["embd_pdrop"] = 0.0;
    c["resid_pdrop"] = 0.0;
    c["original_max_position_embeddings"] = spec.max_position_embeddings;
    c["pad_token_id"] = nullptr;
    c["sliding_window"] = (a && a->sliding_window > 0) ? json(a->sliding_window) : json(nullptr);
    if (spec.rope.partial_rotary_factor != 1.0)
      c["partial_rotary_factor"] = spec.rope.partial_rotary_factor;
    return c;
  }
};

}  // namespace

const Family& phi3_family() {
  static const Phi3Family f;
  return f;
}

}  // namespace llmprune
