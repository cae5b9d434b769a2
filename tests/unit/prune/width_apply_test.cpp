// Width cuts: slicing KV groups and MLP channels out of the tensors gives the logits of the
// source model with the same groups zeroed (the invariant "slicing equals masking"), for GQA
// 2:1 llama, 7:1 qwen2 with q/k/v biases, phi3 with fused qkv_proj / gate_up_proj, and MHA
// mistral; a sliced model saved and reloaded gives the same logits; an empty cut changes nothing.
#include <gtest/gtest.h>

#include "apply/width_apply.h"
#include "arch/registry.h"
#include "model/causal_lm.h"
#include "prune_fixtures.h"

using namespace llmprune;

namespace {

struct Case {
  const char* family;
  int64_t heads, kv_heads, hidden;
};

}  // namespace

class WidthFamilies : public ::testing::TestWithParam<Case> {};

TEST_P(WidthFamilies, SlicingEqualsMaskingAndSurvivesSaveLoad) {
  const Case c = GetParam();
  const std::string root = test::temp_dir(std::string("width_") + c.family);
  SyntheticOptions o = test::prune_model_options(3);
  o.heads = c.heads;
  o.kv_heads = c.kv_heads;
  o.hidden = c.hidden;
  o.head_dim = 8;
  const ModelSpec spec = make_test_model(c.family, root + "/src", o);
  const Family& family = family_by_name(c.family);
  const NamedTensors src = test::load_all(root + "/src");

  WidthCut cut;
  cut.kv_groups[0] = {1};
  cut.channels[0] = {0, 5, 7, 47};
  cut.kv_groups[1] = {0};
  for (int64_t i = 0; i < 48; ++i) cut.channels[1].push_back(i);  // the whole MLP of layer 1
  for (int64_t g = 0; g < c.kv_heads; ++g) cut.kv_groups[2].push_back(g);  // all of attention 2
  // Query heads: the last head of every kept group of layer 0 (none in MHA: g = 1).
  const int64_t g = c.heads / c.kv_heads;
  if (g > 1)
    for (int64_t k = 0; k < c.kv_heads; ++k)
      if (k != 1) cut.q_heads[0].push_back(k * g + g - 1);
  // Hidden channels (RMSNorm families): slicing them must still equal masking, exactly up to
  // rounding, through the norm compensation (width_apply.h).
  if (std::string(c.family) != "opt") cut.hidden = {0, 3, 4, c.hidden - 1};
  ModelSpec sliced_spec;
  const NamedTensors sliced = slice_width(family, spec, cut, src, &sliced_spec);
  if (!cut.hidden.empty()) {
    EXPECT_EQ(sliced_spec.hidden_size, c.hidden - 4);
    EXPECT_DOUBLE_EQ(sliced_spec.rms_norm_eps,
                     spec.rms_norm_eps * static_cast<double>(c.hidden) / (c.hidden - 4));
  }
  NamedTensors masked;
  for (const auto& [n, t] : src) masked.emplace_back(n, t.clone());
  mask_width(family, spec, cut, masked);
  // A sub-block cut entirely also loses its output bias (OPT out_proj / fc2): mask_width zeroes
  // it, as slicing removes the sub-block with that constant.

  ASSERT_TRUE(sliced_spec.layers[0].attn && sliced_spec.layers[0].mlp);
  EXPECT_EQ(sliced_spec.layers[0].attn->n_kv_heads, c.kv_heads - 1);
  EXPECT_EQ(sliced_spec.layers[0].attn->n_heads, (c.kv_heads - 1) * (g > 1 ? g - 1 : 1));
  EXPECT_EQ(sliced_spec.layers[0].mlp->intermediate_size, 44);
  EXPECT_FALSE(sliced_spec.layers[1].mlp.has_value());
  EXPECT_FALSE(sliced_spec.layers[2].attn.has_value());

  auto a = CausalLM::from_tensors(sliced_spec, sliced);  // validates every shape
  auto b = CausalLM::from_tensors(spec, masked);
  torch::manual_seed(4);
  torch::Tensor ids = torch::randint(257, {2, 24}, torch::kLong);
  torch::NoGradGuard ng;
  torch::Tensor la = a->forward(ids), lb = b->forward(ids);
  EXPECT_LT((la - lb).abs().max().item<double>(), 1e-5);

  if (std::string(c.family) == "opt") {
    EXPECT_NE(test::bad_input_message([&] { family.hidden_set(spec); }).find("LayerNorm"),
              std::string::npos);
  }
  SaveOptions so;
  save_checkpoint(root + "/sliced", config_for_spec(family, sliced_spec), sliced, so);
  EXPECT_TRUE(torch::equal(CausalLM::load(root + "/sliced")->forward(ids), la));

  ModelSpec same;
  const NamedTensors none = slice_width(family, spec, WidthCut{}, src, &same);
  ASSERT_EQ(none.size(), src.size());
  for (size_t i = 0; i < src.size(); ++i) EXPECT_TRUE(torch::equal(none[i].second, src[i].second));
}

INSTANTIATE_TEST_SUITE_P(Families, WidthFamilies,
                         ::testing::Values(Case{"llama", 4, 2, 32}, Case{"qwen2", 14, 2, 112},
                                           Case{"phi3", 8, 4, 64}, Case{"mistral", 4, 4, 32},
                                           Case{"opt", 4, 4, 32}),
                         [](const auto& info) { return std::string(info.param.family); });

TEST(WidthApply, BadIndicesAreNamed) {
  const std::string root = test::temp_dir("width_bad");
  const ModelSpec spec = make_test_model("llama", root + "/src", test::prune_model_options(2));
  const NamedTensors src = test::load_all(root + "/src");
  WidthCut cut;
  cut.kv_groups[1] = {2};
  ModelSpec out;
  EXPECT_NE(test::bad_input_message([&] { slice_width(llama_family(), spec, cut, src, &out); })
                .find("layer 1 has 2 kv-groups (0..1), not 2"),
            std::string::npos);
  cut = {};
  WidthCut uneven;  // layer 0 of this 4:2 model: group 0 would keep 1 query head, group 1 two
  uneven.q_heads[0] = {0};
  EXPECT_NE(test::bad_input_message([&] { slice_width(llama_family(), spec, uneven, src, &out); })
                .find("same number"),
            std::string::npos);
  cut.channels[5] = {0};
  EXPECT_NE(test::bad_input_message([&] { slice_width(llama_family(), spec, cut, src, &out); })
                .find("layer 5 outside layers 0..1"),
            std::string::npos);
}
