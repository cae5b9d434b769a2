// Llama family (LlamaForCausalLM): the reference layout the other families extend.
// config: attention_bias -> biases on q/k/v/o, mlp_bias -> biases on gate/up/down.
#include "arch/family.h"
#include "arch/hf_config.h"

namespace llmprune {

TensorNaming llama_style_naming() {
  TensorNaming n;
  n.model = "model";
  n.embed = "embed_tokens";
  n.layers = "layers";
  n.final_norm = "norm";
  n.lm_head = "lm_head";
  n.attn = "self_attn";
  n.q = "q_proj";
  n.k = "k_proj";
  n.v = "v_proj";
  n.o = "o_proj";
  n.mlp = "mlp";
  n.gate = "gate_proj";
  n.up = "up_proj";
  n.down = "down_proj";
  n.attn_norm = "input_layernorm";
  n.mlp_norm = "post_attention_layernorm";
  return n;
}

namespace {

class LlamaFamily : public Family {
 public:
  LlamaFamily() : Family("llama", {"llama"}, {"LlamaForCausalLM"}, llama_style_naming()) {}

  ModelSpec config_to_spec(const json& config, const std::string& path) const override {
    ConfigReader cfg(config, path);
    ModelSpec spec = parse_common_config(cfg, name());
    const bool attn_bias = cfg.get_bool("attention_bias", false);
    const bool mlp_bias = cfg.get_bool("mlp_bias", false);
    for (auto& l : spec.layers) {
      l.attn->qkv_bias = attn_bias;
      l.attn->o_bias = attn_bias;
      l.mlp->bias = mlp_bias;
    }
    return spec;
  }

  json spec_to_config(const ModelSpec& spec) const override {
    json c = common_config_keys(spec, architectures()[0], "float32");
    const AttentionSpec* a = representative_attn(spec);
    const MlpSpec* m = representative_mlp(spec);
    c["attention_bias"] = a ? a->qkv_bias : false;
    c["mlp_bias"] = m ? m->bias : false;
    c["head_dim"] = a ? a->head_dim : 0;
    c["pretraining_tp"] = 1;
    return c;
  }
};

}  // namespace

const Family& llama_family() {
  static const LlamaFamily f;
  return f;
}

}  // namespace llmprune
