// ModelSpec: the shape of a decoder, layer by layer. Every layer carries its own shape
// (pruned models are heterogeneous); a layer without attention or MLP is a residual
// pass-through. Plain data: no tensors, no paths.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace llmprune {

struct AttentionSpec {
  int64_t n_heads = 0;
  int64_t n_kv_heads = 0;
  int64_t head_dim = 0;
  bool qkv_bias = false;      // q/k/v projections have biases (qwen2)
  bool o_bias = false;
  int64_t sliding_window = 0; // 0 = full causal attention
};

struct MlpSpec {
  int64_t intermediate_size = 0;
  bool bias = false;
};

struct LayerSpec {
  std::optional<AttentionSpec> attn;  // nullopt: attention sub-block removed
  std::optional<MlpSpec> mlp;         // nullopt: MLP sub-block removed
};

struct RopeSpec {
  double theta = 10000.0;
  std::string scaling = "default";  // default | linear | llama3 | yarn
  double factor = 1.0;
  // llama3
  double low_freq_factor = 1.0, high_freq_factor = 4.0;
  int64_t original_max_position_embeddings = 0;
  // yarn
  double beta_fast = 32.0, beta_slow = 1.0;
  double attention_factor = 0.0;  // 0 = derive from factor (0.1 ln(factor) + 1)
  double partial_rotary_factor = 1.0;
};

struct ModelSpec {
  std::string family;           // registry name: llama, mistral, qwen2, phi3
  std::string model_type;       // config.json model_type
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;
  int64_t max_position_embeddings = 0;
  double rms_norm_eps = 1e-6;
  bool tie_word_embeddings = false;
  RopeSpec rope;
  std::vector<LayerSpec> layers;
  std::optional<int64_t> bos_token_id;
  std::vector<int64_t> eos_token_ids;  // config eos_token_id (int or list)

  int64_t n_layers() const { return static_cast<int64_t>(layers.size()); }
};

}  // namespace llmprune
