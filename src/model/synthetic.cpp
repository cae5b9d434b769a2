// Synthetic checkpoints (see synthetic.h). The spec goes through the family's own
// spec -> config -> spec round trip, so the config written is exactly what the loader reads.
#include "model/synthetic.h"

#include <ATen/CPUGeneratorImpl.h>

#include <cmath>

#include "arch/registry.h"
#include "io/checkpoint.h"
#include "io/safetensors.h"
#include "model/runtime.h"
#include "util/error.h"

namespace llmprune {

namespace {

std::string torch_dtype_name(const std::string& dtype) {
  switch (parse_dtype(dtype)) {
    case torch::kBFloat16: return "bfloat16";
    case torch::kFloat16: return "float16";
    default: return "float32";
  }
}

}  // namespace

json synthetic_config(const ModelSpec& spec, const std::string& torch_dtype) {
  json c = config_for_spec(family_by_name(spec.family), spec);
  c["torch_dtype"] = torch_dtype;
  return c;
}

ModelSpec synthetic_spec(const std::string& family_name, const SyntheticOptions& o) {
  const Family& family = family_by_name(family_name);
  LLMPRUNE_CHECK(o.hidden > 0 && o.heads > 0 && o.kv_heads > 0 && o.heads % o.kv_heads == 0 &&
                     o.intermediate > 0 && o.vocab > 0 && o.n_layers >= 0,
                 "[make-test-model] invalid sizes: hidden ", o.hidden, ", heads ", o.heads,
                 ", kv_heads ", o.kv_heads, ", intermediate ", o.intermediate, ", vocab ",
                 o.vocab, ", layers ", o.n_layers);
  const int64_t head_dim = o.head_dim > 0 ? o.head_dim : o.hidden / o.heads;
  LLMPRUNE_CHECK(head_dim > 0 && head_dim % 2 == 0, "[make-test-model] head_dim ", head_dim,
                 " must be even and positive (RoPE rotates pairs)");
  ModelSpec base;
  base.family = family.name();
  base.model_type = family.model_types()[0];
  base.vocab_size = o.vocab;
  base.hidden_size = o.hidden;
  base.max_position_embeddings = o.max_position_embeddings;
  base.rms_norm_eps = 1e-5;
  base.tie_word_embeddings = o.tie;
  base.bos_token_id = 1;
  base.eos_token_ids = {2};
  AttentionSpec a;
  a.n_heads = o.heads;
  a.n_kv_heads = o.kv_heads;
  a.head_dim = head_dim;
  a.sliding_window = o.sliding_window;
  MlpSpec m;
  m.intermediate_size = o.intermediate;
  // Families with a plain (non-gated) MLP are OPT-like: biases and ReLU by default.
  const bool plain_mlp = !family.naming().gated_mlp();
  a.qkv_bias = a.o_bias = m.bias = o.bias.value_or(plain_mlp);
  const std::string act = !o.activation.empty() ? o.activation : plain_mlp ? "relu" : "silu";
  if (act == "silu") base.activation = Activation::kSilu;
  else if (act == "relu") base.activation = Activation::kRelu;
  else if (act == "gelu") base.activation = Activation::kGelu;
  else throw bad_input("[make-test-model] unknown activation '", act, "' (silu, relu, gelu)");
  base.post_norm = o.post_norm;
  base.final_norm = !o.post_norm;
  base.embed_dim = o.embed_dim == o.hidden ? 0 : o.embed_dim;
  base.layers.assign(static_cast<size_t>(o.n_layers), LayerSpec{a, m});
  json config = synthetic_config(base, torch_dtype_name(o.dtype));
  return spec_from_config(family, config, "<synthetic " + family.name() + " config>");
}

void write_random_checkpoint(const ModelSpec& spec, const std::string& out_dir,
                             const SyntheticOptions& o) {
  const Family& family = family_by_name(spec.family);
  auto gen = at::detail::createCPUGenerator(o.seed);
  const auto stored = parse_dtype(o.dtype);
  auto f32 = torch::TensorOptions().dtype(torch::kFloat32);
  NamedTensors tensors;
  for (const TensorInfo& t : family.tensors(spec)) {
    torch::Tensor x = torch::randn(t.shape, gen, f32);
    switch (t.role) {
      case TensorRole::kAttnNorm:
      case TensorRole::kMlpNorm:
      case TensorRole::kFinalNorm:
        x = t.is_bias ? 0.1 * x : 1.0 + 0.1 * x;  // near-identity norms with some spread
        break;
      case TensorRole::kEmbed:
        break;  // unit variance
      case TensorRole::kPositions:
        x = 0.5 * x;  // positions matter but do not drown the token embedding
        break;
      default:
        // Linear maps: ~unit output variance (1/sqrt(fan_in)); biases small but nonzero.
        x = t.is_bias ? 0.1 * x : x / std::sqrt(static_cast<double>(t.shape[1]));
        break;
    }
    tensors.emplace_back(t.name, x.to(stored).contiguous());
  }
  SaveOptions save;
  save.overwrite = o.overwrite;
  save.copy_tokenizer_from = o.tokenizer_from;
  save.max_shard_bytes = o.max_shard_bytes;
  save_checkpoint(out_dir, synthetic_config(spec, torch_dtype_name(o.dtype)), tensors, save);
}

ModelSpec make_test_model(const std::string& family, const std::string& out_dir,
                          const SyntheticOptions& opts) {
  ModelSpec spec = synthetic_spec(family, opts);
  write_random_checkpoint(spec, out_dir, opts);
  return spec;
}

}  // namespace llmprune
