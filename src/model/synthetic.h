// Tiny random checkpoints in true Hugging Face layout (config.json with the keys
// transformers writes for the family + model.safetensors), so loaders, export and pruning
// are tested without downloads. Also `llmprune make-test-model`.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "arch/model_spec.h"
#include "util/json.h"

namespace llmprune {

struct SyntheticOptions {
  int64_t n_layers = 2;
  int64_t hidden = 32;
  int64_t heads = 4;
  int64_t kv_heads = 2;
  int64_t head_dim = 0;        // 0 = hidden / heads
  int64_t intermediate = 64;
  int64_t vocab = 128;
  int64_t max_position_embeddings = 256;
  int64_t sliding_window = 0;  // on every layer (0 = none); ignored by llama
  uint64_t seed = 0;
  std::string dtype = "f32";   // f32 | bf16 | f16 (stored dtype)
  bool tie = false;
  std::string tokenizer_from;  // copy tokenizer files from this model folder ("" = none)
  bool overwrite = false;
  uint64_t max_shard_bytes = 0;  // 0 = one model.safetensors; else shards + index
  // Layout options of families beyond llama (OPT); the llama-like families ignore what their
  // config cannot express.
  std::optional<bool> bias;     // biases on every projection; default: the family's (OPT yes)
  std::string activation;       // silu | relu | gelu; "" = the family's (silu gated, OPT relu)
  bool post_norm = false;       // OPT do_layer_norm_before = false (no final norm)
  int64_t embed_dim = 0;        // OPT word_embed_proj_dim != hidden (project_in/out); 0 = hidden
};

// The spec make_test_model would write (family defaults: qwen2 q/k/v biases, etc.).
ModelSpec synthetic_spec(const std::string& family, const SyntheticOptions& opts);
// The config.json for a spec (family stock keys + llmprune block when heterogeneous).
json synthetic_config(const ModelSpec& spec, const std::string& torch_dtype);

// Writes the checkpoint atomically; returns the spec written.
ModelSpec make_test_model(const std::string& family, const std::string& out_dir,
                          const SyntheticOptions& opts = {});
// Same for an arbitrary (e.g. heterogeneous) spec.
void write_random_checkpoint(const ModelSpec& spec, const std::string& out_dir,
                             const SyntheticOptions& opts);

}  // namespace llmprune
