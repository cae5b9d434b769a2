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

// Normalisation: RMSNorm (llama-like) or LayerNorm (OPT: mean-centred, with bias), with or
// without per-channel weights. `eps` is ModelSpec::rms_norm_eps for either kind.
enum class NormKind { kRms, kLayer };
// How positions enter the model: RoPE inside attention, or a learned absolute table added to
// the token embeddings (row = position + position_offset; OPT: offset 2).
enum class PositionKind { kRope, kLearned };
// MLP activation: silu (gated SwiGLU when the family names a gate), relu, gelu (exact erf).
enum class Activation { kSilu, kRelu, kGelu };

struct ModelSpec {
  std::string family;           // registry name: llama, mistral, qwen2, phi3, opt
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

  // Block options beyond the llama layout (the defaults are the llama layout).
  NormKind norm = NormKind::kRms;
  bool norm_affine = true;       // norms carry a weight (and a bias for LayerNorm)
  bool final_norm = true;        // a final norm before lm_head (OPT post-LN has none)
  bool post_norm = false;        // x = norm(x + f(x)) instead of x + f(norm(x)) (OPT post-LN)
  PositionKind positions = PositionKind::kRope;
  int64_t position_offset = 0;   // learned positions: table row of position p is p + offset
  // Token-embedding width when it differs from hidden_size (OPT word_embed_proj_dim with
  // project_in / project_out); 0 = hidden_size, no projections.
  int64_t embed_dim = 0;
  Activation activation = Activation::kSilu;

  int64_t token_dim() const { return embed_dim > 0 ? embed_dim : hidden_size; }

  int64_t n_layers() const { return static_cast<int64_t>(layers.size()); }
};

}  // namespace llmprune
