// eval/perplexity: windowing and NLL accounting, checked with stand-in models whose
// log-probabilities are known in closed form.
#include <gtest/gtest.h>

#include <cmath>

#include "eval/perplexity.h"
#include "util/error.h"

namespace llmprune {
namespace {

// Gives the true next token (ids[t+1]) logit `target_logit` and every other token 0, so
// p(target) = e^a / (e^a + V - 1) by hand. Records the windows it was shown.
class StandInModel : public CausalLM {
 public:
  StandInModel(int64_t vocab, double target_logit) : a_(target_logit) {
    spec_.vocab_size = vocab;
    spec_.family = "stand-in";
  }
  const ModelSpec& spec() const override { return spec_; }
  torch::Device device() const override { return torch::kCPU; }
  torch::ScalarType dtype() const override { return torch::kFloat; }
  torch::Tensor forward(const torch::Tensor& ids, KVCache*, const ForwardHook*) override {
    seen.push_back(ids.clone());
    int64_t b = ids.size(0), t = ids.size(1);
    auto logits = torch::zeros({b, t, spec_.vocab_size});
    for (int64_t i = 0; i < b; ++i)
      for (int64_t j = 0; j + 1 < t; ++j) logits[i][j][ids[i][j + 1].item<int64_t>()] = a_;
    return logits;
  }
  // Perplexity projects chunk by chunk: the "hidden state" here is the logits themselves
  // and lm_head is the identity.
  torch::Tensor forward_hidden(const torch::Tensor& ids, KVCache* c,
                               const ForwardHook* h) override {
    return forward(ids, c, h);
  }
  torch::Tensor lm_head(const torch::Tensor& hidden) const override { return hidden; }
  std::vector<std::pair<std::string, torch::Tensor>> named_parameters() const override {
    return {};
  }
  const Family& family() const override { throw internal_error("stand-in has no family"); }
  torch::nn::Module& module() override { return module_; }
  std::vector<torch::Tensor> seen;

 private:
  ModelSpec spec_;
  double a_;
  torch::nn::Module module_;
};

std::vector<int64_t> iota_tokens(int64_t n, int64_t vocab) {
  std::vector<int64_t> t(n);
  for (int64_t i = 0; i < n; ++i) t[i] = (i * 7 + 3) % vocab;
  return t;
}

TEST(Perplexity, UniformModelGivesVocabSize) {
  // target logit 0 = every logit equal: p = 1/V for every token, so PPL = V exactly.
  StandInModel model(50, 0.0);
  PerplexityOptions o;
  o.seq_len = 8;
  o.show_progress = false;
  auto r = perplexity(model, iota_tokens(30, 50), o);
  // log_softmax runs in fp32 (epsilon 1.2e-7): 1e-6 relative is a few ulps of ln 50.
  EXPECT_NEAR(r.ppl, 50.0, 50.0 * 1e-6);
  // 30 tokens / 8 = 3 windows (tail of 6 dropped), each scoring tokens 1..7.
  EXPECT_EQ(r.n_windows, 3);
  EXPECT_EQ(r.n_scored, 3 * 7);
  EXPECT_EQ(r.n_tokens, 30);
}

TEST(Perplexity, LongWindowsAreProjectedInChunks) {
  // 1100-token windows span three lm_head chunks; the uniform model must still give PPL = V
  // and every one of the 1099 positions per window must be scored once.
  StandInModel model(7, 0.0);
  PerplexityOptions o;
  o.seq_len = 1100;
  o.show_progress = false;
  auto r = perplexity(model, iota_tokens(2300, 7), o);
  EXPECT_EQ(r.n_scored, 2 * 1099);
  EXPECT_NEAR(r.total_nll, 2 * 1099 * std::log(7.0), 2 * 1099 * std::log(7.0) * 1e-6);
}

TEST(Perplexity, KnownTargetProbability) {
  // V = 4, target logit ln 3: p = 3 / (3 + 3) = 1/2, so PPL = 2 and NLL = ln 2 per token.
  StandInModel model(4, std::log(3.0));
  PerplexityOptions o;
  o.seq_len = 5;
  o.batch_size = 2;
  o.show_progress = false;
  auto r = perplexity(model, iota_tokens(23, 4), o);
  EXPECT_NEAR(r.ppl, 2.0, 1e-6);
  EXPECT_NEAR(r.total_nll, 4 * 4 * std::log(2.0), 1e-5);  // 4 windows x 4 scored tokens
  // batch 2 over 4 windows: two forward calls of [2, 5], windows in stream order.
  ASSERT_EQ(model.seen.size(), 2u);
  EXPECT_EQ(model.seen[0].sizes(), torch::IntArrayRef({2, 5}));
  EXPECT_EQ(model.seen[1][1][0].item<int64_t>(), iota_tokens(23, 4)[15]);
}

TEST(Perplexity, MaxWindowsAndBatchRemainder) {
  StandInModel model(10, 0.0);
  PerplexityOptions o;
  o.seq_len = 4;
  o.batch_size = 2;
  o.max_windows = 3;
  o.show_progress = false;
  auto r = perplexity(model, iota_tokens(40, 10), o);
  EXPECT_EQ(r.n_windows, 3);
  ASSERT_EQ(model.seen.size(), 2u);  // [2,4] then the remainder [1,4]
  EXPECT_EQ(model.seen[1].size(0), 1);
  EXPECT_EQ(r.window_nll.size(), 3u);
}

TEST(Perplexity, TextShorterThanOneWindowIsBadInput) {
  StandInModel model(10, 0.0);
  PerplexityOptions o;
  o.seq_len = 64;
  try {
    perplexity(model, iota_tokens(63, 10), o);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.exit_code(), 2);
    EXPECT_NE(std::string(e.what()).find("63 tokens, fewer than one window of --seq-len 64"),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace llmprune
