// Width-pruning analysis files (see width_analysis.h).
#include "export/width_analysis.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <sstream>

#include "util/fs.h"
#include "util/svg_plot.h"

namespace llmprune {
namespace {

int64_t layer_params(const ModelSpec& s, int64_t l) {
  const LayerSpec& L = s.layers[static_cast<size_t>(l)];
  int64_t n = 0;
  if (L.attn) {
    const auto& a = *L.attn;
    n += (a.n_heads + 2 * a.n_kv_heads) * a.head_dim * s.hidden_size;  // q, k, v
    n += s.hidden_size * a.n_heads * a.head_dim;                      // o
    if (a.qkv_bias) n += (a.n_heads + 2 * a.n_kv_heads) * a.head_dim;
  }
  if (L.mlp) n += 3 * L.mlp->intermediate_size * s.hidden_size;
  return n;
}

json stats(std::vector<double> v) {
  if (v.empty()) return nullptr;
  std::sort(v.begin(), v.end());
  double sum = 0;
  for (double x : v) sum += x;
  return {{"min", v.front()},
          {"median", v[v.size() / 2]},
          {"mean", sum / static_cast<double>(v.size())},
          {"max", v.back()}};
}

}  // namespace

json width_analysis_json(const WidthAnalysis& a) {
  std::map<std::pair<int64_t, GroupKind>, std::vector<double>> imp;
  std::map<std::pair<int64_t, GroupKind>, int64_t> pruned;
  for (const GroupRow& r : a.selection.rows) {
    imp[{r.layer, r.kind}].push_back(r.importance);
    pruned[{r.layer, r.kind}] += r.pruned ? 1 : 0;
  }
  json layers = json::array();
  int64_t before = 0, after = 0;
  for (int64_t l = 0; l < a.before.n_layers(); ++l) {
    const LayerSpec &b = a.before.layers[static_cast<size_t>(l)],
                    &n = a.after.layers[static_cast<size_t>(l)];
    auto attn = [](const LayerSpec& L) -> json {
      if (!L.attn) return nullptr;
      return {{"n_heads", L.attn->n_heads}, {"n_kv_heads", L.attn->n_kv_heads}};
    };
    auto mlp = [](const LayerSpec& L) -> json {
      if (!L.mlp) return nullptr;
      return {{"intermediate_size", L.mlp->intermediate_size}};
    };
    json e{{"layer", l},
           {"before", {{"attn", attn(b)}, {"mlp", mlp(b)}, {"parameters", layer_params(a.before, l)}}},
           {"after", {{"attn", attn(n)}, {"mlp", mlp(n)}, {"parameters", layer_params(a.after, l)}}}};
    json importance = json::object();
    for (GroupKind k : {GroupKind::kKvGroup, GroupKind::kQueryHead, GroupKind::kMlpChannel}) {
      auto it = imp.find({l, k});
      if (it == imp.end()) continue;
      json s = stats(it->second);
      s["pruned"] = pruned[{l, k}];
      s["groups"] = it->second.size();
      importance[group_kind_name(k)] = s;
    }
    e["importance"] = importance;
    e["in_play"] = !importance.empty();
    before += layer_params(a.before, l);
    after += layer_params(a.after, l);
    layers.push_back(e);
  }
  const WidthSelection& s = a.selection;
  return {{"format", "llmprune-width-analysis"},
          {"hidden_size", {{"before", a.before.hidden_size}, {"after", a.after.hidden_size}}},
          {"prunable_parameters", s.prunable},
          {"target_parameters", s.target},
          {"removed_parameters", s.removed},
          {"removed_fraction_of_prunable",
           s.prunable ? static_cast<double>(s.removed) / static_cast<double>(s.prunable) : 0.0},
          {"layer_parameters_before", before},
          {"layer_parameters_after", after},
          {"tau", std::isfinite(s.tau) ? json(s.tau) : json("inf")},
          {"constraints_that_bound", s.bounds},
          {"run", a.run},
          {"layers", layers}};
}

std::string group_table_csv(const WidthSelection& s) {
  std::ostringstream o;
  o.precision(9);
  o << "layer,kind,group,importance,cost,score,prior,pruned\n";
  for (const GroupRow& r : s.rows)
    o << r.layer << ',' << group_kind_name(r.kind) << ',' << r.group << ',' << r.importance << ','
      << r.cost << ',' << r.score << ',' << r.prior << ',' << (r.pruned ? 1 : 0) << '\n';
  return o.str();
}

void write_width_analysis(const std::string& dir, const WidthAnalysis& a) {
  write_json_file(join_path(dir, "pruning_analysis.json"), width_analysis_json(a));
  write_file_atomic(join_path(dir, "global_group_table.csv"), group_table_csv(a.selection));

  BarChartSpec bars;
  bars.title = "Kept fraction per layer";
  bars.x_label = "layer";
  bars.y_label = "kept / original";
  BarSeries q{"query heads", {}, {}}, kv{"KV heads", {}, {}}, ch{"MLP channels", {}, {}};
  for (int64_t l = 0; l < a.before.n_layers(); ++l) {
    const LayerSpec &b = a.before.layers[static_cast<size_t>(l)],
                    &n = a.after.layers[static_cast<size_t>(l)];
    bars.categories.push_back(std::to_string(l));
    auto frac = [](double kept, double was) { return was > 0 ? kept / was : NAN; };
    q.values.push_back(b.attn ? frac(n.attn ? n.attn->n_heads : 0, b.attn->n_heads) : NAN);
    kv.values.push_back(b.attn ? frac(n.attn ? n.attn->n_kv_heads : 0, b.attn->n_kv_heads) : NAN);
    ch.values.push_back(
        b.mlp ? frac(n.mlp ? n.mlp->intermediate_size : 0, b.mlp->intermediate_size) : NAN);
  }
  bars.series = {q, kv, ch};
  bars.reference_y = 1.0;
  bars.reference_label = "unpruned";
  write_file_atomic(join_path(dir, "kept_fraction.svg"), svg_bar_chart(bars));

  LineChartSpec lines;
  lines.title = "Group scores (importance per parameter x prior), sorted";
  lines.x_label = "rank / groups of the kind";
  lines.y_label = "score";
  lines.log_y = true;
  std::map<GroupKind, std::vector<double>> by_kind;
  for (const GroupRow& r : a.selection.rows) by_kind[r.kind].push_back(r.score);
  for (auto& [k, v] : by_kind) {
    std::sort(v.begin(), v.end());
    LineSeries s{group_kind_name(k), {}, {}};
    // At most ~500 points per line: a 7B model has ~350k channels.
    const size_t step = std::max<size_t>(1, v.size() / 500);
    for (size_t i = 0; i < v.size(); i += step) {
      s.x.push_back(static_cast<double>(i) / static_cast<double>(v.size()));
      s.y.push_back(v[i]);
    }
    lines.series.push_back(s);
  }
  write_file_atomic(join_path(dir, "group_scores.svg"), svg_line_chart(lines));
}

}  // namespace llmprune
