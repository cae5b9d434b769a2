// Architecture registry: detection, config adapters, llmprune block, strict tensor-set
// validation (on shape maps, no files) and prune-group coverage.
#include <gtest/gtest.h>

#include "support/assets.h"

#include <map>

#include "arch/checkpoint_check.h"
#include "arch/hf_config.h"
#include "arch/registry.h"
#include "util/error.h"

using namespace llmprune;

namespace {

json llama_config() {
  // The keys of the stories260K config (assets/models/stories260K-hf/config.json).
  return json::parse(R"({
    "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 64,
    "intermediate_size": 172, "num_hidden_layers": 2, "num_attention_heads": 8,
    "num_key_value_heads": 4, "vocab_size": 512, "max_position_embeddings": 512,
    "rms_norm_eps": 1e-05, "rope_theta": 10000.0, "rope_scaling": null, "hidden_act": "silu",
    "attention_bias": false, "tie_word_embeddings": true, "bos_token_id": 1, "eos_token_id": 2})");
}


ShapeMap shapes_of(const Family& f, const ModelSpec& spec) {
  ShapeMap m;
  for (const auto& t : f.tensors(spec)) m[t.name] = t.shape;
  return m;
}

}  // namespace

TEST(Registry, DetectsEveryFamilyFromModelTypeAndArchitectures) {
  for (const Family* f : families()) {
    json c = llama_config();
    c["model_type"] = f->model_types()[0];
    c["architectures"] = {f->architectures()[0]};
    EXPECT_EQ(detect_family(c, "config.json").name(), f->name());
  }
  EXPECT_EQ(supported_families(), "llama, mistral, qwen2, phi3, opt");
}

TEST(Registry, UnknownModelTypeListsSupportedFamilies) {
  json c = llama_config();
  c["model_type"] = "gpt2";
  c["architectures"] = {"GPT2LMHeadModel"};
  std::string e = test::bad_input_message([&] { detect_family(c, "x/config.json"); });
  EXPECT_NE(e.find("unknown model_type 'gpt2'"), std::string::npos) << e;
  EXPECT_NE(e.find("supported: llama, mistral, qwen2, phi3"), std::string::npos) << e;
  EXPECT_NE(e.find("x/config.json"), std::string::npos) << e;
}

TEST(Registry, ModelTypeDisagreeingWithArchitecturesIsRefused) {
  json c = llama_config();
  c["architectures"] = {"Qwen2ForCausalLM"};
  std::string e = test::bad_input_message([&] { detect_family(c, "config.json"); });
  EXPECT_NE(e.find("disagrees with architectures [Qwen2ForCausalLM]"), std::string::npos) << e;
  c["architectures"] = {"LlamaForSequenceClassification"};
  e = test::bad_input_message([&] { detect_family(c, "config.json"); });
  EXPECT_NE(e.find("unsupported architecture 'LlamaForSequenceClassification'"),
            std::string::npos)
      << e;
}

TEST(ConfigAdapter, LlamaDefaultsFollowTransformers) {
  json c = llama_config();
  c.erase("num_key_value_heads");  // transformers: MHA fallback
  ModelSpec s = spec_from_config(llama_family(), c, "config.json");
  ASSERT_EQ(s.n_layers(), 2);
  EXPECT_EQ(s.layers[0].attn->n_kv_heads, 8);
  EXPECT_EQ(s.layers[0].attn->head_dim, 8);  // 64 / 8
  EXPECT_FALSE(s.layers[0].attn->qkv_bias);
  EXPECT_TRUE(s.tie_word_embeddings);
  EXPECT_EQ(s.eos_token_ids, std::vector<int64_t>{2});
  c["eos_token_id"] = {128001, 128009};  // Llama-3 style list
  c["head_dim"] = 16;
  s = spec_from_config(llama_family(), c, "config.json");
  EXPECT_EQ(s.eos_token_ids, (std::vector<int64_t>{128001, 128009}));
  EXPECT_EQ(s.layers[1].attn->head_dim, 16);
}

TEST(ConfigAdapter, UnsupportedRopeScalingIsNamed) {
  json c = llama_config();
  c["rope_scaling"] = {{"type", "longrope"}, {"factor", 2.0}};
  std::string e = test::bad_input_message([&] { spec_from_config(llama_family(), c, "config.json"); });
  EXPECT_NE(e.find("unsupported rope_scaling type 'longrope'"), std::string::npos) << e;
  c["rope_scaling"] = {{"rope_type", "llama3"}, {"factor", 8.0}, {"low_freq_factor", 1.0},
                       {"high_freq_factor", 4.0}, {"original_max_position_embeddings", 8192}};
  ModelSpec s = spec_from_config(llama_family(), c, "config.json");
  EXPECT_EQ(s.rope.scaling, "llama3");
  EXPECT_EQ(s.rope.original_max_position_embeddings, 8192);
}

TEST(ConfigAdapter, MistralSlidingWindow) {
  json c = llama_config();
  c["model_type"] = "mistral";
  c["architectures"] = {"MistralForCausalLM"};
  c["sliding_window"] = 4;
  EXPECT_EQ(spec_from_config(mistral_family(), c, "c").layers[1].attn->sliding_window, 4);
  c["sliding_window"] = nullptr;  // Mistral v0.2+: none
  EXPECT_EQ(spec_from_config(mistral_family(), c, "c").layers[1].attn->sliding_window, 0);
}

TEST(ConfigAdapter, Qwen2SlidingWindowFromMaxWindowLayers) {
  // transformers' Qwen2Config: layer i slides iff use_sliding_window and i >= max_window_layers.
  json c = llama_config();
  c["model_type"] = "qwen2";
  c["architectures"] = {"Qwen2ForCausalLM"};
  c["num_hidden_layers"] = 3;
  c["sliding_window"] = 16;
  c["max_window_layers"] = 1;
  c["use_sliding_window"] = false;
  ModelSpec s = spec_from_config(qwen2_family(), c, "c");
  EXPECT_TRUE(s.layers[0].attn->qkv_bias);
  EXPECT_FALSE(s.layers[0].attn->o_bias);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(s.layers[i].attn->sliding_window, 0);
  c["use_sliding_window"] = true;
  s = spec_from_config(qwen2_family(), c, "c");
  EXPECT_EQ(s.layers[0].attn->sliding_window, 0);
  EXPECT_EQ(s.layers[1].attn->sliding_window, 16);
  EXPECT_EQ(s.layers[2].attn->sliding_window, 16);
}

TEST(LlmpruneBlock, HeterogeneousLayersRoundTrip) {
  json c = llama_config();
  c["num_hidden_layers"] = 3;
  c["llmprune"] = json::parse(R"({"layers": [
      {"attn": {"n_heads": 6, "n_kv_heads": 3}, "mlp": {"intermediate_size": 100}},
      {"attn": null, "mlp": {"intermediate_size": 172}},
      {"attn": {"n_heads": 8, "n_kv_heads": 4}, "mlp": null}]})");
  ModelSpec s = spec_from_config(llama_family(), c, "c");
  EXPECT_EQ(s.layers[0].attn->n_heads, 6);
  EXPECT_EQ(s.layers[0].attn->head_dim, 8);  // kept from the stock keys
  EXPECT_EQ(s.layers[0].mlp->intermediate_size, 100);
  EXPECT_FALSE(s.layers[1].attn.has_value());
  EXPECT_FALSE(s.layers[2].mlp.has_value());
  EXPECT_FALSE(is_uniform(s));
  json back = config_for_spec(llama_family(), s);
  ASSERT_TRUE(back.contains("llmprune"));
  ModelSpec again = spec_from_config(llama_family(), back, "c2");
  EXPECT_EQ(shapes_of(llama_family(), again), shapes_of(llama_family(), s));
  // Wrong layer count is named.
  c["num_hidden_layers"] = 2;
  std::string e = test::bad_input_message([&] { spec_from_config(llama_family(), c, "c"); });
  EXPECT_NE(e.find("llmprune.layers must list num_hidden_layers = 2 entries, got 3"),
            std::string::npos)
      << e;
}

TEST(Validation, Qwen2CheckpointClaimingLlamaIsRefusedNamingTheBiases) {
  json c = llama_config();
  c["model_type"] = "qwen2";
  c["architectures"] = {"Qwen2ForCausalLM"};
  ShapeMap qwen = shapes_of(qwen2_family(), spec_from_config(qwen2_family(), c, "c"));
  ModelSpec as_llama = spec_from_config(llama_family(), llama_config(), "c");
  std::string e = test::bad_input_message([&] { validate_tensor_set(llama_family(), as_llama, qwen, "[model] d"); });
  EXPECT_NE(e.find("checkpoint claims llama but has tensors "
                   "model.layers.0.self_attn.q_proj.bias, model.layers.0.self_attn.k_proj.bias, "
                   "model.layers.0.self_attn.v_proj.bias, ... (6 in all)"),
            std::string::npos)
      << e;
  EXPECT_NE(e.find("(qwen2-style q/k/v biases): refusing to drop them"), std::string::npos) << e;
  EXPECT_NE(e.find("(6 in all)"), std::string::npos) << e;  // 3 biases x 2 layers
}

TEST(Validation, QProjRowsDisagreeingWithHeadsNameLayerAndShapes) {
  ModelSpec s = spec_from_config(llama_family(), llama_config(), "c");
  ShapeMap m = shapes_of(llama_family(), s);
  m["model.layers.1.self_attn.q_proj.weight"] = {48, 64};
  std::string e = test::bad_input_message([&] { validate_tensor_set(llama_family(), s, m, "[model] d"); });
  EXPECT_NE(e.find("layer 1: model.layers.1.self_attn.q_proj.weight has shape [48, 64] but "
                   "the config needs [64, 64] (num_attention_heads 8 x head_dim 8 = 64 rows; "
                   "the weights imply 6 query heads of head_dim 8)"),
            std::string::npos)
      << e;
}

TEST(Validation, MissingAndUnexpectedTensorsAreNamed) {
  ModelSpec s = spec_from_config(llama_family(), llama_config(), "c");
  ShapeMap m = shapes_of(llama_family(), s);
  m.erase("model.layers.1.mlp.down_proj.weight");
  std::string e = test::bad_input_message([&] { validate_tensor_set(llama_family(), s, m, "[model] d"); });
  EXPECT_NE(e.find("missing tensor model.layers.1.mlp.down_proj.weight"), std::string::npos) << e;
  m = shapes_of(llama_family(), s);
  m["model.layers.7.mlp.extra.weight"] = {3};
  e = test::bad_input_message([&] { validate_tensor_set(llama_family(), s, m, "[model] d"); });
  EXPECT_NE(e.find("unexpected tensor model.layers.7.mlp.extra.weight"), std::string::npos) << e;
  // A tied checkpoint may still carry lm_head.weight: accepted, reported.
  m = shapes_of(llama_family(), s);
  m["lm_head.weight"] = {512, 64};
  EXPECT_EQ(validate_tensor_set(llama_family(), s, m, "d").tied_lm_head, "lm_head.weight");
}

// Every prunable tensor axis is covered by the groups of each set exactly once (each row of
// q/k/v, each column of o_proj, each gate/up row and down column belongs to one KV group and
// one channel; q and o ranges to one query head), and a group's cost counts its parameters.
TEST(PruneGroups, CoverEachPrunableTensorExactlyOnce) {
  for (const Family* f : families()) {
    json c = llama_config();
    if (f->name() == "opt") {  // OPT keys: MHA with 4 heads, ffn_dim as intermediate_size
      c["num_attention_heads"] = 4;
      c["ffn_dim"] = 172;
    }
    c["model_type"] = f->model_types()[0];
    c["architectures"] = {f->architectures()[0]};
    c["attention_bias"] = true;  // llama: exercise bias slices too
    c["mlp_bias"] = true;
    ModelSpec spec = spec_from_config(*f, c, "c");
    std::map<std::string, std::vector<int64_t>> shapes;
    for (const auto& t : f->tensors(spec)) shapes[t.name] = t.shape;
    std::map<GroupKind, std::map<std::pair<std::string, int64_t>, std::vector<int>>> cover;
    for (int64_t l = 0; l < spec.n_layers(); ++l) {
      std::map<GroupKind, int64_t> count;
      for (const auto& g : f->group_sets(spec, l)) {
        count[g.kind] = g.count;
        int64_t cost = 0;
        for (const auto& r : g.rules) {
          ASSERT_TRUE(shapes.count(r.tensor)) << f->name() << ": " << r.tensor;
          const auto& shape = shapes[r.tensor];
          EXPECT_EQ(r.span, shape.size() == 1 ? 1 : shape[static_cast<size_t>(1 - r.axis)]);
          cost += r.length * r.span;
          auto& v = cover[g.kind][{r.tensor, r.axis}];
          v.resize(static_cast<size_t>(shape[static_cast<size_t>(r.axis)]), 0);
          for (int64_t i = 0; i < g.count; ++i)
            for (int64_t k = 0; k < r.length; ++k)
              v.at(static_cast<size_t>(r.base + i * r.length + k))++;
        }
        EXPECT_EQ(g.cost(), cost);
      }
      const auto& a = *spec.layers[static_cast<size_t>(l)].attn;  // 8/4 (opt: 4/4)
      EXPECT_EQ(count[GroupKind::kKvGroup], a.n_kv_heads) << f->name();
      EXPECT_EQ(count[GroupKind::kQueryHead], a.n_heads) << f->name();
      EXPECT_EQ(a.n_heads, f->name() == "opt" ? 4 : 8);
      EXPECT_EQ(count[GroupKind::kMlpChannel], 172) << f->name();  // = intermediate_size
    }
    for (const auto& [kind, tensors] : cover)
      for (const auto& [key, counts] : tensors)
        for (size_t i = 0; i < counts.size(); ++i) {
          // Query heads cover only the q part of q/k/v; the rest of a fused qkv stays 0.
          const bool q_only_tail = kind == GroupKind::kQueryHead && key.first.find("qkv") !=
                                   std::string::npos && i >= 64;
          ASSERT_EQ(counts[i], q_only_tail ? 0 : 1)
              << f->name() << " " << group_kind_name(kind) << " " << key.first << " axis "
              << key.second << " index " << i;
        }
    // Every attention/MLP tensor is claimed by some KV group or channel, except the
    // o_proj/down_proj biases: they live on the hidden axis, which these groups never touch.
    for (const auto& t : f->tensors(spec)) {
      if (!is_attention_role(t.role) && !is_mlp_role(t.role)) continue;
      if (t.is_bias && (t.role == TensorRole::kO || t.role == TensorRole::kDown)) continue;
      const auto& set = cover[is_attention_role(t.role) ? GroupKind::kKvGroup
                                                        : GroupKind::kMlpChannel];
      bool claimed = false;
      for (const auto& [key, counts] : set) claimed |= key.first == t.name;
      EXPECT_TRUE(claimed) << f->name() << ": " << t.name;
    }
  }
}

TEST(PruneGroups, Phi3FusedOffsets) {
  json c = llama_config();
  c["model_type"] = "phi3";
  c["architectures"] = {"Phi3ForCausalLM"};
  ModelSpec spec = spec_from_config(phi3_family(), c, "c");
  auto sets = phi3_family().group_sets(spec, 0);
  ASSERT_EQ(sets.size(), 3u);
  // hidden 64, 8 heads of 8, 4 KV heads: fused rows are q 0..63, k 64..95, v 96..127. KV group
  // i takes q rows 16i..16i+15, k rows 64+8i.., v rows 96+8i.. and o columns 16i..
  const auto& kv = sets[0];
  ASSERT_EQ(kv.rules.size(), 4u);
  EXPECT_EQ(kv.rules[0].tensor, "model.layers.0.self_attn.qkv_proj.weight");
  EXPECT_EQ(kv.rules[0].base, 0);
  EXPECT_EQ(kv.rules[0].length, 16);
  EXPECT_EQ(kv.rules[1].base, 64);
  EXPECT_EQ(kv.rules[1].length, 8);
  EXPECT_EQ(kv.rules[2].base, 96);
  EXPECT_EQ(kv.rules[3].tensor, "model.layers.0.self_attn.o_proj.weight");
  EXPECT_EQ(kv.rules[3].axis, 1);
  // cost: (16 + 8 + 8) rows x 64 + 64 x 16 columns.
  EXPECT_EQ(kv.cost(), 32 * 64 + 64 * 16);
  // MLP channel i: gate row i and up row 172 + i of gate_up_proj.
  const auto& ch = sets[2];
  EXPECT_EQ(ch.kind, GroupKind::kMlpChannel);
  EXPECT_EQ(ch.rules[0].base, 0);
  EXPECT_EQ(ch.rules[1].base, 172);
  EXPECT_EQ(ch.rules[2].axis, 1);
}
