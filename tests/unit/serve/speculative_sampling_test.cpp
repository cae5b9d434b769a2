// Speculative sampling: the accept/resample step emits p's distribution for drafts drawn from
// q (histograms against p with a derived bound), and staged generation with temperature > 0
// and --speculative is deterministic per seed and, when A computes what FULL computes, accepts
// every draft and gives the tokens of plain sampling with the same seed.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "serve/generate.h"
#include "serve/speculative.h"
#include "serve/staged_generate.h"
#include "serve/staged_model.h"
#include "staged_fixtures.h"
#include "util/fs.h"

namespace llmprune {
namespace {

struct Histogram {
  std::vector<double> freq;
  double acceptance = 0;
};

// n trials: x ~ q (its own generator), then speculative_accept; frequencies of the emitted token.
Histogram run_trials(const std::vector<double>& p, const std::vector<double>& q, int n) {
  auto pt = torch::tensor(p, torch::kDouble), qt = torch::tensor(q, torch::kDouble);
  std::mt19937_64 draft_rng(123), accept_rng(456);
  std::discrete_distribution<int64_t> draw_q(q.begin(), q.end());
  Histogram h;
  h.freq.assign(p.size(), 0.0);
  int64_t accepted = 0;
  for (int i = 0; i < n; ++i) {
    const int64_t x = draw_q(draft_rng);
    SpeculativeVerdict v = speculative_accept(pt, qt, x, accept_rng);
    if (v.accepted) {
      EXPECT_EQ(v.token, x);
      ++accepted;
    }
    h.freq[static_cast<size_t>(v.token)] += 1.0 / n;
  }
  h.acceptance = static_cast<double>(accepted) / n;
  return h;
}

// 200000 trials: each frequency is binomial with sd = sqrt(p (1 - p) / n) <= sqrt(0.25 / 2e5)
// = 0.00112, so 0.006 is > 5.3 sd (a chance failure < 5 x 1.1e-7 for five tokens; the seeds
// are fixed, so the run is deterministic anyway). Drafting without the correction would emit
// q, which differs from p by >= 0.2 somewhere in each case: the bound would catch it.
constexpr int kTrials = 200000;
constexpr double kBound = 0.006;

TEST(SpeculativeSampling, EmitsTargetDistribution) {
  const std::vector<double> p = {0.1, 0.2, 0.3, 0.15, 0.25}, q = {0.3, 0.1, 0.1, 0.4, 0.1};
  Histogram h = run_trials(p, q, kTrials);
  for (size_t i = 0; i < p.size(); ++i) EXPECT_NEAR(h.freq[i], p[i], kBound) << "token " << i;
  // P(accept) = sum_x q(x) min(1, p(x)/q(x)) = sum_x min(p(x), q(x)) = 0.55 (same sd bound).
  EXPECT_NEAR(h.acceptance, 0.55, kBound);
}

TEST(SpeculativeSampling, DisjointSupportsNeverEmitOutsideP) {
  // Tokens 3, 4: only q has them (e.g. cut by top-k on the deep stage): never emitted. Token 0:
  // only p has it: reached through the residual max(0, p - q) = (0.5, 0.1, 0, 0, 0) / 0.6.
  const std::vector<double> p = {0.5, 0.3, 0.2, 0.0, 0.0}, q = {0.0, 0.2, 0.2, 0.3, 0.3};
  Histogram h = run_trials(p, q, kTrials);
  EXPECT_EQ(h.freq[3], 0.0);
  EXPECT_EQ(h.freq[4], 0.0);
  for (size_t i = 0; i < 3; ++i) EXPECT_NEAR(h.freq[i], p[i], kBound) << "token " << i;
  EXPECT_NEAR(h.acceptance, 0.4, kBound);  // min(p, q) sums to 0 + 0.2 + 0.2
}

TEST(SpeculativeSampling, EqualDistributionsAcceptEverything) {
  const std::vector<double> p = {0.05, 0.6, 0.1, 0.25};
  Histogram h = run_trials(p, p, 20000);
  EXPECT_EQ(h.acceptance, 1.0);  // u q(x) < p(x) = q(x) for every u in [0, 1)
}

GenerateOptions sampling(int64_t n, double temperature, uint64_t seed, int64_t top_k = 0) {
  GenerateOptions g;
  g.max_new_tokens = n;
  g.stop_at_eos = false;
  g.sampling.temperature = temperature;
  g.sampling.top_k = top_k;
  g.sampling.seed = seed;
  return g;
}

TEST(SpeculativeSampling, StagedRunIsDeterministicAndReportsAcceptance) {
  auto f = test::make_staged("spec_sample_random", "angular", 2);
  auto m = StagedModel::load(f.a, f.bundles);
  const std::vector<int64_t> prompt = {84, 104, 101, 32, 99, 97, 116};
  RoutePolicy p;
  p.speculative = 4;
  p.force_stage = 2;
  const GenerateOptions g = sampling(30, 0.8, 5);
  StagedResult r1 = staged_generate(*m, prompt, g, p);
  StagedResult r2 = staged_generate(*m, prompt, g, p);
  EXPECT_EQ(r1.tokens, r2.tokens);
  EXPECT_EQ(r1.tokens.size(), 30u);
  EXPECT_GT(r1.drafted, 0);
  EXPECT_EQ(r1.drafted, r2.drafted);
  EXPECT_EQ(r1.accepted, r2.accepted);
  EXPECT_LE(r1.accepted, r1.drafted);
  // A different seed samples differently (30 tokens at temperature 0.8 on random weights).
  EXPECT_NE(staged_generate(*m, prompt, sampling(30, 0.8, 6), p).tokens, r1.tokens);
  // The CLI reports the acceptance (and no longer ignores --speculative when sampling).
  const std::string prompts = f.root + "/p.txt", report = f.root + "/r.json";
  write_file_atomic(prompts, "The cat\nOnce upon\n");
  auto r = test::run_llmprune("route --model " + f.a + " --bundles-dir " + f.bundles +
                              " --force-stage FULL --speculative 3 --temperature 0.8 --seed 2 "
                              "-n 12 --ignore-eos --report " +
                              report + " --prompts " + prompts);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json j = read_json_file(report);
  const double drafted = j.at("drafted").get<double>(), accepted = j.at("accepted").get<double>();
  EXPECT_GT(drafted, 0);
  EXPECT_DOUBLE_EQ(j.at("acceptance_rate").get<double>(), accepted / drafted);
}

// Layers 1 and 2 planted identities: A's distributions equal FULL's (bit for bit on the draft
// side, which runs A step by step as plain decoding runs FULL), so every draft is accepted and,
// as drafts and the token after each block use the sampler's stream in token order, the
// tokens are exactly plain sampling's with the same seed.
TEST(SpeculativeSampling, IdentityLayersAcceptEverythingAndMatchPlainSampling) {
  auto f = test::make_staged("spec_sample_planted", "angular", 2, /*planted=*/true);
  auto m = StagedModel::load(f.a, f.bundles);
  auto full = CausalLM::load(f.full);
  const std::vector<int64_t> prompt = {65, 32, 100, 111, 103};
  for (int64_t top_k : {0, 20}) {
    const GenerateOptions g = sampling(33, 1.0, 9, top_k);
    const GenerateResult want = generate(*full, prompt, g);
    RoutePolicy plain;
    plain.force_stage = 2;
    EXPECT_EQ(staged_generate(*m, prompt, g, plain).tokens, want.tokens);
    for (int64_t k : {1, 4, 8}) {
      SCOPED_TRACE("K = " + std::to_string(k) + ", top_k = " + std::to_string(top_k));
      RoutePolicy p;
      p.speculative = k;
      p.force_stage = 2;
      StagedResult r = staged_generate(*m, prompt, g, p);
      EXPECT_EQ(r.tokens, want.tokens);
      EXPECT_EQ(r.accepted, r.drafted);
      EXPECT_GT(r.drafted, 0);
    }
  }
}

}  // namespace
}  // namespace llmprune
