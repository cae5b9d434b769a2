// Model metadata of a GGUF export (general.* and <arch>.* keys), in the order llama.cpp's
// converter writes them; see gguf_export.h.
#include <cmath>

#include "arch/gguf_arch.h"
#include "arch/hf_config.h"
#include "arch/registry.h"
#include "export/gguf_export.h"
#include "util/error.h"

namespace llmprune {

GgufOutType parse_gguf_out_type(const std::string& s) {
  if (s == "f32") return GgufOutType::kF32;
  if (s == "f16") return GgufOutType::kF16;
  if (s == "bf16") return GgufOutType::kBF16;
  if (s == "q8_0") return GgufOutType::kQ8_0;
  throw bad_input("unknown GGUF tensor type \"", s, "\" (expected f32, f16, bf16 or q8_0)");
}

const char* gguf_out_type_name(GgufOutType t) {
  switch (t) {
    case GgufOutType::kF32:
      return "f32";
    case GgufOutType::kF16:
      return "f16";
    case GgufOutType::kBF16:
      return "bf16";
    case GgufOutType::kQ8_0:
      return "q8_0";
  }
  return "?";
}

GgmlType gguf_tensor_type(GgufOutType out, const std::vector<int64_t>& shape) {
  if (shape.size() < 2) return GgmlType::kF32;
  switch (out) {
    case GgufOutType::kF32:
      return GgmlType::kF32;
    case GgufOutType::kF16:
      return GgmlType::kF16;
    case GgufOutType::kBF16:
      return GgmlType::kBF16;
    case GgufOutType::kQ8_0:
      return shape.back() % 32 == 0 ? GgmlType::kQ8_0 : GgmlType::kF16;
  }
  return GgmlType::kF32;
}

namespace {

// llama_ftype: ALL_F32 0, MOSTLY_F16 1, MOSTLY_Q8_0 7, MOSTLY_BF16 32.
uint32_t file_type(GgufOutType t) {
  switch (t) {
    case GgufOutType::kF32:
      return 0;
    case GgufOutType::kF16:
      return 1;
    case GgufOutType::kQ8_0:
      return 7;
    case GgufOutType::kBF16:
      return 32;
  }
  return 0;
}

GgufValue u32(int64_t v, const std::string& what) {
  LLMPRUNE_CHECK(v >= 0 && v <= UINT32_MAX, "[gguf] ", what, " ", v, " does not fit a u32");
  return GgufValue::u32(static_cast<uint32_t>(v));
}

GgufValue i32_array(const std::vector<int64_t>& v) {
  std::vector<int32_t> x(v.begin(), v.end());
  return GgufValue::i32s(x);
}

}  // namespace

bool gguf_deci_zero_ffn(const LayerSpec& layer) { return layer.attn && !layer.mlp; }

std::string gguf_architecture(const Family& family, const ModelSpec& spec) {
  const GgufArch& a = gguf_arch_for(family.name());  // refuses unsupported families first
  if (is_uniform(spec)) return a.arch;
  LLMPRUNE_CHECK(a.permute_qk, "[gguf] this ", family.name(),
                 " model has per-layer shapes: llama.cpp can run those only as \"deci\", a "
                 "Llama-architecture model (GGUF export of heterogeneous models supports llama "
                 "and mistral)");
  return "deci";
}

GgufMetadata gguf_model_metadata(const Family& family, const ModelSpec& spec, const json& config,
                                 const std::string& name, GgufOutType out) {
  const GgufArch& ga = gguf_arch_for(family.name());
  const std::string arch = gguf_architecture(family, spec);
  const bool deci = arch == "deci";
  const AttentionSpec* ra = representative_attn(spec);
  const MlpSpec* rm = representative_mlp(spec);
  LLMPRUNE_CHECK(ra, "[gguf] the model has no attention layer left: nothing states its head size");
  for (const LayerSpec& L : spec.layers)
    LLMPRUNE_CHECK(!L.attn || L.attn->head_dim == ra->head_dim,
                   "[gguf] head_dim differs between "
                   "layers (",
                   L.attn ? L.attn->head_dim : 0, " vs ", ra->head_dim,
                   "): llama.cpp has one key/value length per model");

  GgufMetadata md;
  auto put = [&](const std::string& key, GgufValue v) { md.emplace_back(key, std::move(v)); };
  const std::string p = arch + ".";
  put("general.architecture", GgufValue::str(arch));
  put("general.name", GgufValue::str(name));
  put(p + "block_count", u32(spec.n_layers(), "block count"));
  put(p + "context_length", u32(spec.max_position_embeddings, "context length"));
  put(p + "embedding_length", u32(spec.hidden_size, "hidden size"));
  if (deci) {
    std::vector<int64_t> ff, heads, kv;
    for (const LayerSpec& L : spec.layers) {
      ff.push_back(L.mlp ? L.mlp->intermediate_size : gguf_deci_zero_ffn(L) ? 1 : 0);
      heads.push_back(L.attn ? L.attn->n_heads : 0);
      kv.push_back(L.attn ? L.attn->n_kv_heads : 0);
    }
    put(p + "feed_forward_length", i32_array(ff));
    put(p + "attention.head_count", i32_array(heads));
    put(p + "attention.head_count_kv", i32_array(kv));
  } else {
    put(p + "feed_forward_length", u32(rm ? rm->intermediate_size : 0, "intermediate size"));
    put(p + "attention.head_count", u32(ra->n_heads, "head count"));
    put(p + "attention.head_count_kv", u32(ra->n_kv_heads, "kv head count"));
  }
  put(p + "rope.freq_base", GgufValue::f32(static_cast<float>(spec.rope.theta)));
  put(p + "attention.layer_norm_rms_epsilon",
      GgufValue::f32(static_cast<float>(spec.rms_norm_eps)));
  put("general.file_type", GgufValue::u32(file_type(out)));
  if (ga.vocab_size || deci) put(p + "vocab_size", u32(spec.vocab_size, "vocab size"));
  const int64_t max_pos = spec.max_position_embeddings;
  if (ga.original_context) {
    int64_t orig = max_pos;
    if (config.contains("original_max_position_embeddings") &&
        config["original_max_position_embeddings"].is_number_integer())
      orig = config["original_max_position_embeddings"].get<int64_t>();
    put(p + "rope.scaling.original_context_length", u32(orig, "original context length"));
  }
  const int64_t rope_dims =
      static_cast<int64_t>(std::llround(ra->head_dim * spec.rope.partial_rotary_factor));
  if (ga.rope_dimension_count || deci) put(p + "rope.dimension_count", u32(rope_dims, "rope dims"));
  const bool states_head_dim =
      ga.stated_head_dim && config.contains("head_dim") && !config["head_dim"].is_null();
  if (states_head_dim || ra->head_dim * ra->n_heads != spec.hidden_size || deci) {
    put(p + "attention.key_length", u32(ra->head_dim, "head_dim"));
    put(p + "attention.value_length", u32(ra->head_dim, "head_dim"));
  }
  if (ga.sliding_window && ra->sliding_window > 0)
    put(p + "attention.sliding_window", u32(ra->sliding_window, "sliding window"));

  const RopeSpec& r = spec.rope;
  if (r.scaling == "linear") {
    put(p + "rope.scaling.type", GgufValue::str("linear"));
    put(p + "rope.scaling.factor", GgufValue::f32(static_cast<float>(r.factor)));
  } else if (r.scaling == "yarn") {
    put(p + "rope.scaling.type", GgufValue::str("yarn"));
    put(p + "rope.scaling.factor", GgufValue::f32(static_cast<float>(r.factor)));
    if (!ga.original_context)
      put(p + "rope.scaling.original_context_length",
          u32(r.original_max_position_embeddings, "yarn original context length"));
    if (r.attention_factor > 0)
      put(p + "rope.scaling.attn_factor", GgufValue::f32(static_cast<float>(r.attention_factor)));
  }
  // llama3 scaling travels as the rope_freqs.weight tensor (gguf_export.cpp).
  if (out == GgufOutType::kQ8_0) put("general.quantization_version", GgufValue::u32(2));
  return md;
}

}  // namespace llmprune
