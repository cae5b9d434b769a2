// Routing and speculative decoding: entropy against hand values, threshold rules, calibration
// hitting the requested fractions, escalation, and speculative output equal to the deep
// stage's greedy output for K = 1..8 (with the KV cache rollback it needs).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>

#include "arch/checkpoint_check.h"
#include "serve/generate.h"
#include "serve/router.h"
#include "serve/staged_generate.h"
#include "serve/staged_model.h"
#include "staged_fixtures.h"
#include "tokenizer/tokenizer.h"

namespace llmprune {
namespace {

GenerateOptions greedy(int64_t n) {
  GenerateOptions g;
  g.max_new_tokens = n;
  g.stop_at_eos = false;
  return g;
}

TEST(Router, EntropyMatchesHandValues) {
  // p = (1/4, 3/4): H = -(1/4 ln 1/4 + 3/4 ln 3/4) = 0.562335...
  EXPECT_NEAR(entropy_nats(torch::tensor({0.0, std::log(3.0)}, torch::kDouble)), 0.5623351446188083,
              1e-12);
  // Uniform over 257: ln 257; one-hot (a very peaked row): ~0.
  EXPECT_NEAR(entropy_nats(torch::zeros({257})), std::log(257.0), 1e-12);
  EXPECT_NEAR(entropy_nats(torch::tensor({0.0f, 1000.0f, 0.0f})), 0.0, 1e-12);
}

TEST(Router, ThresholdRules) {
  RoutePolicy p;
  p.low = 1.0;
  p.high = 3.0;
  EXPECT_EQ(stage_for_entropy(0.5, p, 3), 0);
  EXPECT_EQ(stage_for_entropy(1.0, p, 3), 1);
  EXPECT_EQ(stage_for_entropy(2.9, p, 3), 1);
  EXPECT_EQ(stage_for_entropy(3.0, p, 3), 2);
  EXPECT_EQ(stage_for_entropy(2.0, p, 2), 1);
  EXPECT_EQ(stage_for_entropy(9.0, p, 1), 0);
  p.force_stage = 1;
  EXPECT_EQ(stage_for_entropy(9.0, p, 3), 1);
  EXPECT_EQ(parse_thresholds("0.5,2"), std::make_pair(0.5, 2.0));
  EXPECT_NE(test::bad_input_message([] { parse_thresholds("3,1"); }).find("out of order"),
            std::string::npos);
  EXPECT_NE(test::bad_input_message([] { parse_thresholds("1,x"); }).find("not a number"),
            std::string::npos);
  EXPECT_NE(test::bad_input_message([] { parse_fractions("0.5,0.5,0.5"); }).find("not 1"),
            std::string::npos);
}

TEST(Router, CalibrationHitsFractions) {
  std::vector<double> e = {0.3, 2.2, 1.1, 5.0, 0.9, 3.3, 4.1, 0.1, 2.9, 1.7};
  auto [lo, hi] = calibrate_thresholds(e, {0.3, 0.5, 0.2});
  RoutePolicy p;
  p.low = lo;
  p.high = hi;
  std::vector<int> counts(3, 0);
  for (double h : e) ++counts[stage_for_entropy(h, p, 3)];
  EXPECT_EQ(counts, (std::vector<int>{3, 5, 2}));
  // Sorted: 0.1 0.3 0.9 | 1.1 1.7 2.2 2.9 3.3 | 4.1 5.0: cuts halfway.
  EXPECT_DOUBLE_EQ(lo, 1.0);
  EXPECT_DOUBLE_EQ(hi, 3.7);
  auto [lo0, hi1] = calibrate_thresholds(e, {0.0, 1.0, 0.0});
  p.low = lo0;
  p.high = hi1;
  for (double h : e) EXPECT_EQ(stage_for_entropy(h, p, 3), 1);
}

// Speculative output == the deep stage's greedy output, K = 1..8, on a model whose stages
// disagree (random weights: many rejections, so many rollbacks) and on one whose removed
// layers are exact identities (A computes FULL: every draft is accepted).
TEST(Speculative, EqualsDeepGreedyForK1To8) {
  auto f = test::make_staged("spec_random", "angular", 2);
  auto m = StagedModel::load(f.a, f.bundles);
  auto full = CausalLM::load(f.full);
  auto ab = CausalLM::load(f.ab);
  const std::vector<int64_t> prompt = {84, 104, 101, 32, 99, 97, 116};
  const GenerateResult want_full = generate(*full, prompt, greedy(40));
  const GenerateResult want_ab = generate(*ab, prompt, greedy(40));
  int64_t rejected = 0;
  for (int64_t k = 1; k <= 8; ++k) {
    SCOPED_TRACE("K = " + std::to_string(k));
    RoutePolicy p;
    p.speculative = k;
    p.force_stage = 2;
    StagedResult r = staged_generate(*m, prompt, greedy(40), p);
    EXPECT_EQ(r.tokens, want_full.tokens);
    EXPECT_GT(r.drafted, 0);
    rejected += r.drafted - r.accepted;
    p.force_stage = 1;
    EXPECT_EQ(staged_generate(*m, prompt, greedy(40), p).tokens, want_ab.tokens);
  }
  EXPECT_GT(rejected, 0) << "random stages should disagree somewhere (else no rollback ran)";
  // A token budget that ends inside a drafted block, and EOS handling: stop where generate does.
  GenerateOptions g = greedy(7);
  RoutePolicy p;
  p.speculative = 5;
  p.force_stage = 2;
  EXPECT_EQ(staged_generate(*m, prompt, g, p).tokens, generate(*full, prompt, g).tokens);
}

TEST(Speculative, IdentityLayersAcceptEverything) {
  auto f = test::make_staged("spec_planted", "angular", 2, /*planted=*/true);
  auto m = StagedModel::load(f.a, f.bundles);
  auto full = CausalLM::load(f.full);
  const std::vector<int64_t> prompt = {65, 32, 100, 111, 103};
  const GenerateResult want = generate(*full, prompt, greedy(33));
  for (int64_t k : {1, 4, 8}) {
    RoutePolicy p;
    p.speculative = k;
    p.force_stage = 2;
    StagedResult r = staged_generate(*m, prompt, greedy(33), p);
    EXPECT_EQ(r.tokens, want.tokens);
    EXPECT_EQ(r.accepted, r.drafted) << "K = " << k;
    EXPECT_GT(r.drafted, 0);
  }
}

TEST(Routing, EscalationMovesDeeperAndMatchesAPrefill) {
  auto f = test::make_staged("escalate", "angular", 2);
  auto m = StagedModel::load(f.a, f.bundles);
  const std::vector<int64_t> prompt = {84, 104, 101};
  RoutePolicy p;
  p.low = 1e9;   // everything starts on A
  p.high = 0.0;  // any window escalates
  p.escalate = true;
  p.escalate_window = 4;
  StagedResult r = staged_generate(*m, prompt, greedy(12), p);
  EXPECT_EQ(r.stage, 0);
  ASSERT_EQ(r.escalations.size(), 2u);  // A -> AB after 4 tokens, AB -> FULL after 8
  EXPECT_EQ(r.escalations[0].at_token, 4);
  EXPECT_EQ(r.escalations[1].at_token, 8);
  EXPECT_EQ(r.final_stage, 2);
  // After escalating at token 8, FULL continues from prompt + the first 8 tokens: the rest is
  // FULL's greedy continuation of that text.
  auto full = CausalLM::load(f.full);
  std::vector<int64_t> ctx = prompt;
  ctx.insert(ctx.end(), r.tokens.begin(), r.tokens.begin() + 8);
  GenerateResult tail = generate(*full, ctx, greedy(4));
  EXPECT_EQ(std::vector<int64_t>(r.tokens.begin() + 8, r.tokens.end()), tail.tokens);
}

// The CLI on planted distributions (staged_fixtures.h): prompts made to have low, mid and high
// entropy by hand go to A, AB and FULL under fixed thresholds; the report's entropy is the
// hand value; --calibrate hits its fractions on a file of ten distinct planted entropies.
TEST(RouteCli, PlantedEntropiesRouteAndCalibrate) {
  // The last prompt character picks the planted token (byte-level tokenizer: id = byte).
  const std::vector<test::PlantedToken> plants = {
      {'L', 1, 6.0},  // one logit ~33: H ~ 1e-11 (low)
      {'M', 3, 3.0},  // three equal logits ~17: H ~ ln 3 (mid)
      {'H', 0, 0.0},  // all logits 0: H = ln 257 (high)
      {'a', 1, 1.0}, {'b', 2, 1.0},  {'c', 5, 1.0},  {'d', 2, 3.0},
      {'e', 8, 0.5}, {'f', 20, 0.5}, {'g', 50, 0.2},
  };
  auto f = test::make_staged_planted_logits("route_planted", plants);
  CheckpointConfig cc = read_checkpoint_config(f.a);
  const int64_t vocab = cc.spec.vocab_size, hidden = cc.spec.hidden_size;
  ASSERT_EQ(vocab, 257);
  std::map<char, double> hand;
  for (const auto& p : plants)
    hand[static_cast<char>(p.token)] =
        test::planted_entropy(p, vocab, hidden, cc.spec.rms_norm_eps);
  EXPECT_LT(hand['L'], 1e-9);
  EXPECT_NEAR(hand['M'], std::log(3.0),
              1e-3);  // the 254 zero logits add ~(254/3) e^-17 x 17 ~ 1e-4
  EXPECT_DOUBLE_EQ(hand['H'], std::log(257.0));

  auto tok = Tokenizer::from_dir(f.a);
  auto write_prompts = [&](const std::string& path, const std::vector<std::string>& prompts) {
    std::ofstream out(path);
    for (const auto& p : prompts) {
      auto ids = tok->encode(p, true);
      EXPECT_EQ(ids.back(), static_cast<int64_t>(static_cast<unsigned char>(p.back()))) << p;
      out << p << "\n";
    }
  };
  // (a) + (b): fixed thresholds 0.5 and 3 separate ~0, ln 3 = 1.10 and ln 257 = 5.55.
  const std::vector<std::string> prompts = {"Hello L", "M", "xyzH", "The cat M", "L", "zq#H"};
  const std::string file = f.root + "/prompts.txt", report = f.root + "/route.json";
  write_prompts(file, prompts);
  auto r = test::run_llmprune("route --model " + f.a + " --bundles-dir " + f.bundles +
                              " --thresholds 0.5,3 -n 3 --ignore-eos --report " + report +
                              " --prompts " + file);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json j = read_json_file(report);
  ASSERT_EQ(j.at("decisions").size(), prompts.size());
  const std::map<char, std::string> want = {{'L', "A"}, {'M', "AB"}, {'H', "FULL"}};
  for (size_t i = 0; i < prompts.size(); ++i) {
    const json& d = j.at("decisions")[i];
    const char last = prompts[i].back();
    EXPECT_EQ(d.at("stage"), want.at(last)) << prompts[i];
    // dH = -sum_i p_i (l_i - E l) dl_i. The model's f32 logits are off by |dl| <~ 2e-6 (|l| <= 33),
    // and sum_i p_i |l_i - E l| <= 2 L x (mass off the top logits) <= 2 x 17 x 254 e^-16.7 / 3
    // ~ 1.6e-4 for these patterns (0 for 'H'), so |dH| <~ 4e-10: 1e-8 has room (seen: 1.4e-13).
    EXPECT_NEAR(d.at("entropy").get<double>(), hand.at(last), 1e-8) << prompts[i];
    EXPECT_EQ(d.at("generated_tokens").size(), 3u);
  }
  EXPECT_EQ(j.at("summary").at("A").at("prompts"), 2);
  EXPECT_EQ(j.at("summary").at("AB").at("prompts"), 2);
  EXPECT_EQ(j.at("summary").at("FULL").at("prompts"), 2);

  // (c) --calibrate on ten prompts with ten distinct hand entropies: 20% / 50% / 30%, and the
  // prompts below / between / above the cuts are the ones with the lowest / middle / highest
  // hand entropies.
  std::vector<std::string> calib;
  for (const auto& p : plants) calib.push_back("q " + std::string(1, static_cast<char>(p.token)));
  const std::string cfile = f.root + "/calib.txt";
  write_prompts(cfile, calib);
  std::vector<double> sorted;
  for (const auto& [c, h] : hand) sorted.push_back(h);
  std::sort(sorted.begin(), sorted.end());
  for (size_t i = 1; i < sorted.size(); ++i) ASSERT_GT(sorted[i] - sorted[i - 1], 1e-3);
  r = test::run_llmprune("route --model " + f.a + " --bundles-dir " + f.bundles + " --calibrate " +
                         cfile + " --fractions 0.2,0.5,0.3 -n 1 --report " + report +
                         " --prompts " + cfile);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  j = read_json_file(report);
  EXPECT_EQ(j.at("calibration").at("counts"), json({2, 5, 3}));
  EXPECT_EQ(j.at("summary").at("A").at("prompts"), 2);
  EXPECT_EQ(j.at("summary").at("AB").at("prompts"), 5);
  EXPECT_EQ(j.at("summary").at("FULL").at("prompts"), 3);
  for (size_t i = 0; i < calib.size(); ++i) {
    const double h = hand.at(calib[i].back());
    const size_t rank = std::lower_bound(sorted.begin(), sorted.end(), h) - sorted.begin();
    const std::string stage = rank < 2 ? "A" : rank < 7 ? "AB" : "FULL";
    EXPECT_EQ(j.at("decisions")[i].at("stage"), stage) << calib[i] << " H " << h;
  }
}

// --calibrate on the random model's own entropies (no planted values): the fractions are hit
// on the file it was calibrated on.
TEST(RouteCli, CalibrationOnRandomModel) {
  auto f = test::make_staged("route_cli", "angular", 2);
  const std::string file = f.root + "/prompts.txt";
  std::vector<std::string> prompts = {"Hello", "The cat", "zq#",   "Once upon", "1234",
                                      "abc",   "What is", "x y z", "!!",        "Good day"};
  {
    std::ofstream out(file);
    for (const auto& p : prompts) out << p << "\n";
  }
  const std::string report = f.root + "/route.json";
  auto r = test::run_llmprune("route --model " + f.a + " --bundles-dir " + f.bundles +
                              " --calibrate " + file + " --fractions 0.2,0.5,0.3 -n 2 --report " +
                              report + " --prompts " + file);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json j = read_json_file(report);
  EXPECT_EQ(j.at("summary").at("A").at("prompts"), 2);
  EXPECT_EQ(j.at("summary").at("AB").at("prompts"), 5);
  EXPECT_EQ(j.at("summary").at("FULL").at("prompts"), 3);
  EXPECT_EQ(j.at("calibration").at("counts"), json({2, 5, 3}));
}

}  // namespace
}  // namespace llmprune
