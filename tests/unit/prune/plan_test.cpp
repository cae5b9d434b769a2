// PrunePlan JSON round trip and validation, and the depth planners on hand-made scores (every
// expected choice below is derived by hand from the scores given in the test).
#include <gtest/gtest.h>

#include <cmath>

#include "plan/depth_planner.h"
#include "support/assets.h"

using namespace llmprune;

namespace {

ModelSpec spec_with(int64_t layers) {
  ModelSpec s;
  s.family = "llama";
  s.hidden_size = 8;
  s.vocab_size = 16;
  s.layers.assign(static_cast<size_t>(layers), LayerSpec{AttentionSpec{2, 1, 4}, MlpSpec{8}});
  return s;
}

// d[n][l] = 0.1 * n + 0.01 * l except a cheap block [2, 4) of size 2 (0.05).
DepthScores scores(int64_t L) {
  DepthScores sc;
  const double nan = std::nan("");
  sc.angular.assign(static_cast<size_t>(L + 1),
                    std::vector<double>(static_cast<size_t>(L + 1), nan));
  for (int64_t n = 1; n <= L; ++n)
    for (int64_t l = 0; l + n <= L; ++l) sc.angular[n][l] = 0.1 * n + 0.01 * l;
  sc.angular[2][2] = 0.05;
  sc.block_influence = {0.9, 0.2, 0.1, 0.3, 0.05, 0.8};
  sc.attn_redundancy = {0.1, 0.99, 0.5, 0.97, 0.2, 0.98};
  sc.mlp_redundancy = {0.1, 0.2, 0.995, 0.3, 0.4, 0.999};
  return sc;
}

std::vector<std::pair<std::string, int64_t>> units(const PrunePlan& p) {
  std::vector<std::pair<std::string, int64_t>> u;
  for (const auto& x : p.units) u.emplace_back(unit_kind_name(x.kind), x.layer);
  std::sort(u.begin(), u.end(), [](auto& a, auto& b) {
    return a.second < b.second || (a.second == b.second && a.first < b.first);
  });
  return u;
}

}  // namespace

TEST(PrunePlan, JsonRoundTrip) {
  PrunePlan p;
  p.method = "joint";
  p.family = "qwen2";
  p.source_layers = 6;
  p.params = {{"n_drop", 2}};
  p.units = {{UnitKind::kAttn, 3, 0.02, 0.02, "B", "low"},
             {UnitKind::kLayer, 4, std::nan(""), 1.5, "C", ""}};
  PrunePlan q = PrunePlan::from_json(json::parse(p.to_json().dump()), "mem");
  EXPECT_EQ(q.to_json(), p.to_json());
  EXPECT_TRUE(std::isnan(q.units[1].score));
}

TEST(PrunePlan, BadPlansAreNamed) {
  auto msg = [](const json& j) {
    return test::bad_input_message([&] { PrunePlan::from_json(j, "p.json"); });
  };
  EXPECT_NE(msg(json{{"format", "x"}}).find("not an llmprune plan"), std::string::npos);
  json ok = {{"format", "llmprune-plan"}, {"version", 1},       {"kind", "depth"},
             {"method", "angular"},       {"source_layers", 6}, {"units", json::array()}};
  json bad = ok;
  bad["units"] = {{{"kind", "head"}, {"layer", 1}}};
  EXPECT_NE(msg(bad).find("units[0].kind \"head\""), std::string::npos);
  PrunePlan p = PrunePlan::from_json(ok, "p.json");
  p.units = {{UnitKind::kLayer, 6, 0, 0, "B", ""}};
  EXPECT_NE(test::bad_input_message([&] {
              p.validate(spec_with(6), "p.json");
            }).find("outside layers 0..5"),
            std::string::npos);
  p.units = {{UnitKind::kAttn, 1, 0, 0, "B", ""},
             {UnitKind::kLayer, 1, 0, 0, "B", ""},
             {UnitKind::kAttn, 1, 0, 0, "B", ""}};
  EXPECT_NE(test::bad_input_message([&] {
              p.validate(spec_with(6), "p.json");
            }).find("attn of layer 1 is not in the model"),
            std::string::npos);
  EXPECT_NE(test::bad_input_message([&] { p.validate(spec_with(5), "p.json"); }).find("6 layers"),
            std::string::npos);
}

TEST(DepthPlanner, AngularTakesTheCheapestAllowedBlock) {
  DepthRequest r;
  r.method = "angular";
  r.n_drop = 2;
  PrunePlan p = plan_depth(spec_with(6), r, scores(6), nullptr);
  EXPECT_EQ(units(p), (std::vector<std::pair<std::string, int64_t>>{{"layer", 2}, {"layer", 3}}));
  EXPECT_DOUBLE_EQ(p.units[0].score, 0.05);
  // Size 3: d = 0.3 + 0.01 l, smallest at l = 0; --keep-first-layer moves it to l = 1.
  r.n_drop = 3;
  EXPECT_EQ(plan_depth(spec_with(6), r, scores(6), nullptr).units.front().layer, 0);
  r.keep_first = true;
  EXPECT_EQ(plan_depth(spec_with(6), r, scores(6), nullptr).units.front().layer, 1);
}

TEST(DepthPlanner, OneShotRankings) {
  DepthRequest r;
  r.method = "block-influence";
  r.n_drop = 2;  // BI lowest: layer 4 (0.05), layer 2 (0.1); layer 5 is protected anyway
  EXPECT_EQ(units(plan_depth(spec_with(6), r, scores(6), nullptr)),
            (std::vector<std::pair<std::string, int64_t>>{{"layer", 2}, {"layer", 4}}));
  r.method = "attn-drop";  // highest cos: 5 (0.98, protected as last), 1 (0.99), 3 (0.97)
  EXPECT_EQ(units(plan_depth(spec_with(6), r, scores(6), nullptr)),
            (std::vector<std::pair<std::string, int64_t>>{{"attn", 1}, {"attn", 3}}));
  r.method = "joint";  // cos: mlp 2 0.995, attn 1 0.99, attn 3 0.97 (5 protected)
  r.n_drop = 3;
  EXPECT_EQ(units(plan_depth(spec_with(6), r, scores(6), nullptr)),
            (std::vector<std::pair<std::string, int64_t>>{{"attn", 1}, {"mlp", 2}, {"attn", 3}}));
  r.keep_last = false;
  r.method = "mlp-drop";
  r.n_drop = 1;
  EXPECT_EQ(units(plan_depth(spec_with(6), r, scores(6), nullptr)),
            (std::vector<std::pair<std::string, int64_t>>{{"mlp", 5}}));
}

TEST(DepthPlanner, IterativeMethodsAskForFreshNumbers) {
  DepthRequest r;
  r.method = "sleb";
  r.n_drop = 2;
  DepthScores sc = scores(6);
  // Calibration NLL = sum of the removed layers' weights: 4 then 1 are cheapest.
  const std::vector<double> cost = {5, 1.5, 3, 2, 1, 0.1};
  int calls = 0;
  sc.calibration_nll = [&](const DepthState& s) {
    ++calls;
    double v = 0;
    for (int64_t l = 0; l < 6; ++l) v += s.has_layer(l) ? 0 : cost[static_cast<size_t>(l)];
    return v;
  };
  json trace;
  PrunePlan p = plan_depth(spec_with(6), r, sc, &trace);
  EXPECT_EQ(p.units[0].layer, 4);
  EXPECT_EQ(p.units[1].layer, 1);
  EXPECT_EQ(calls, 5 + 4);  // 5 candidates (last layer kept), then 4
  EXPECT_EQ(trace.size(), 2u);
  EXPECT_NEAR(p.units[1].score, std::exp(2.5), 1e-9);  // PPL after removing 4 and 1
}

TEST(DepthPlanner, SplitPutsTheMostImportantInB) {
  std::vector<PruneUnit> u = {{UnitKind::kLayer, 1, 0, 0.3, "", ""},
                              {UnitKind::kLayer, 2, 0, 0.9, "", ""},
                              {UnitKind::kLayer, 3, 0, 0.1, "", ""},
                              {UnitKind::kLayer, 4, 0, 0.5, "", ""}};
  split_bundles(u, 0.5);  // round(2) -> B = priorities 0.9 (layer 2), 0.5 (layer 4)
  EXPECT_EQ(u[0].bundle + u[1].bundle + u[2].bundle + u[3].bundle, "CBCB");
  split_bundles(u, 0.3);  // round(1.2) = 1 -> only layer 2
  EXPECT_EQ(u[0].bundle + u[1].bundle + u[2].bundle + u[3].bundle, "CBCC");
}

TEST(DepthPlanner, BadRequests) {
  DepthRequest r;
  r.method = "magic";
  EXPECT_NE(test::bad_input_message([&] {
              plan_depth(spec_with(4), r, scores(4), nullptr);
            }).find("unknown depth method 'magic'"),
            std::string::npos);
  r.method = "block-influence";
  r.n_drop = 4;
  r.keep_last = false;
  EXPECT_NE(test::bad_input_message([&] {
              plan_depth(spec_with(4), r, scores(4), nullptr);
            }).find("leaves no layer"),
            std::string::npos);
  r.keep_last = true;
  r.keep_first = true;
  r.n_drop = 5;  // 6 layers, 0 and 5 protected: 4 removable
  EXPECT_NE(test::bad_input_message([&] {
              plan_depth(spec_with(6), r, scores(6), nullptr);
            }).find("larger than the 4 removable layers"),
            std::string::npos);
}
