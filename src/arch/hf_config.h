// Helpers shared by the family adapters: typed config.json access with errors naming the
// file and key, the keys every llama-like family shares, and rope_scaling parsing.
#pragma once

#include <optional>
#include <string>

#include "arch/family.h"
#include "arch/model_spec.h"
#include "util/json.h"

namespace llmprune {

// Upper bounds on config sizes: far above any released model (Llama-3.1-405B: 126 layers,
// 128 heads, head_dim 128, hidden 16384, intermediate 53248; Gemma: 256k vocabulary), low
// enough that every row count, element count and byte size derived from them fits in int64
// and that a typo such as num_hidden_layers 1e9 is refused before anything is allocated.
constexpr int64_t kMaxLayers = 1 << 14;
constexpr int64_t kMaxHeads = 1 << 14;
constexpr int64_t kMaxHeadDim = 1 << 14;
constexpr int64_t kMaxHiddenSize = 1 << 20;
constexpr int64_t kMaxIntermediateSize = 1 << 22;
constexpr int64_t kMaxVocabSize = 1 << 24;
constexpr int64_t kMaxPositions = int64_t{1} << 32;

class ConfigReader {
 public:
  ConfigReader(const json& config, std::string path) : j_(config), path_(std::move(path)) {}
  bool has(const std::string& key) const;  // present and not null
  // Integers (integral floats such as 32.0 accepted, as transformers writes them) in
  // [lo, hi]; anything else throws bad_input naming the file, key and value.
  int64_t get_int(const std::string& key) const;  // required
  int64_t get_int(const std::string& key, int64_t fallback, int64_t lo = INT64_MIN,
                  int64_t hi = INT64_MAX) const;
  int64_t get_required_int(const std::string& key, int64_t lo, int64_t hi) const;
  double get_double(const std::string& key, double fallback) const;
  bool get_bool(const std::string& key, bool fallback) const;
  std::string get_string(const std::string& key, const std::string& fallback) const;
  const json& raw() const { return j_; }
  const std::string& path() const { return path_; }

 private:
  const json& j_;
  std::string path_;
};

// Keys shared by llama, mistral, qwen2 and phi3: sizes, head counts (num_key_value_heads
// defaults to num_attention_heads, head_dim to hidden_size / num_attention_heads), rope,
// tie_word_embeddings, bos/eos. Builds uniform layers without biases or sliding window.
ModelSpec parse_common_config(const ConfigReader& cfg, const std::string& family);

// bos_token_id / eos_token_id (int or list), each within the vocabulary bound.
void parse_token_ids(const ConfigReader& cfg, ModelSpec& spec);

// rope_theta + rope_scaling (or transformers 5 "rope_parameters").
RopeSpec parse_rope(const ConfigReader& cfg);

// The layer whose values stand for the model in stock config keys: the first layer that
// has attention and MLP (falls back to any layer with either).
const AttentionSpec* representative_attn(const ModelSpec& spec);
const MlpSpec* representative_mlp(const ModelSpec& spec);

// Keys shared by the families, filled from the spec (uniform values from the representative
// layer). `torch_dtype` is the checkpoint dtype name ("float32", "bfloat16").
json common_config_keys(const ModelSpec& spec, const std::string& architecture,
                        const std::string& torch_dtype);
json rope_scaling_json(const RopeSpec& rope);  // null for default

}  // namespace llmprune

namespace llmprune {
// The HF module names of LlamaForCausalLM, which mistral and qwen2 share and phi3 extends
// (defined in llama.cpp, the one place these strings live).
TensorNaming llama_style_naming();
}  // namespace llmprune
