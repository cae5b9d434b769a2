// Qwen2 family (Qwen2ForCausalLM): llama layout plus q/k/v biases (never o_proj). Sliding
// window as transformers' Qwen2Config: layer i uses it when use_sliding_window is true,
// sliding_window is set and i >= max_window_layers (or as listed in "layer_types").
#include "arch/family.h"
#include "arch/hf_config.h"
#include "util/error.h"

namespace llmprune {
namespace {

class Qwen2Family : public Family {
 public:
  Qwen2Family() : Family("qwen2", {"qwen2"}, {"Qwen2ForCausalLM"}, llama_style_naming()) {}

  ModelSpec config_to_spec(const json& config, const std::string& path) const override {
    ConfigReader cfg(config, path);
    ModelSpec spec = parse_common_config(cfg, name());
    const bool use_window = cfg.get_bool("use_sliding_window", false);
    const int64_t window = cfg.get_int("sliding_window", 0);
    const int64_t max_window_layers = cfg.get_int("max_window_layers", 28);
    const int64_t n = spec.n_layers();
    std::vector<bool> sliding(static_cast<size_t>(n), false);
    if (cfg.has("layer_types")) {
      const json& types = config.at("layer_types");
      if (!types.is_array() || static_cast<int64_t>(types.size()) != n)
        throw bad_input("[config] ", path, ": layer_types must list ", n, " entries, got ",
                        json_excerpt(types));
      for (int64_t i = 0; i < n; ++i) {
        const json& t = types[static_cast<size_t>(i)];
        if (!t.is_string() || (t != "sliding_attention" && t != "full_attention"))
          throw bad_input("[config] ", path, ": layer_types[", i, "] must be "
                          "\"full_attention\" or \"sliding_attention\", got ", json_excerpt(t));
        sliding[static_cast<size_t>(i)] = t == "sliding_attention";
      }
    } else if (use_window && window > 0) {
      for (int64_t i = max_window_layers; i < n; ++i) sliding[static_cast<size_t>(i)] = true;
    }
    for (int64_t i = 0; i < n; ++i) {
      auto& a = *spec.layers[static_cast<size_t>(i)].attn;
      a.qkv_bias = true;
      a.sliding_window = sliding[static_cast<size_t>(i)] ? window : 0;
      if (sliding[static_cast<size_t>(i)] && window <= 0)
        throw bad_input("[config] ", path, ": layer ", i,
                        " uses sliding attention but sliding_window is not set");
    }
    return spec;
  }

  json spec_to_config(const ModelSpec& spec) const override {
    json c = common_config_keys(spec, architectures()[0], "float32");
    const AttentionSpec* a = representative_attn(spec);
    if (a && a->head_dim * a->n_heads != spec.hidden_size) c["head_dim"] = a->head_dim;
    int64_t window = 0, first = spec.n_layers();
    for (int64_t i = 0; i < spec.n_layers(); ++i) {
      const auto& l = spec.layers[static_cast<size_t>(i)];
      if (l.attn && l.attn->sliding_window > 0) {
        window = l.attn->sliding_window;
        first = std::min(first, i);
      }
    }
    c["use_sliding_window"] = window > 0;
    c["sliding_window"] = window > 0 ? json(window) : json(nullptr);
    c["max_window_layers"] = window > 0 ? first : spec.n_layers();
    return c;
  }
};

}  // namespace

const Family& qwen2_family() {
  static const Qwen2Family f;
  return f;
}

}  // namespace llmprune
