// Nemotron-NAS configs (no assets needed): DeciLM's ffn_mult rule against hand-derived values
// from NVIDIA's published configs, and a round trip: our block_configs, read back by a small
// reader written here from the schema (docs/export.md), give the same per-layer shapes.
#include "export/nemotron_nas.h"

#include <gtest/gtest.h>

#include <optional>

#include "arch/registry.h"
#include "util/error.h"

namespace llmprune {
namespace {

// Hand derivations of int(2 * m * hidden / 3) rounded up to 256: Llama-3.3-Nemotron-Super-49B
// (hidden 8192) ffn_mult 5.25 -> 28672 (Llama-3.1-70B's width), 2.625 -> 14336; hidden 16384
// with 1.95 -> int(21299.2) = 21299 -> 21504.
TEST(NemotronNas, FfnMultRuleMatchesHandDerivations) {
  EXPECT_EQ(nemotron_ffn_mult_to_intermediate(5.25, 8192), 28672);
  EXPECT_EQ(nemotron_ffn_mult_to_intermediate(2.625, 8192), 14336);
  EXPECT_EQ(nemotron_ffn_mult_to_intermediate(1.95, 16384), 21504);
  EXPECT_DOUBLE_EQ(nemotron_ffn_mult_for(28672, 8192), 5.25);
  EXPECT_DOUBLE_EQ(nemotron_ffn_mult_for(512, 128), 6.0);  // 1.5 x 512 / 128
  // Not a multiple of 256: no ffn_mult reproduces it (172 would read back as 256).
  EXPECT_EQ(nemotron_ffn_mult_for(172, 64), 0.0);
  EXPECT_EQ(nemotron_ffn_mult_to_intermediate(1.5 * 172 / 64, 64), 256);
}

// The reader: DeciLM semantics as in vLLM's nemotron_nas.py (num_kv_heads =
// num_attention_heads / n_heads_in_group; intermediate from ffn_mult, else intermediate_size).
std::vector<LayerSpec> read_block_configs(const json& c) {
  std::vector<LayerSpec> out;
  const int64_t heads = c.at("num_attention_heads").get<int64_t>();
  const int64_t hidden = c.at("hidden_size").get<int64_t>();
  const int64_t head_dim =
      c.contains("head_dim") ? c.at("head_dim").get<int64_t>() : hidden / heads;
  for (const json& b : c.at("block_configs")) {
    LayerSpec L;
    if (!b.at("attention").at("no_op").get<bool>()) {
      AttentionSpec a;
      a.n_heads = heads;
      a.n_kv_heads = heads / b.at("attention").at("n_heads_in_group").get<int64_t>();
      a.head_dim = head_dim;
      L.attn = a;
    }
    const json& f = b.at("ffn");
    if (!f.at("no_op").get<bool>()) {
      MlpSpec m;
      m.intermediate_size = f.contains("ffn_mult") ? nemotron_ffn_mult_to_intermediate(
                                                         f.at("ffn_mult").get<double>(), hidden)
                                                   : f.at("intermediate_size").get<int64_t>();
      L.mlp = m;
    }
    out.push_back(L);
  }
  return out;
}

struct Fixture {
  const Family& family = family_by_name("llama");
  json stock = {{"architectures", {"LlamaForCausalLM"}},
                {"model_type", "llama"},
                {"hidden_size", 128},
                {"intermediate_size", 512},
                {"num_hidden_layers", 5},
                {"num_attention_heads", 8},
                {"num_key_value_heads", 4},
                {"vocab_size", 256},
                {"max_position_embeddings", 256},
                {"rms_norm_eps", 1e-5},
                {"rope_theta", 10000.0},
                {"custom_key_kept", "yes"}};
  ModelSpec spec = spec_from_config(family, stock, "test/config.json");
};

AttentionSpec attn(int64_t heads, int64_t kv, int64_t head_dim) {
  AttentionSpec a;
  a.n_heads = heads;
  a.n_kv_heads = kv;
  a.head_dim = head_dim;
  return a;
}

TEST(NemotronNas, BlockConfigsReadBackAsTheSameLayerShapes) {
  Fixture f;
  ModelSpec& s = f.spec;
  s.layers[1].attn = attn(8, 2, 16);         // n_heads_in_group 4
  s.layers[1].mlp->intermediate_size = 256;  // ffn_mult 3
  s.layers[2].attn.reset();
  s.layers[2].mlp->intermediate_size = 300;  // no ffn_mult: intermediate_size
  s.layers[3].attn = attn(8, 8, 16);
  s.layers[3].mlp.reset();
  s.layers[4].attn.reset();
  s.layers[4].mlp.reset();
  const json patched = config_for_spec(f.family, s);
  json source = f.stock;
  for (auto& [k, v] : patched.items()) source[k] = v;
  const json c = nemotron_nas_config(source, s, "test");
  EXPECT_EQ(c.at("model_type"), "nemotron-nas");
  EXPECT_EQ(c.at("architectures"), json::array({"DeciLMForCausalLM"}));
  EXPECT_TRUE(c.at("num_key_value_heads").is_null());
  EXPECT_TRUE(c.at("intermediate_size").is_null());
  EXPECT_FALSE(c.contains("llmprune"));
  EXPECT_EQ(c.at("custom_key_kept"), "yes");
  EXPECT_EQ(c.at("block_configs")[0]["ffn"]["ffn_mult"].get<double>(), 6.0);
  EXPECT_EQ(c.at("block_configs")[1]["attention"]["n_heads_in_group"].get<int64_t>(), 4);
  EXPECT_EQ(c.at("block_configs")[2]["ffn"]["intermediate_size"].get<int64_t>(), 300);
  EXPECT_FALSE(c.at("block_configs")[2]["ffn"].contains("ffn_mult"));
  const std::vector<LayerSpec> back = read_block_configs(c);
  ASSERT_EQ(back.size(), s.layers.size());
  for (size_t i = 0; i < back.size(); ++i) {
    SCOPED_TRACE(i);
    const LayerSpec &a = back[i], &b = s.layers[i];
    ASSERT_EQ(a.attn.has_value(), b.attn.has_value());
    ASSERT_EQ(a.mlp.has_value(), b.mlp.has_value());
    if (a.attn) {
      EXPECT_EQ(a.attn->n_heads, b.attn->n_heads);
      EXPECT_EQ(a.attn->n_kv_heads, b.attn->n_kv_heads);
      EXPECT_EQ(a.attn->head_dim, b.attn->head_dim);
    }
    if (a.mlp) {
      EXPECT_EQ(a.mlp->intermediate_size, b.mlp->intermediate_size);
    }
  }
}

TEST(NemotronNas, ALayerWithOtherQueryHeadsIsRefusedByName) {
  Fixture f;
  f.spec.layers[0].attn.reset();
  f.spec.layers[3].attn = attn(6, 3, 16);  // query heads are global in nemotron-nas
  try {
    nemotron_nas_config(config_for_spec(f.family, f.spec), f.spec, "m");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("layer 3 has 6 query heads but layer 1 has 8"), std::string::npos) << msg;
  }
}

}  // namespace
}  // namespace llmprune
