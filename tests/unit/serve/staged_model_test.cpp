// Staged model: stage A equals the pruned checkpoint and AB / FULL equal what `restore`
// writes, token for token (generate) and bit for bit (logits); sub-block drops; bad input.
#include "serve/staged_model.h"

#include <gtest/gtest.h>

#include "model/kv_cache.h"
#include "serve/generate.h"
#include "serve/staged_generate.h"
#include "staged_fixtures.h"

namespace llmprune {
namespace {

const std::vector<int64_t> kPrompt = {72, 101, 108, 108, 111, 44, 32, 119};  // "Hello, w"

GenerateOptions greedy(int64_t n) {
  GenerateOptions g;
  g.max_new_tokens = n;
  g.stop_at_eos = false;
  return g;
}

// Stage `name` of `m` against the checkpoint `dir`: same spec shape, bit-identical logits,
// the same greedy tokens from generate() and from staged_generate() forced to the stage.
void expect_stage_equals(StagedModel& m, const std::string& name, const std::string& dir) {
  SCOPED_TRACE(name + " vs " + dir);
  auto ref = CausalLM::load(dir);
  CausalLM& st = m.stage(m.stage_index(name));
  ASSERT_EQ(st.spec().n_layers(), ref->spec().n_layers());
  for (int64_t i = 0; i < ref->spec().n_layers(); ++i) {
    EXPECT_EQ(st.spec().layers[i].attn.has_value(), ref->spec().layers[i].attn.has_value()) << i;
    EXPECT_EQ(st.spec().layers[i].mlp.has_value(), ref->spec().layers[i].mlp.has_value()) << i;
  }
  torch::NoGradGuard ng;
  auto ids = torch::tensor(kPrompt).view({1, -1});
  EXPECT_TRUE(torch::equal(st.forward(ids, nullptr, nullptr), ref->forward(ids, nullptr, nullptr)));
  // The stage's parameters under checkpoint names are the checkpoint's tensors.
  auto mine = st.named_parameters();
  auto theirs = ref->named_parameters();
  ASSERT_EQ(mine.size(), theirs.size());
  std::map<std::string, torch::Tensor> by_name(theirs.begin(), theirs.end());
  for (const auto& [n, p] : mine) {
    ASSERT_TRUE(by_name.count(n)) << n;
    EXPECT_TRUE(torch::equal(p, by_name.at(n))) << n;
  }
  GenerateResult want = generate(*ref, kPrompt, greedy(24));
  GenerateResult got = generate(st, kPrompt, greedy(24));
  EXPECT_EQ(got.tokens, want.tokens);
  RoutePolicy force;
  force.force_stage = m.stage_index(name);
  StagedResult sr = staged_generate(m, kPrompt, greedy(24), force);
  EXPECT_EQ(sr.tokens, want.tokens);
  EXPECT_EQ(sr.stage, force.force_stage);
  ASSERT_EQ(want.tokens.size(), 24u);
}

TEST(StagedModel, StagesEqualPrunedAndRestoredCheckpoints) {
  auto f = test::make_staged("staged_layers", "angular", 2);
  auto m = StagedModel::load(f.a, f.bundles);
  ASSERT_EQ(m->n_stages(), 3);
  EXPECT_EQ(m->stage_names(), "A, AB, FULL");
  EXPECT_EQ(m->info(0).spec.n_layers(), 2);
  EXPECT_EQ(m->info(1).spec.n_layers(), 3);
  EXPECT_EQ(m->info(2).spec.n_layers(), 4);
  // One set of weights: the shared model has exactly FULL's parameters.
  auto full = CausalLM::load(f.full);
  EXPECT_EQ(m->shared().named_parameters().size(), full->named_parameters().size());
  expect_stage_equals(*m, "A", f.a);
  expect_stage_equals(*m, "AB", f.ab);
  expect_stage_equals(*m, "FULL", f.full);
}

// The staged model loads through the checkpoint loader's own path (model/stored_weights.h):
// under the same runtime options, stage FULL computes exactly what `restore`'s FULL checkpoint
// loaded by CausalLM::load computes, parameter dtypes included.
TEST(StagedModel, LoadOptionsActAsOnTheCheckpoint) {
  auto f = test::make_staged("staged_opts", "angular", 2);
  LoadOptions bf16, q8;
  bf16.dtype = "bf16";
  q8.weights = "q8_0";
  for (const LoadOptions& o : {bf16, q8}) {
    SCOPED_TRACE(o.dtype + " / " + o.weights);
    auto m = StagedModel::load(f.a, f.bundles, o);
    auto ref = CausalLM::load(f.full, o);
    CausalLM& st = m->stage(m->stage_index("FULL"));
    std::map<std::string, torch::Tensor> by_name;
    for (const auto& [n, p] : ref->named_parameters()) by_name[n] = p;
    for (const auto& [n, p] : st.named_parameters())
      EXPECT_EQ(p.scalar_type(), by_name.at(n).scalar_type()) << n;
    torch::NoGradGuard ng;
    auto ids = torch::tensor(kPrompt).view({1, -1});
    EXPECT_TRUE(torch::equal(st.forward(ids, nullptr, nullptr), ref->forward(ids, nullptr, nullptr)));
  }
}

TEST(StagedModel, SubBlockDropsRunTheCheckpointsLayerSpecs) {
  // joint removes attention and MLP sub-blocks (A's layers then lack one of them).
  auto f = test::make_staged("staged_sub", "joint", 3);
  auto m = StagedModel::load(f.a, f.bundles);
  ASSERT_EQ(m->n_stages(), 3);
  int partial = 0;
  for (const auto& L : m->info(0).spec.layers) partial += !L.attn || !L.mlp;
  EXPECT_GT(partial, 0) << "joint should leave a layer with one sub-block";
  expect_stage_equals(*m, "A", f.a);
  expect_stage_equals(*m, "AB", f.ab);
  expect_stage_equals(*m, "FULL", f.full);
}

TEST(StagedModel, PlainModelIsOneStage) {
  auto f = test::make_staged("staged_plain", "angular", 1);
  auto m = StagedModel::load(f.a, "");
  ASSERT_EQ(m->n_stages(), 1);
  expect_stage_equals(*m, "A", f.a);
}

TEST(StagedModel, BadInput) {
  auto f = test::make_staged("staged_bad", "angular", 2);
  auto g = test::make_staged("staged_bad_other", "angular", 2, false, 4, /*seed=*/8);
  EXPECT_NE(test::bad_input_message([&] {
              StagedModel::load(f.a, g.bundles);
            }).find("does not belong to"),
            std::string::npos);
  EXPECT_NE(test::bad_input_message([&] {
              StagedModel::load(f.source, f.bundles);
            }).find("no layers_map.json"),
            std::string::npos);
  auto m = StagedModel::load(f.a, f.bundles);
  EXPECT_NE(test::bad_input_message([&] { m->stage_index("XL"); }).find("A, AB, FULL"),
            std::string::npos);
  // Through the binary: one error line, exit 2.
  test::expect_bad_input(
      test::run_llmprune("route --model " + f.a + " --bundles-dir " + g.bundles + " </dev/null"),
      "does not belong to");
  test::expect_bad_input(test::run_llmprune("route --model " + f.a + " --bundles-dir " + f.bundles +
                                            " --thresholds 3,1 </dev/null"),
                         "out of order");
}

}  // namespace
}  // namespace llmprune
