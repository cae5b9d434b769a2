// Width planners (see width_planner.h). Every selection works on chains: per layer and kind,
// the removal steps in the order they must happen (lowest-scored groups first; a query-head
// step takes the lowest remaining head of every KV group; a channel step takes --round-to
// channels). uniform takes a fixed number of steps per chain; global and hgsp take the step with
// the lowest score per parameter among all chains' next steps until the target is reached.
#include "plan/width_planner.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <numeric>
#include <queue>
#include <set>
#include <sstream>

#include "util/error.h"

namespace llmprune {
namespace {

struct Step {
  std::vector<std::pair<int64_t, int64_t>> groups;  // (layer, group index)
  double importance = 0;
  int64_t cost = 0;
};

struct Chain {
  GroupKind kind;
  std::vector<int64_t> layers;  // more than one with --uniform-shape
  std::vector<Step> steps;
  double mult = 1;              // hgsp prior multiplier
  int64_t count = 0;            // groups of the set (per layer)
};

bool in_range(int64_t l, int64_t first, int64_t last) {
  return (first < 0 || l >= first) && (last < 0 || l <= last);
}

bool frozen(const ModelSpec& spec, const WidthRequest& r, int64_t l) {
  return l < r.freeze_first || l >= spec.n_layers() - r.freeze_last;
}

// Whether the set takes part: its sub-block may be pruned, the unit matches, not frozen (and
// in range for uniform).
bool in_play(const ModelSpec& spec, const WidthRequest& r, const GroupSet& s) {
  if (s.kind == GroupKind::kHidden || frozen(spec, r, s.layer)) return false;
  const bool uniform = r.selection == "uniform";
  if (s.kind == GroupKind::kMlpChannel)
    return r.mlp && (!uniform || in_range(s.layer, r.mlp_first, r.mlp_last));
  const GroupKind want = r.unit == "q-head" ? GroupKind::kQueryHead : GroupKind::kKvGroup;
  return r.attn && s.kind == want && (!uniform || in_range(s.layer, r.attn_first, r.attn_last));
}

std::vector<int64_t> order_by(const std::vector<double>& score, int64_t first, int64_t n) {
  std::vector<int64_t> idx(static_cast<size_t>(n));
  std::iota(idx.begin(), idx.end(), first);
  std::stable_sort(idx.begin(), idx.end(), [&](int64_t a, int64_t b) {
    return score[static_cast<size_t>(a)] < score[static_cast<size_t>(b)];
  });
  return idx;
}

// The removal steps of one layer's set (at least one group, or --round-to channels, kept).
Chain layer_chain(const ModelSpec& spec, const SetScores& sc, const WidthRequest& r) {
  const GroupSet& s = sc.set;
  Chain c{s.kind, {s.layer}, {}, 1.0, s.count};
  const int64_t cost = s.cost();
  auto step = [&](const std::vector<int64_t>& idx) {
    Step st;
    for (int64_t i : idx) {
      st.groups.emplace_back(s.layer, i);
      st.importance += sc.score[static_cast<size_t>(i)];
      st.cost += cost;
    }
    c.steps.push_back(st);
  };
  if (s.kind == GroupKind::kKvGroup) {
    const auto order = order_by(sc.score, 0, s.count);
    for (int64_t k = 0; k + 1 < s.count; ++k) step({order[static_cast<size_t>(k)]});
  } else if (s.kind == GroupKind::kQueryHead) {
    const auto& a = *spec.layers[static_cast<size_t>(s.layer)].attn;
    const int64_t g = a.n_heads / a.n_kv_heads;
    std::vector<std::vector<int64_t>> per_group;
    for (int64_t kv = 0; kv < a.n_kv_heads; ++kv) per_group.push_back(order_by(sc.score, kv * g, g));
    for (int64_t k = 0; k + 1 < g; ++k) {
      std::vector<int64_t> idx;
      for (const auto& o : per_group) idx.push_back(o[static_cast<size_t>(k)]);
      step(idx);
    }
  } else {
    const auto order = order_by(sc.score, 0, s.count);
    const int64_t K = r.round_to, first = s.count % K;
    int64_t at = 0;
    auto take = [&](int64_t n) {
      step(std::vector<int64_t>(order.begin() + at, order.begin() + at + n));
      at += n;
    };
    if (first > 0 && s.count - first >= K) take(first);
    while (s.count - at - K >= K) take(K);
  }
  return c;
}

// One chain per set in play; with --uniform-shape one chain per kind whose step k is step k of
// every layer.
std::vector<Chain> make_chains(const ModelSpec& spec, const std::vector<SetScores>& scores,
                               const WidthRequest& r) {
  std::vector<Chain> chains;
  for (const SetScores& sc : scores)
    if (in_play(spec, r, sc.set)) chains.push_back(layer_chain(spec, sc, r));
  if (!r.uniform_shape) return chains;
  std::map<GroupKind, Chain> merged;
  for (const Chain& c : chains) {
    auto it = merged.find(c.kind);
    if (it == merged.end()) {
      merged.emplace(c.kind, c);
      continue;
    }
    Chain& m = it->second;
    LLMPRUNE_CHECK(m.count == c.count && m.steps.size() == c.steps.size(),
                   "--uniform-shape needs every layer to start with the same shape: layer ",
                   c.layers.front(), " has ", c.count, " ", group_kind_name(c.kind), "s, layer ",
                   m.layers.front(), " has ", m.count);
    m.layers.push_back(c.layers.front());
    for (size_t k = 0; k < c.steps.size(); ++k) {
      Step& s = m.steps[k];
      s.groups.insert(s.groups.end(), c.steps[k].groups.begin(), c.steps[k].groups.end());
      s.importance += c.steps[k].importance;
      s.cost += c.steps[k].cost;
    }
  }
  chains.clear();
  for (auto& [k, c] : merged) chains.push_back(std::move(c));
  return chains;
}

std::vector<SetScores> zero_scores(const std::vector<GroupSet>& sets) {
  std::vector<SetScores> out;
  for (const GroupSet& s : sets) out.push_back({s, std::vector<double>(static_cast<size_t>(s.count), 0.0)});
  return out;
}

int64_t prunable_params(const ModelSpec& spec, const std::vector<SetScores>& scores,
                        const WidthRequest& r) {
  int64_t n = 0;
  for (const SetScores& sc : scores)
    if (in_play(spec, r, sc.set)) n += sc.set.cost() * sc.set.count;
  return n;
}

double percentile(std::vector<double> v, double q) {  // numpy's linear interpolation
  std::sort(v.begin(), v.end());
  if (v.empty()) return 0;
  const double pos = q * static_cast<double>(v.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(pos));
  const size_t hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (v[hi] - v[lo]) * (pos - static_cast<double>(lo));
}

std::string fmt(double v) {
  std::ostringstream o;
  o.precision(4);
  o << v;
  return o.str();
}

}  // namespace

void check_width_request(const ModelSpec& spec, const std::vector<GroupSet>& sets,
                         const WidthRequest& r) {
  LLMPRUNE_CHECK(r.selection == "uniform" || r.selection == "global" || r.selection == "hgsp",
                 "--selection must be uniform, global or hgsp, got '", r.selection, "'");
  LLMPRUNE_CHECK(r.unit == "kv-group" || r.unit == "q-head",
                 "--unit must be kv-group or q-head, got '", r.unit, "'");
  LLMPRUNE_CHECK(r.ratio > 0 && r.ratio < 1, "--ratio must be in (0, 1), got ", r.ratio);
  LLMPRUNE_CHECK(r.attn || r.mlp, "nothing to prune: both attention and MLP are excluded");
  LLMPRUNE_CHECK(r.freeze_first >= 0 && r.freeze_last >= 0, "--freeze-first-n-layers and "
                 "--freeze-last-n-layers must be >= 0");
  LLMPRUNE_CHECK(r.freeze_first + r.freeze_last < spec.n_layers(), "every layer is frozen (",
                 r.freeze_first, " first + ", r.freeze_last, " last of ", spec.n_layers(),
                 " layers)");
  LLMPRUNE_CHECK(r.round_to >= 1, "--round-to must be >= 1, got ", r.round_to);
  LLMPRUNE_CHECK(r.temperature >= 0, "--temperature must be >= 0, got ", r.temperature);
  LLMPRUNE_CHECK(r.epsilon >= 0 && r.epsilon < 1, "--epsilon must be in [0, 1), got ",
                 r.epsilon);
  if (r.tau != "auto" && r.tau != "inf") {
    char* end = nullptr;
    const double t = std::strtod(r.tau.c_str(), &end);
    LLMPRUNE_CHECK(end && *end == '\0' && !r.tau.empty() && t >= 0,
                   "--tau must be a number >= 0, auto or inf, got '", r.tau, "'");
  }
  LLMPRUNE_CHECK(!(r.hidden && (r.freeze_first > 0 || r.freeze_last > 0)),
                 "--prune-hidden changes every layer, frozen ones too: it cannot be combined "
                 "with --freeze-first-n-layers / --freeze-last-n-layers");
  if (r.hidden) {
    bool have = false;
    for (const GroupSet& s : sets) have = have || s.kind == GroupKind::kHidden;
    LLMPRUNE_ASSERT(have, "--prune-hidden: no hidden group set given");
    for (const GroupSet& s : sets)
      if (s.kind == GroupKind::kHidden)
        LLMPRUNE_CHECK(r.round_to < s.count, "--round-to ", r.round_to,
                       " is not smaller than hidden_size ", s.count);
  }
  LLMPRUNE_CHECK(!(r.uniform_shape && (r.freeze_first > 0 || r.freeze_last > 0)),
                 "--uniform-shape cannot be combined with frozen layers: they keep their full "
                 "width, so no layer could change and stay uniform");
  LLMPRUNE_CHECK(!(r.uniform_shape && r.selection == "uniform" &&
                   (r.attn_first >= 0 || r.attn_last >= 0 || r.mlp_first >= 0 || r.mlp_last >= 0)),
                 "--uniform-shape cannot be combined with --attn-layers / --mlp-layers ranges");
  for (const GroupSet& s : sets)
    if (s.kind == GroupKind::kMlpChannel && in_play(spec, r, s))
      LLMPRUNE_CHECK(r.round_to <= s.count, "--round-to ", r.round_to,
                     " is larger than layer ", s.layer, "'s MLP width ", s.count);
  if (r.unit == "q-head")
    for (const GroupSet& s : sets)
      if (s.kind == GroupKind::kQueryHead && in_play(spec, r, s)) {
        const auto& a = *spec.layers[static_cast<size_t>(s.layer)].attn;
        LLMPRUNE_CHECK(a.n_heads > a.n_kv_heads || r.mlp, "--unit q-head: layer ", s.layer,
                       " has one query head per KV head, none can be removed");
      }
  const std::vector<SetScores> zs = zero_scores(sets);
  const int64_t prunable = prunable_params(spec, zs, r);
  LLMPRUNE_CHECK(prunable > 0, "no prunable parameters in the chosen layers and sub-blocks");
  if (r.selection == "uniform") return;
  int64_t most = 0;
  for (const Chain& c : make_chains(spec, zs, r))
    for (const Step& s : c.steps) most += s.cost;
  const double reachable = static_cast<double>(most) / static_cast<double>(prunable);
  LLMPRUNE_CHECK(r.ratio <= reachable, "--ratio ", r.ratio,
                 " is unattainable under the constraints: at most ", fmt(reachable),
                 " of the ", prunable, " prunable parameters can be removed (every kept "
                 "sub-block keeps one KV group, one query head per group, and --round-to ",
                 r.round_to, " channels)");
}

PrunePlan plan_width(const ModelSpec& spec, const std::vector<SetScores>& scores,
                     const WidthRequest& r, const WidthPriors* priors, WidthSelection* sel) {
  std::vector<GroupSet> sets;
  for (const auto& sc : scores) sets.push_back(sc.set);
  check_width_request(spec, sets, r);
  WidthSelection out;
  out.prunable = prunable_params(spec, scores, r);
  out.target = static_cast<int64_t>(std::ceil(r.ratio * static_cast<double>(out.prunable)));
  std::vector<Chain> chains = make_chains(spec, scores, r);

  // hgsp: per (layer, sub-block) multiplier M = ln(1 + prior)^T.
  std::map<std::pair<int64_t, bool>, double> mult;  // (layer, is_mlp) -> M
  if (r.selection == "hgsp") {
    LLMPRUNE_ASSERT(priors && static_cast<int64_t>(priors->layer.size()) == spec.n_layers(),
                    "hgsp needs layer priors");
    out.tau = r.tau == "auto"  ? percentile(priors->layer, 0.25)
              : r.tau == "inf" ? std::numeric_limits<double>::infinity()
                               : std::strtod(r.tau.c_str(), nullptr);
    for (int64_t l = 0; l < spec.n_layers(); ++l)
      for (bool is_mlp : {false, true}) {
        const size_t i = static_cast<size_t>(l);
        const double p = priors->layer[i] < out.tau ? priors->layer[i]
                         : is_mlp                   ? priors->mlp[i]
                                                    : priors->attn[i];
        mult[{l, is_mlp}] = r.temperature == 0 ? 1.0
                                               : std::pow(std::log1p(std::max(0.0, p)),
                                                          r.temperature);
      }
    for (Chain& c : chains) c.mult = mult.at({c.layers.front(), c.kind == GroupKind::kMlpChannel});
    if (r.uniform_shape) out.bounds.push_back("uniform-shape: the priors of the first layer apply");
  }
  auto ratio = [&](const Chain& c, size_t k) {
    const Step& s = c.steps[k];
    return s.importance / static_cast<double>(s.cost) * c.mult;
  };

  // Steps taken per chain.
  std::vector<size_t> taken(chains.size(), 0);
  if (r.selection == "uniform") {
    for (size_t i = 0; i < chains.size(); ++i) {
      const Chain& c = chains[i];
      int64_t want;
      if (c.kind == GroupKind::kMlpChannel) {
        const int64_t K = r.round_to;
        int64_t kept = static_cast<int64_t>(
                           std::floor((1 - r.ratio) * static_cast<double>(c.count) / K + 0.5)) * K;
        kept = std::max(kept, K);
        const int64_t first = c.count % K;
        const int64_t removed = c.count - kept;
        want = removed <= 0 ? 0 : (first > 0 ? 1 : 0) + (removed - first) / K;
      } else {
        const int64_t n = c.kind == GroupKind::kKvGroup
                              ? c.count
                              : c.count / spec.layers[static_cast<size_t>(c.layers.front())]
                                              .attn->n_kv_heads;
        want = static_cast<int64_t>(std::floor(r.ratio * static_cast<double>(n) + 0.5));
      }
      taken[i] = std::min(c.steps.size(), static_cast<size_t>(std::max<int64_t>(0, want)));
      if (static_cast<int64_t>(taken[i]) < want)
        out.bounds.push_back("layer " + std::to_string(c.layers.front()) + " " +
                             group_kind_name(c.kind) + ": keeps the minimum");
      for (size_t k = 0; k < taken[i]; ++k) out.removed += c.steps[k].cost;
    }
  } else {
    // Lowest score per parameter first among the chains' next steps (ties: chain order).
    using Entry = std::pair<double, size_t>;
    std::priority_queue<Entry, std::vector<Entry>, std::greater<Entry>> heads;
    for (size_t i = 0; i < chains.size(); ++i)
      if (!chains[i].steps.empty()) heads.push({ratio(chains[i], 0), i});
    while (out.removed < out.target && !heads.empty()) {
      const size_t i = heads.top().second;
      heads.pop();
      out.removed += chains[i].steps[taken[i]].cost;
      if (++taken[i] < chains[i].steps.size()) heads.push({ratio(chains[i], taken[i]), i});
    }
    LLMPRUNE_ASSERT(out.removed >= out.target, "knapsack ran out of steps after the check");
    for (size_t i = 0; i < chains.size(); ++i)
      if (!chains[i].steps.empty() && taken[i] == chains[i].steps.size())
        out.bounds.push_back(
            (chains[i].layers.size() > 1 ? std::string("every layer")
                                         : "layer " + std::to_string(chains[i].layers.front())) +
            " " + group_kind_name(chains[i].kind) + ": kept the minimum");
  }
  if (r.freeze_first > 0 || r.freeze_last > 0)
    out.bounds.push_back("frozen: the first " + std::to_string(r.freeze_first) + " and the last " +
                         std::to_string(r.freeze_last) + " layers");

  // Hidden channels: the same fraction of the residual width, lowest scores first.
  const SetScores* hid = nullptr;
  for (const SetScores& sc : scores)
    if (sc.set.kind == GroupKind::kHidden) hid = &sc;
  std::vector<int64_t> hidden_cut;
  if (r.hidden) {
    const int64_t H = hid->set.count, K = r.round_to;
    const int64_t kept = std::max(
        K, static_cast<int64_t>(std::floor((1 - r.ratio) * static_cast<double>(H) / K + 0.5)) * K);
    const auto order = order_by(hid->score, 0, H);
    hidden_cut.assign(order.begin(), order.begin() + (H - kept));
    std::sort(hidden_cut.begin(), hidden_cut.end());
  }

  PrunePlan plan;
  plan.kind = "width";
  plan.width.hidden = hidden_cut;
  plan.source_layers = spec.n_layers();
  plan.family = spec.family;
  std::map<std::pair<int64_t, GroupKind>, std::set<int64_t>> gone;
  for (size_t i = 0; i < chains.size(); ++i)
    for (size_t k = 0; k < taken[i]; ++k)
      for (const auto& [l, g] : chains[i].steps[k].groups) gone[{l, chains[i].kind}].insert(g);

  // epsilon: a sub-block left with less than epsilon of its groups goes whole.
  std::set<std::pair<int64_t, bool>> dropped;  // (layer, is_mlp)
  if (r.epsilon > 0) {
    for (const SetScores& sc : scores) {
      if (!in_play(spec, r, sc.set)) continue;
      auto it = gone.find({sc.set.layer, sc.set.kind});
      const double kept = static_cast<double>(sc.set.count) -
                          static_cast<double>(it == gone.end() ? 0 : it->second.size());
      if (kept / static_cast<double>(sc.set.count) < r.epsilon)
        dropped.insert({sc.set.layer, sc.set.kind == GroupKind::kMlpChannel});
    }
  }
  for (int64_t l = 0; l < spec.n_layers(); ++l) {
    const bool a = dropped.count({l, false}) > 0, m = dropped.count({l, true}) > 0;
    if (!a && !m) continue;
    const LayerSpec& L = spec.layers[static_cast<size_t>(l)];
    const bool whole = (a || !L.attn) && (m || !L.mlp);
    PruneUnit u;
    u.kind = whole ? UnitKind::kLayer : a ? UnitKind::kAttn : UnitKind::kMlp;
    u.layer = l;
    u.why = "epsilon: fewer than " + fmt(r.epsilon) + " of its groups were left";
    plan.units.push_back(u);
    out.bounds.push_back("layer " + std::to_string(l) + ": " + unit_kind_name(u.kind) +
                         " removed whole (epsilon)");
  }
  for (const auto& [key, idx] : gone) {
    const auto [l, kind] = key;
    if (dropped.count({l, kind == GroupKind::kMlpChannel})) continue;
    std::vector<int64_t> v(idx.begin(), idx.end());
    (kind == GroupKind::kKvGroup     ? plan.width.kv_groups
     : kind == GroupKind::kQueryHead ? plan.width.q_heads
                                     : plan.width.channels)[l] = v;
  }

  // The table: every group in play with its score and whether it goes.
  if (hid && r.hidden)
    for (int64_t g = 0; g < hid->set.count; ++g) {
      GroupRow row;
      row.layer = -1;
      row.kind = GroupKind::kHidden;
      row.group = g;
      row.importance = hid->score[static_cast<size_t>(g)];
      row.cost = hid->set.cost();
      row.score = row.importance / static_cast<double>(row.cost);
      row.pruned = std::binary_search(hidden_cut.begin(), hidden_cut.end(), g);
      out.rows.push_back(row);
    }
  for (const SetScores& sc : scores) {
    if (!in_play(spec, r, sc.set)) continue;
    const bool is_mlp = sc.set.kind == GroupKind::kMlpChannel;
    const double M = mult.count({sc.set.layer, is_mlp}) ? mult.at({sc.set.layer, is_mlp}) : 1.0;
    auto it = gone.find({sc.set.layer, sc.set.kind});
    const bool whole = dropped.count({sc.set.layer, is_mlp}) > 0;
    for (int64_t g = 0; g < sc.set.count; ++g) {
      GroupRow row;
      row.layer = sc.set.layer;
      row.kind = sc.set.kind;
      row.group = g;
      row.importance = sc.score[static_cast<size_t>(g)];
      row.cost = sc.set.cost();
      row.prior = M;
      row.score = row.importance / static_cast<double>(row.cost) * M;
      row.pruned = whole || (it != gone.end() && it->second.count(g));
      out.rows.push_back(row);
    }
  }
  if (sel) *sel = std::move(out);
  return plan;
}

}  // namespace llmprune
