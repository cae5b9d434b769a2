// Golden (issue 11 acceptance): opt-tiny (pre-LN OPT, learned positions with offset 2) against
// ../shared/assets/reference/opt-tiny, a float64 numpy forward written from transformers'
// modeling_opt.py (its "producer" field). Logits, greedy tokens with our KV cache, and
// HF-style perplexity on the reference's own token stream.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <iostream>

#include "eval/perplexity.h"
#include "model/causal_lm.h"
#include "model/kv_cache.h"
#include "support/assets.h"
#include "util/json.h"

namespace llmprune {
namespace {

const char* kModel = "models/opt-tiny";
const char* kRef = "reference/opt-tiny/";

// fp32 against the float64 reference printed with %.6g: the reference's own selfcheck puts a
// float32 forward at 9e-6 from float64; the printing rounds logits of 10..18.4 to 4 decimals
// (up to 5e-5). Measured 5.5e-5, inside the 1e-4 bound. The known bugs it lists (no +2
// offset, pre/post-LN swapped, GELU for ReLU, q unscaled, ...) move logits by 3.4 to 33.
TEST(GoldenOpt, LogitsAtEveryPositionWithin1e4) {
  LLMPRUNE_REQUIRE_ASSET(std::string(kRef) + "logits.json");
  LLMPRUNE_REQUIRE_ASSET(std::string(kModel) + "/model.safetensors");
  auto model = CausalLM::load(test::asset(kModel));
  json ref = read_json_file(test::asset(std::string(kRef) + "logits.json"));
  torch::NoGradGuard ng;
  double worst = 0;
  int64_t positions = 0, argmax_mismatch = 0;
  ASSERT_EQ(ref.at("sequences").size(), 3u);
  for (const auto& seq : ref.at("sequences")) {
    auto ids = seq.at("ids").get<std::vector<int64_t>>();
    auto logits =
        model->forward(torch::tensor(ids, torch::kLong).unsqueeze(0))[0].to(torch::kDouble);
    const auto& rl = seq.at("logits");
    ASSERT_EQ(static_cast<int64_t>(rl.size()), logits.size(0));
    for (size_t t = 0; t < rl.size(); ++t) {
      auto want = torch::tensor(rl[t].get<std::vector<double>>(), torch::kDouble);
      worst = std::max(worst, (logits[static_cast<int64_t>(t)] - want).abs().max().item<double>());
      argmax_mismatch += logits[static_cast<int64_t>(t)].argmax().item<int64_t>() !=
                         seq.at("argmax")[t].get<int64_t>();
      ++positions;
    }
  }
  std::cout << "opt-tiny fp32: max |dlogit| " << worst << " over " << positions << " positions\n";
  EXPECT_GT(positions, 30);
  EXPECT_LT(worst, 1e-4);
  EXPECT_EQ(argmax_mismatch, 0);
}

// The reference recomputes the whole sequence each step; we decode with the KV cache, so
// this also checks that positions follow the cache offset. Its smallest top-1 margin is
// 0.0085 (step 8), ~100x our logit error: the 20 tokens must be identical.
TEST(GoldenOpt, GreedyTwentyTokensWithKvCache) {
  LLMPRUNE_REQUIRE_ASSET(std::string(kRef) + "logits.json");
  LLMPRUNE_REQUIRE_ASSET(std::string(kModel) + "/model.safetensors");
  auto model = CausalLM::load(test::asset(kModel));
  json g = read_json_file(test::asset(std::string(kRef) + "logits.json")).at("greedy");
  auto prompt = g.at("prompt_ids").get<std::vector<int64_t>>();
  auto want = g.at("generated_ids").get<std::vector<int64_t>>();
  ASSERT_EQ(want.size(), 20u);
  torch::NoGradGuard ng;
  KVCache cache(*model, 1, static_cast<int64_t>(prompt.size() + want.size()));
  auto logits = model->forward(torch::tensor(prompt, torch::kLong).unsqueeze(0), &cache);
  std::vector<int64_t> got;
  for (size_t i = 0; i < want.size(); ++i) {
    got.push_back(logits[0][-1].argmax().item<int64_t>());
    logits = model->forward(torch::tensor({got.back()}, torch::kLong).unsqueeze(0), &cache);
  }
  EXPECT_EQ(got, want);
}

// HF-style PPL (non-overlapping windows from position 0, tokens 1..W-1 scored) on the token
// stream stored in the reference. The reference's selfcheck: float32 moves PPL by 8.7e-8
// (W=64) and 8.2e-8 (W=128) relative, so 1e-5 relative is the bound with margin.
void check_ppl(const char* file, int64_t window) {
  json ref = read_json_file(test::asset(std::string(kRef) + file));
  ASSERT_EQ(ref.at("window").get<int64_t>(), window);
  auto tokens = ref.at("tokens").get<std::vector<int64_t>>();
  auto model = CausalLM::load(test::asset(kModel));
  PerplexityOptions o;
  o.seq_len = window;
  o.show_progress = false;
  PerplexityResult r = perplexity(*model, tokens, o);
  EXPECT_EQ(r.n_windows, ref.at("n_windows").get<int64_t>());
  EXPECT_EQ(r.n_scored, ref.at("n_scored").get<int64_t>());
  const double want = ref.at("ppl").get<double>();
  std::cout << "opt-tiny W=" << window << ": ppl " << r.ppl << " reference " << want
            << " (relative " << (r.ppl / want - 1) << ")\n";
  EXPECT_NEAR(r.ppl / want, 1.0, 1e-5);
  auto per_window = ref.at("per_window_nll").get<std::vector<double>>();
  ASSERT_EQ(r.window_nll.size(), per_window.size());
  double worst = 0;
  for (size_t i = 0; i < per_window.size(); ++i)
    worst = std::max(worst, std::abs(r.window_nll[i] / per_window[i] - 1));
  EXPECT_LT(worst, 1e-5) << "worst per-window relative NLL difference";
}

TEST(GoldenOpt, PerplexityWindow64) {
  LLMPRUNE_REQUIRE_ASSET(std::string(kRef) + "ppl_w64.json");
  check_ppl("ppl_w64.json", 64);
}

TEST(GoldenOpt, PerplexityWindow128) {
  LLMPRUNE_REQUIRE_ASSET(std::string(kRef) + "ppl_w128.json");
  check_ppl("ppl_w128.json", 128);
}

}  // namespace
}  // namespace llmprune
