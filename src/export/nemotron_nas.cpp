// Nemotron-NAS block_configs writer (see nemotron_nas.h).
#include "export/nemotron_nas.h"

#include <cmath>

#include "util/error.h"
#include "util/log.h"

namespace llmprune {

int64_t nemotron_ffn_mult_to_intermediate(double ffn_mult, int64_t hidden_size) {
  const auto n = static_cast<int64_t>(2 * ffn_mult * static_cast<double>(hidden_size) / 3);
  return n % 256 == 0 ? n : n + 256 - n % 256;
}

double nemotron_ffn_mult_for(int64_t intermediate_size, int64_t hidden_size) {
  if (intermediate_size % 256 != 0 || hidden_size <= 0) return 0;
  const double m =
      std::round(1.5 * static_cast<double>(intermediate_size) / hidden_size * 1e6) / 1e6;
  return nemotron_ffn_mult_to_intermediate(m, hidden_size) == intermediate_size ? m : 0;
}

json nemotron_nas_config(const json& patched, const ModelSpec& spec, const std::string& where) {
  const std::string prefix = "[nemotron-nas] " + where + ": ";
  LLMPRUNE_CHECK(spec.family == "llama" || spec.family == "mistral", prefix, "family ", spec.family,
                 " is not a Llama architecture: nemotron-nas (DeciLM) expresses llama and "
                 "mistral models only");
  const AttentionSpec* ref = nullptr;  // the first layer with attention sets the global shape
  int64_t ref_layer = -1;
  for (int64_t i = 0; i < spec.n_layers() && !ref; ++i)
    if (spec.layers[static_cast<size_t>(i)].attn) {
      ref = &*spec.layers[static_cast<size_t>(i)].attn;
      ref_layer = i;
    }
  json blocks = json::array();
  int64_t by_size = 0;
  for (int64_t i = 0; i < spec.n_layers(); ++i) {
    const LayerSpec& L = spec.layers[static_cast<size_t>(i)];
    json attn = {{"no_op", !L.attn}, {"replace_with_linear", false}};
    if (L.attn) {
      const AttentionSpec& a = *L.attn;
      LLMPRUNE_CHECK(a.n_heads == ref->n_heads, prefix, "layer ", i, " has ", a.n_heads,
                     " query heads but layer ", ref_layer, " has ", ref->n_heads,
                     ": nemotron-nas has one global num_attention_heads (only KV heads vary per "
                     "layer); use --format gguf");
      LLMPRUNE_CHECK(a.head_dim == ref->head_dim, prefix, "layer ", i, " has head_dim ", a.head_dim,
                     " but layer ", ref_layer, " has ", ref->head_dim,
                     ": nemotron-nas has one global head_dim; use --format gguf");
      LLMPRUNE_CHECK(a.n_kv_heads > 0 && a.n_heads % a.n_kv_heads == 0, prefix, "layer ", i, ": ",
                     a.n_heads, " query heads are not a multiple of ", a.n_kv_heads, " KV heads");
      LLMPRUNE_CHECK(a.sliding_window == 0, prefix, "layer ", i,
                     " uses sliding-window attention, which nemotron-nas does not express; use "
                     "--format gguf");
      LLMPRUNE_CHECK(!a.qkv_bias && !a.o_bias, prefix, "layer ", i,
                     " has attention biases, which nemotron-nas does not express");
      attn["n_heads_in_group"] = a.n_heads / a.n_kv_heads;
    } else {
      attn["n_heads_in_group"] = nullptr;
    }
    json ffn = {{"no_op", !L.mlp}, {"replace_with_linear", false}};
    if (L.mlp) {
      LLMPRUNE_CHECK(!L.mlp->bias, prefix, "layer ", i,
                     " has MLP biases, which nemotron-nas does not express");
      const double m = nemotron_ffn_mult_for(L.mlp->intermediate_size, spec.hidden_size);
      if (m > 0) {
        ffn["ffn_mult"] = m;
      } else {
        ffn["intermediate_size"] = L.mlp->intermediate_size;
        ++by_size;
      }
    } else {
      ffn["ffn_mult"] = nullptr;
    }
    blocks.push_back({{"attention", attn}, {"ffn", ffn}});
  }
  if (by_size > 0)
    log_warn("[nemotron-nas] ", by_size, " layer(s) have an MLP width that is not a multiple of ",
             "256 (no ffn_mult gives it): written as ffn.intermediate_size, which vLLM reads but ",
             "NVIDIA's DeciLM remote code (ffn_mult only) does not");

  json c = patched;
  c.erase("llmprune");
  c.erase("drop_attn_list");
  c.erase("drop_mlp_list");
  c.erase("auto_map");  // no DeciLM code travels with the folder
  c["model_type"] = "nemotron-nas";
  c["architectures"] = json::array({"DeciLMForCausalLM"});
  if (ref) {
    c["num_attention_heads"] = ref->n_heads;
    if (c.contains("head_dim") || spec.hidden_size != ref->n_heads * ref->head_dim)
      c["head_dim"] = ref->head_dim;
  }
  c["num_key_value_heads"] = nullptr;
  c["intermediate_size"] = nullptr;
  c["block_configs"] = blocks;
  return c;
}

}  // namespace llmprune
