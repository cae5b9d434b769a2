// Mistral family (MistralForCausalLM): llama layout without biases, with an optional
// sliding window on every layer (config sliding_window; null = full attention; transformers'
// MistralConfig default when the key is absent is 4096).
#include "arch/family.h"
#include "arch/hf_config.h"

namespace llmprune {
namespace {

constexpr int64_t kMistralDefaultWindow = 4096;

class MistralFamily : public Family {
 public:
  MistralFamily()
      : Family("mistral", {"mistral"}, {"MistralForCausalLM"}, llama_style_naming()) {}

  ModelSpec config_to_spec(const json& config, const std::string& path) const override {
    ConfigReader cfg(config, path);
    ModelSpec spec = parse_common_config(cfg, name());
    int64_t window = 0;
    if (!config.contains("sliding_window"))
      window = kMistralDefaultWindow;
    else if (cfg.has("sliding_window"))
      window = cfg.get_int("sliding_window");
    for (auto& l : spec.layers) l.attn->sliding_window = window;
    return spec;
  }

  json spec_to_config(const ModelSpec& spec) const override {
    json c = common_config_keys(spec, architectures()[0], "float32");
    const AttentionSpec* a = representative_attn(spec);
    c["head_dim"] = a ? a->head_dim : 0;
    c["sliding_window"] = (a && a->sliding_window > 0) ? json(a->sliding_window) : json(nullptr);
    return c;
  }
};

}  // namespace

const Family& mistral_family() {
  static const MistralFamily f;
  return f;
}

}  // namespace llmprune
