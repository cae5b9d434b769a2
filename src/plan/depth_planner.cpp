// Depth planners (see depth_planner.h).
#include "plan/depth_planner.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

#include "util/error.h"
#include "util/log.h"

namespace llmprune {

const std::vector<std::string>& depth_methods() {
  static const std::vector<std::string> m = {"angular",  "block-influence", "attn-drop",
                                             "mlp-drop", "joint",           "sleb"};
  return m;
}

namespace {

struct Candidate {
  UnitKind kind;
  int64_t layer;
};

bool protected_layer(const DepthRequest& r, int64_t l, int64_t n_layers) {
  return (r.keep_first && l == 0) || (r.keep_last && l == n_layers - 1);
}

void check_method(const std::string& m) {
  if (std::find(depth_methods().begin(), depth_methods().end(), m) == depth_methods().end()) {
    std::string all;
    for (const auto& x : depth_methods()) all += (all.empty() ? "" : ", ") + x;
    throw bad_input("unknown depth method '", m, "' (choose one of ", all, ")");
  }
}

// Units the method may remove from a model in `state`, in layer order (attention before MLP).
std::vector<Candidate> candidates(const DepthRequest& r, const DepthState& s) {
  const bool attn = r.method == "attn-drop" || r.method == "joint" ||
                    (r.method == "sleb" && r.sleb_unit == "sub-block");
  const bool mlp = r.method == "mlp-drop" || r.method == "joint" ||
                   (r.method == "sleb" && r.sleb_unit == "sub-block");
  std::vector<Candidate> out;
  for (int64_t l = 0; l < s.n_layers(); ++l) {
    if (protected_layer(r, l, s.n_layers())) continue;
    const size_t i = static_cast<size_t>(l);
    if (!attn && !mlp) {
      if (s.has_layer(l)) out.push_back({UnitKind::kLayer, l});
      continue;
    }
    if (attn && s.attn[i]) out.push_back({UnitKind::kAttn, l});
    if (mlp && s.mlp[i]) out.push_back({UnitKind::kMlp, l});
  }
  return out;
}

double value_at(const std::vector<double>& v, int64_t l) {
  return l < static_cast<int64_t>(v.size()) ? v[static_cast<size_t>(l)]
                                            : std::numeric_limits<double>::quiet_NaN();
}

// Lowest finite value first; ties and NaN: lower layer first, NaN last.
void sort_by(std::vector<Candidate>& c, const std::function<double(const Candidate&)>& key) {
  std::stable_sort(c.begin(), c.end(), [&](const Candidate& a, const Candidate& b) {
    const double ka = key(a), kb = key(b);
    if (std::isnan(ka) != std::isnan(kb)) return std::isnan(kb);
    return ka < kb;
  });
}

json unit_ref(const Candidate& c) { return {{"kind", unit_kind_name(c.kind)}, {"layer", c.layer}}; }

std::vector<PruneUnit> plan_angular(const ModelSpec& spec, const DepthRequest& r,
                                    const DepthScores& sc) {
  const int64_t L = spec.n_layers(), n = r.n_drop;
  const DepthState s = DepthState::of(spec);
  int64_t best = -1;
  double best_d = 0;
  for (int64_t l = 0; l + n <= L; ++l) {
    bool ok = true;
    for (int64_t k = l; k < l + n; ++k) ok = ok && s.has_layer(k) && !protected_layer(r, k, L);
    const double d = sc.angular[static_cast<size_t>(n)][static_cast<size_t>(l)];
    if (ok && !std::isnan(d) && (best < 0 || d < best_d)) {
      best = l;
      best_d = d;
    }
  }
  LLMPRUNE_CHECK(best >= 0, "angular: no block of ", n,
                 " consecutive layers can be removed under "
                 "the keep-first/keep-last constraints");
  std::vector<PruneUnit> units;
  for (int64_t k = best; k < best + n; ++k)
    units.push_back({UnitKind::kLayer, k, best_d, sc.angular[1][static_cast<size_t>(k)], "",
                     "block [" + std::to_string(best) + ", " + std::to_string(best + n) +
                         ") has the smallest angular distance d(l, n=" + std::to_string(n) + ")"});
  return units;
}

std::vector<PruneUnit> plan_one_shot(const DepthRequest& r, const DepthState& s,
                                     const DepthScores& sc) {
  std::vector<Candidate> c = candidates(r, s);
  std::function<double(const Candidate&)> importance;
  std::string what;
  if (r.method == "block-influence") {
    importance = [&](const Candidate& x) { return value_at(sc.block_influence, x.layer); };
    what = "block influence 1 - cos(layer input, output)";
  } else {
    importance = [&](const Candidate& x) {
      return 1.0 -
             value_at(x.kind == UnitKind::kAttn ? sc.attn_redundancy : sc.mlp_redundancy, x.layer);
    };
    what = "1 - cos(sub-block input, output)";
  }
  sort_by(c, importance);
  std::vector<PruneUnit> units;
  for (int64_t i = 0; i < r.n_drop; ++i) {
    const double v = importance(c[static_cast<size_t>(i)]);
    units.push_back({c[static_cast<size_t>(i)].kind, c[static_cast<size_t>(i)].layer, v, v, "",
                     "rank " + std::to_string(i + 1) + " lowest " + what});
  }
  return units;
}

std::vector<PruneUnit> plan_iterative(const DepthRequest& r, DepthState s, const DepthScores& sc,
                                      json* trace) {
  std::vector<PruneUnit> units;
  json steps = json::array();
  for (int64_t step = 0; step < r.n_drop; ++step) {
    std::vector<Candidate> c = candidates(r, s);
    json tried = json::array();
    std::function<double(const Candidate&)> key;
    std::string why;
    if (r.method == "sleb") {
      std::map<std::pair<int64_t, int>, double> nll;
      Progress progress("sleb step " + std::to_string(step + 1) + "/" + std::to_string(r.n_drop),
                        static_cast<int64_t>(c.size()), "unit");
      for (const auto& x : c) {
        DepthState t = s;
        t.remove(x.kind, x.layer);
        const double v = sc.calibration_nll(t);
        nll[{x.layer, static_cast<int>(x.kind)}] = v;
        json e = unit_ref(x);
        e["calibration_ppl"] = std::exp(v);
        tried.push_back(e);
        progress.advance();
      }
      progress.finish();
      key = [nll](const Candidate& x) {
        return std::exp(nll.at({x.layer, static_cast<int>(x.kind)}));
      };
      why =
          "removing it gave the lowest calibration perplexity at step " + std::to_string(step + 1);
    } else {
      const std::vector<double> bi = step == 0 ? sc.block_influence : sc.rescore_block_influence(s);
      for (const auto& x : c) {
        json e = unit_ref(x);
        e["block_influence"] = value_at(bi, x.layer);
        tried.push_back(e);
      }
      key = [bi](const Candidate& x) { return value_at(bi, x.layer); };
      why = "lowest block influence after " + std::to_string(step) + " removal(s)";
    }
    sort_by(c, key);
    const Candidate chosen = c.front();
    const double v = key(chosen);
    units.push_back({chosen.kind, chosen.layer, v, v, "", why});
    s.remove(chosen.kind, chosen.layer);
    steps.push_back(
        {{"step", step + 1}, {"candidates", tried}, {"chosen", unit_ref(chosen)}, {"value", v}});
    log_info(r.method, " step ", step + 1, "/", r.n_drop, ": remove ", unit_kind_name(chosen.kind),
             " of layer ", chosen.layer, " (", r.method == "sleb" ? "calibration PPL " : "BI ", v,
             ")");
  }
  if (trace) *trace = steps;
  return units;
}

}  // namespace

bool removes_sub_blocks(const DepthRequest& r) {
  return r.method == "attn-drop" || r.method == "mlp-drop" || r.method == "joint" ||
         (r.method == "sleb" && r.sleb_unit == "sub-block");
}

void split_bundles(std::vector<PruneUnit>& units, double ratio) {
  std::vector<size_t> order(units.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    const double pa = units[a].priority, pb = units[b].priority;
    if (std::isnan(pa) != std::isnan(pb)) return std::isnan(pb);
    if (pa != pb) return pa > pb;
    return units[a].layer < units[b].layer;
  });
  const size_t n_b =
      static_cast<size_t>(std::floor(ratio * static_cast<double>(units.size()) + 0.5));
  for (size_t i = 0; i < order.size(); ++i) units[order[i]].bundle = i < n_b ? "B" : "C";
}

void check_depth_request(const ModelSpec& spec, const DepthRequest& r) {
  check_method(r.method);
  LLMPRUNE_CHECK(r.sleb_unit == "block" || r.sleb_unit == "sub-block",
                 "--unit must be block or sub-block, got '", r.sleb_unit, "'");
  LLMPRUNE_CHECK(r.split_ratio >= 0 && r.split_ratio <= 1, "--split-ratio must be in [0, 1], got ",
                 r.split_ratio);
  LLMPRUNE_CHECK(r.n_drop >= 0, "--n-drop must be >= 0, got ", r.n_drop);
  const DepthState s = DepthState::of(spec);
  const bool sub = removes_sub_blocks(r);
  const std::vector<Candidate> all = candidates(r, s);
  int64_t total = 0;
  for (int64_t l = 0; l < spec.n_layers(); ++l)
    total += sub ? int64_t(s.attn[static_cast<size_t>(l)]) + int64_t(s.mlp[static_cast<size_t>(l)])
                 : int64_t(s.has_layer(l));
  const char* what = sub ? "sub-blocks" : "layers";
  LLMPRUNE_CHECK(!(r.n_drop >= total && total > 0), "removing ", r.n_drop, " ", what, " of ", total,
                 " leaves no layer");
  const std::string guard = std::string(r.keep_first ? " --keep-first-layer" : "") +
                            (r.keep_last ? " --keep-last-layer" : "");
  LLMPRUNE_CHECK(r.n_drop <= static_cast<int64_t>(all.size()), "--n-drop ", r.n_drop,
                 " is larger than the ", all.size(), " removable ", what, " (", total,
                 " in the model", guard.empty() ? "" : ", protected by" + guard, ")");
}

PrunePlan plan_depth(const ModelSpec& spec, const DepthRequest& r, const DepthScores& sc,
                     json* trace) {
  check_depth_request(spec, r);
  const DepthState s = DepthState::of(spec);
  PrunePlan plan;
  plan.method = r.method;
  plan.family = spec.family;
  plan.source_layers = spec.n_layers();
  if (r.n_drop > 0) {
    if (r.method == "angular")
      plan.units = plan_angular(spec, r, sc);
    else if (r.method == "sleb" || (r.method == "block-influence" && r.iterative))
      plan.units = plan_iterative(r, s, sc, trace);
    else
      plan.units = plan_one_shot(r, s, sc);
  }
  split_bundles(plan.units, r.split_ratio);
  return plan;
}

}  // namespace llmprune
