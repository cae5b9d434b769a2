// Width planners on hand-made scores: the knapsack stops within one step of the target and
// takes the lowest score per parameter first; frozen layers, --round-to, --uniform-shape and
// the GQA rule hold; uniform removes round(R x groups) per layer; hgsp with T = 0 is global and
// its priors move the cut; epsilon removes sub-blocks whole; bad requests are one-line errors.
#include <gtest/gtest.h>

#include <random>

#include "apply/width_apply.h"
#include "plan/width_planner.h"
#include "prune_fixtures.h"

using namespace llmprune;

namespace {

// 4 layers, hidden 32, 8 heads / 2 KV heads (4:1), 48 channels.
ModelSpec spec4() {
  SyntheticOptions o = test::prune_model_options(4);
  o.heads = 8;
  o.kv_heads = 2;
  o.head_dim = 4;
  return synthetic_spec("llama", o);
}

std::vector<GroupSet> sets_of(const ModelSpec& s) {
  std::vector<GroupSet> out;
  for (int64_t l = 0; l < s.n_layers(); ++l)
    for (auto& g : llama_family().group_sets(s, l)) out.push_back(g);
  return out;
}

// Random positive scores; `scale(layer, kind)` multiplies them.
template <typename F>
std::vector<SetScores> scores_of(const ModelSpec& s, F scale, uint64_t seed = 1) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(0.1, 1.0);
  std::vector<SetScores> out;
  for (const GroupSet& g : sets_of(s)) {
    SetScores sc{g, {}};
    for (int64_t i = 0; i < g.count; ++i) sc.score.push_back(u(rng) * scale(g.layer, g.kind) * g.cost());
    out.push_back(sc);
  }
  return out;
}

std::vector<SetScores> flat_scores(const ModelSpec& s) {
  return scores_of(s, [](int64_t, GroupKind) { return 1.0; });
}

int64_t max_step_cost(const std::vector<SetScores>& sc, const WidthRequest& r) {
  int64_t m = 0;
  for (const auto& s : sc) m = std::max(m, s.set.cost() * (r.unit == "q-head" ? 2 : r.round_to));
  return m;
}

ModelSpec after(const ModelSpec& s, const PrunePlan& p) {
  std::map<std::string, std::vector<int64_t>> shapes;
  for (const auto& t : llama_family().tensors(s)) shapes[t.name] = t.shape;
  return width_layout(llama_family(), s, full_cut(s, p), shapes).spec;
}

}  // namespace

TEST(WidthPlanner, KnapsackStopsWithinOneStepAndKeepsConstraints) {
  const ModelSpec s = spec4();
  for (const char* unit : {"kv-group", "q-head"})
    for (int64_t round_to : {1, 8})
      for (double ratio : {0.1, 0.3, 0.5}) {
        WidthRequest r;
        r.unit = unit;
        r.ratio = ratio;
        r.round_to = round_to;
        r.freeze_first = 1;
        const auto sc = flat_scores(s);
        WidthSelection sel;
        const PrunePlan p = plan_width(s, sc, r, nullptr, &sel);
        EXPECT_GE(sel.removed, sel.target);
        EXPECT_LT(sel.removed - sel.target, max_step_cost(sc, r)) << unit << " " << ratio;
        EXPECT_EQ(sel.target, static_cast<int64_t>(std::ceil(ratio * sel.prunable)));
        p.validate(s, "plan");  // GQA rule, indices
        const ModelSpec a = after(s, p);
        EXPECT_EQ(a.layers[0].mlp->intermediate_size, 48);  // frozen
        EXPECT_EQ(a.layers[0].attn->n_heads, 8);
        for (const auto& L : a.layers) {
          EXPECT_EQ(L.mlp->intermediate_size % round_to, 0);
          EXPECT_GE(L.attn->n_kv_heads, 1);
          if (std::string(unit) == "q-head") {
            EXPECT_EQ(L.attn->n_kv_heads, 2);
          }
        }
      }
}

// The lowest score per parameter goes first: with layer 2's channels scored 100x lower,
// a 10 % cut takes only layer 2's channels.
TEST(WidthPlanner, GlobalTakesLowestScorePerParameterFirst) {
  const ModelSpec s = spec4();
  const auto sc = scores_of(s, [](int64_t l, GroupKind k) {
    return l == 2 && k == GroupKind::kMlpChannel ? 0.01 : 1.0;
  });
  WidthRequest r;
  r.ratio = 0.1;
  WidthSelection sel;
  const PrunePlan p = plan_width(s, sc, r, nullptr, &sel);
  ASSERT_EQ(p.width.channels.size(), 1u);
  EXPECT_EQ(p.width.channels.begin()->first, 2);
  EXPECT_TRUE(p.width.kv_groups.empty());
  // ... and the lowest channels of that layer.
  const auto& ch = p.width.channels.at(2);
  double worst_kept = 1e300, best_cut = 0;
  const SetScores& layer2 = sc[2 * 3 + 2];
  for (int64_t i = 0; i < 48; ++i) {
    const bool cut = std::count(ch.begin(), ch.end(), i) > 0;
    (cut ? best_cut : worst_kept) = cut ? std::max(best_cut, layer2.score[i])
                                        : std::min(worst_kept, layer2.score[i]);
  }
  EXPECT_LE(best_cut, worst_kept);
}

TEST(WidthPlanner, UniformRemovesTheSameFractionInRange) {
  const ModelSpec s = spec4();
  WidthRequest r;
  r.selection = "uniform";
  r.ratio = 0.5;
  r.attn_first = 1;
  r.attn_last = 2;
  r.round_to = 4;
  const ModelSpec a = after(s, plan_width(s, flat_scores(s), r, nullptr, nullptr));
  for (int64_t l = 0; l < 4; ++l) {
    const auto& L = a.layers[static_cast<size_t>(l)];
    EXPECT_EQ(L.attn->n_kv_heads, l == 1 || l == 2 ? 1 : 2) << l;  // round(0.5 x 2)
    EXPECT_EQ(L.mlp->intermediate_size, 24) << l;                  // 48 x 0.5, multiple of 4
  }
  r.unit = "q-head";
  r.ratio = 0.25;  // round(0.25 x 4) = 1 query head per group
  const ModelSpec q = after(s, plan_width(s, flat_scores(s), r, nullptr, nullptr));
  EXPECT_EQ(q.layers[1].attn->n_heads, 6);
  EXPECT_EQ(q.layers[0].attn->n_heads, 8);
}

TEST(WidthPlanner, UniformShapeGivesOneShapeForEveryLayer) {
  const ModelSpec s = spec4();
  for (const char* sel : {"global", "hgsp"}) {
    WidthRequest r;
    r.selection = sel;
    r.ratio = 0.3;
    r.uniform_shape = true;
    WidthPriors pr{{0.1, 0.2, 0.3, 0.4}, {0.1, 0.1, 0.1, 0.1}, {0.2, 0.2, 0.2, 0.2}};
    const ModelSpec a = after(s, plan_width(s, flat_scores(s), r, &pr, nullptr));
    EXPECT_TRUE(is_uniform(a)) << sel;
    EXPECT_LT(a.layers[0].mlp->intermediate_size, 48);
  }
}

TEST(WidthPlanner, HgspPriorsMoveTheCut) {
  const ModelSpec s = spec4();
  const auto sc = flat_scores(s);
  WidthRequest g;
  g.ratio = 0.2;
  WidthRequest h = g;
  h.selection = "hgsp";
  h.temperature = 0;
  WidthPriors pr{{0.5, 0.5, 0.01, 0.5}, {0.3, 0.3, 0.3, 0.3}, {0.3, 0.3, 0.3, 0.3}};
  // T = 0: M = 1, the plain global knapsack.
  EXPECT_EQ(plan_width(s, sc, g, nullptr, nullptr).to_json().at("width"),
            plan_width(s, sc, h, &pr, nullptr).to_json().at("width"));
  // T = 1, tau = inf (every layer uses its layer prior): layer 2 (prior 0.01) goes first.
  h.temperature = 1;
  h.tau = "inf";
  WidthSelection sel;
  const ModelSpec a = after(s, plan_width(s, sc, h, &pr, &sel));
  EXPECT_LT(a.layers[2].mlp->intermediate_size, a.layers[1].mlp->intermediate_size);
  EXPECT_TRUE(std::isinf(sel.tau));
  for (const auto& row : sel.rows)
    if (row.layer == 2) {
      EXPECT_NEAR(row.prior, std::log1p(0.01), 1e-12);
    }
  // tau = 0: no layer is below it, every group uses its sub-block prior (all equal here).
  h.tau = "0";
  plan_width(s, sc, h, &pr, &sel);
  for (const auto& row : sel.rows) EXPECT_NEAR(row.prior, std::log1p(0.3), 1e-12);
  // tau auto: the 25th percentile of {0.5, 0.5, 0.01, 0.5} (numpy linear) = 0.3775.
  h.tau = "auto";
  plan_width(s, sc, h, &pr, &sel);
  EXPECT_NEAR(sel.tau, 0.3775, 1e-12);
}

TEST(WidthPlanner, EpsilonRemovesNearlyEmptySubBlocks) {
  const ModelSpec s = spec4();
  const auto sc = scores_of(s, [](int64_t l, GroupKind k) {
    return l == 3 && k == GroupKind::kMlpChannel ? 0.001 : 1.0;
  });
  WidthRequest r;
  r.selection = "hgsp";
  r.temperature = 0;
  r.ratio = 0.13;  // about all of layer 3's channels
  r.epsilon = 0.2;
  WidthSelection sel;
  const WidthPriors pr{{0.1, 0.1, 0.1, 0.1}, {0.1, 0.1, 0.1, 0.1}, {0.1, 0.1, 0.1, 0.1}};
  const PrunePlan p = plan_width(s, sc, r, &pr, &sel);
  ASSERT_EQ(p.units.size(), 1u);
  EXPECT_EQ(p.units[0].kind, UnitKind::kMlp);
  EXPECT_EQ(p.units[0].layer, 3);
  EXPECT_FALSE(p.width.channels.count(3));
  EXPECT_FALSE(after(s, p).layers[3].mlp.has_value());
}

TEST(WidthPlanner, BadRequestsAreOneLineErrors) {
  const ModelSpec s = spec4();
  const auto sets = sets_of(s);
  auto msg = [&](auto edit) {
    WidthRequest r;
    edit(r);
    return test::bad_input_message([&] { check_width_request(s, sets, r); });
  };
  EXPECT_NE(msg([](WidthRequest& r) { r.ratio = 0; }).find("--ratio must be in (0, 1)"), std::string::npos);
  EXPECT_NE(msg([](WidthRequest& r) { r.ratio = 1; }).find("--ratio must be in (0, 1)"), std::string::npos);
  EXPECT_NE(msg([](WidthRequest& r) { r.ratio = 0.99; }).find("unattainable"), std::string::npos);
  // Largest attainable, by hand: each layer keeps 1 of 2 KV groups (half of the attention
  // groups' parameters) and 1 of 48 channels: (0.5 x A + 47/48 x M) / (A + M) with
  // A = 2 x (4 x 4 x 32 + 2 x 4 x 32 + 32 x 16) = 3072... computed from the costs below.
  const int64_t A = 2 * sets[0].cost(), M = 48 * sets[2].cost();
  const double best = (0.5 * A + 47.0 / 48 * M) / (A + M);
  EXPECT_NE(msg([](WidthRequest& r) { r.ratio = 0.99; }).find(std::to_string(best).substr(0, 5)),
            std::string::npos);
  EXPECT_NE(msg([](WidthRequest& r) { r.freeze_first = 2, r.freeze_last = 2; }).find("every layer is frozen"), std::string::npos);
  EXPECT_NE(msg([](WidthRequest& r) { r.round_to = 64; }).find("--round-to 64 is larger"), std::string::npos);
  EXPECT_NE(msg([](WidthRequest& r) { r.selection = "best"; }).find("--selection"), std::string::npos);
  EXPECT_NE(msg([](WidthRequest& r) { r.unit = "head"; }).find("--unit"), std::string::npos);
  EXPECT_NE(msg([](WidthRequest& r) { r.tau = "x"; }).find("--tau"), std::string::npos);
  EXPECT_NE(msg([](WidthRequest& r) { r.uniform_shape = true, r.freeze_last = 1; }).find("--uniform-shape"), std::string::npos);
}

TEST(WidthPlan, JsonRoundTripAndValidation) {
  const ModelSpec s = spec4();
  WidthRequest r;
  r.unit = "q-head";
  const PrunePlan p = plan_width(s, flat_scores(s), r, nullptr, nullptr);
  const PrunePlan back = PrunePlan::from_json(p.to_json(), "p.json");
  EXPECT_EQ(back.to_json(), p.to_json());
  json j = p.to_json();
  j["width"] = json::array({{{"layer", 1}, {"q_heads", {0}}}});  // group 0 keeps 3, group 1 keeps 4
  EXPECT_NE(test::bad_input_message([&] { PrunePlan::from_json(j, "p.json").validate(s, "p.json"); })
                .find("different numbers of query heads"),
            std::string::npos);
  j["width"] = json::array({{{"layer", 1}, {"kv_groups", {0, 1}}}});
  EXPECT_NE(test::bad_input_message([&] { PrunePlan::from_json(j, "p.json").validate(s, "p.json"); })
                .find("every KV group is cut"),
            std::string::npos);
  j["width"] = json::array({{{"layer", 9}, {"channels", {0}}}});
  EXPECT_NE(test::bad_input_message([&] { PrunePlan::from_json(j, "p.json").validate(s, "p.json"); })
                .find("outside layers 0..3"),
            std::string::npos);
}
