// Calibration runner and hidden-state statistics against independent computations: the
// runner's NLL equals the model's own forward pass (DecoderLM, batch-major, a different code
// path), the angular distance and block influence equal a direct computation from hidden
// states captured with the model's forward hook, streaming equals in-memory, and the windows
// follow the documented offset rule.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "calib/calib_data.h"
#include "calib/hidden_stats.h"
#include "calib/runner.h"
#include "importance/depth_scores.h"
#include "model/causal_lm.h"
#include "model/nll.h"
#include "prune_fixtures.h"
#include "tokenizer/tokenizer.h"

using namespace llmprune;

namespace {

torch::Tensor windows(int64_t n, int64_t T, uint64_t seed) {
  torch::manual_seed(seed);
  return torch::randint(257, {n, T}, torch::kLong);
}

}  // namespace

class CalibFamilies : public ::testing::TestWithParam<std::string> {};

TEST_P(CalibFamilies, RunnerNllEqualsModelForward) {
  const std::string dir = test::make_prune_model(GetParam(), test::temp_dir("calib_nll") + "/m", 3);
  torch::Tensor ids = windows(5, 24, 1);
  LayerSource src(dir, {}, /*resident=*/true);
  RunOptions ro;
  ro.batch_size = 2;
  ro.nll = true;
  ro.progress = false;
  RunResult r = run_calibration(src, ids, full_schedule(src.spec()), nullptr, ro);
  auto model = CausalLM::load(dir);
  torch::NoGradGuard ng;
  torch::Tensor ref = window_nll(model->forward_hidden(ids), ids,
                                 [&](const torch::Tensor& h) { return model->lm_head(h); });
  ASSERT_EQ(r.nll.size(), 5u);
  for (int64_t i = 0; i < 5;
       ++i)  // fp32 compute: batch shapes differ (2 vs 5 windows), so BLAS rounds differently.
    EXPECT_NEAR(r.nll[i], ref[i].item<double>(), 1e-6 * std::abs(r.nll[i]));
  EXPECT_EQ(r.scored_tokens, 5 * 23);
}

TEST_P(CalibFamilies, ScoresEqualDirectComputationAndStreamingEqualsInMemory) {
  const std::string dir =
      test::make_prune_model(GetParam(), test::temp_dir("calib_direct") + "/m", 4);
  torch::Tensor ids = windows(6, 16, 2);
  // Direct: capture x_l (layer inputs) and the last layer's output from the model's hook.
  auto model = CausalLM::load(dir);
  std::vector<torch::Tensor> x(5);
  ForwardHook hook = [&](HookPoint p, int64_t layer, const torch::Tensor& t) {
    if (p == HookPoint::kLayerInput) x[static_cast<size_t>(layer)] = t.clone();
    if (p == HookPoint::kLayerOutput && layer == 3) x[4] = t.clone();
  };
  {
    torch::NoGradGuard ng;
    model->forward(ids, nullptr, &hook);
  }
  auto cosines = [](const torch::Tensor& a, const torch::Tensor& b) {  // [rows] double
    auto A = a.to(torch::kDouble), B = b.to(torch::kDouble);
    return ((A * B).sum(1) / (A.norm(2, 1) * B.norm(2, 1))).clamp(-1, 1);
  };
  std::vector<HiddenStats> got;
  for (bool resident : {true, false}) {
    LayerSource src(dir, {}, resident);
    HiddenStatsObserver obs(4, TokenPos::kLast, TokenPos::kAll, /*pairwise=*/true);
    RunOptions ro;
    ro.batch_size = 4;
    ro.progress = false;
    run_calibration(src, ids, full_schedule(src.spec()), &obs, ro);
    got.push_back(obs.stats());
  }
  const auto d = angular_distance(got[0]);
  for (int64_t n = 1; n <= 4; ++n)
    for (int64_t l = 0; l + n <= 4; ++l) {
      auto c = cosines(x[l].select(1, 15), x[l + n].select(1, 15));
      const double expect = (torch::acos(c) / M_PI).mean().item<double>();
      // The model's forward runs all 6 windows at once, the runner batches of 4: fp32 hidden
      // states then differ in the last bits (~1e-7 relative), so compare to 1e-6.
      EXPECT_NEAR(d[n][l], expect, 1e-6) << "d(" << l << ", " << n << ")";
    }
  const auto bi = block_influence(got[0]);
  for (int64_t l = 0; l < 4; ++l) {
    auto c = cosines(x[l].reshape({-1, 32}), x[l + 1].reshape({-1, 32}));
    EXPECT_NEAR(bi[l], 1.0 - c.mean().item<double>(), 1e-6) << "BI of layer " << l;
  }
  // Streaming (one layer in memory at a time) and in-memory: same statistics.
  const auto d2 = angular_distance(got[1]);
  const auto bi2 = block_influence(got[1]);
  for (int64_t n = 1; n <= 4; ++n)
    for (int64_t l = 0; l + n <= 4; ++l) EXPECT_NEAR(d[n][l], d2[n][l], 1e-12);
  for (int64_t l = 0; l < 4; ++l) EXPECT_NEAR(bi[l], bi2[l], 1e-12);
}

TEST_P(CalibFamilies, AllTokenPairsUseOnePassPerBatchWithTheSameResult) {
  const std::string dir = test::make_prune_model(GetParam(), test::temp_dir("calib_all") + "/m", 3);
  torch::Tensor ids = windows(5, 12, 3);
  LayerSource src(dir, {}, /*resident=*/false);
  HiddenStatsObserver obs(3, TokenPos::kAll, TokenPos::kAll, true);
  EXPECT_FALSE(obs.whole_set_pass());
  RunOptions ro;
  ro.batch_size = 2;
  ro.progress = false;
  run_calibration(src, ids, full_schedule(src.spec()), &obs, ro);
  // Each boundary pair was counted over every token of every window once.
  EXPECT_EQ(obs.stats().pair_count, 5 * 12);
  // Block size n = 3 from layer 0: the mean over all 60 tokens, computed directly.
  auto model = CausalLM::load(dir);
  torch::Tensor first, last;
  ForwardHook hook = [&](HookPoint p, int64_t layer, const torch::Tensor& t) {
    if (p == HookPoint::kLayerInput && layer == 0) first = t.clone();
    if (p == HookPoint::kLayerOutput && layer == 2) last = t.clone();
  };
  {
    torch::NoGradGuard ng;
    model->forward(ids, nullptr, &hook);
  }
  auto A = first.reshape({-1, 32}).to(torch::kDouble),
       B = last.reshape({-1, 32}).to(torch::kDouble);
  auto c = ((A * B).sum(1) / (A.norm(2, 1) * B.norm(2, 1))).clamp(-1, 1);
  EXPECT_NEAR(angular_distance(obs.stats())[3][0], (torch::acos(c) / M_PI).mean().item<double>(),
              1e-6);
}

INSTANTIATE_TEST_SUITE_P(Families, CalibFamilies, ::testing::Values("llama", "qwen2", "phi3", "opt"));

TEST(CalibData, WindowsFollowTheDocumentedRule) {
  const std::string root = test::temp_dir("calib_windows");
  const std::string dir = test::make_prune_model("llama", root + "/m", 1);
  const std::string text = test::calibration_text(root, 500);
  auto tok = Tokenizer::from_dir(dir);
  CalibOptions o;
  o.dataset = text;
  o.nsamples = 7;
  o.seqlen = 40;
  o.batch_size = 2;
  o.max_batches = 3;  // only 6 of the 7 windows are used
  o.seed = 11;
  CalibSet set = make_calib_set(*tok, o, 256);
  ASSERT_EQ(set.windows.size(0), 6);
  std::vector<TokenId> ids = tok->encode(read_file(text), true);
  std::mt19937_64 rng(11);
  for (int64_t i = 0; i < 6; ++i) {
    const int64_t off = static_cast<int64_t>(rng() % (ids.size() - 40 + 1));
    EXPECT_EQ(set.offsets[i], off);
    for (int64_t t = 0; t < 40; ++t) EXPECT_EQ(set.windows[i][t].item<int64_t>(), ids[off + t]);
  }
  o.seqlen = 600;
  const std::string msg = test::bad_input_message([&] { make_calib_set(*tok, o, 1000); });
  EXPECT_NE(msg.find("needs at least 600"), std::string::npos) << msg;
  EXPECT_NE(msg.find(std::to_string(ids.size()) + " tokens"), std::string::npos) << msg;
  EXPECT_NE(test::bad_input_message([&] {
              make_calib_set(*tok, o, 256);
            }).find("max_position_embeddings"),
            std::string::npos);
}
