// Depth analysis files (see depth_analysis.h).
#include "export/depth_analysis.h"

#include <cmath>
#include <cstdio>
#include <set>

#include "util/fs.h"
#include "util/svg_plot.h"

namespace llmprune {
namespace {

json num(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }

json nums(const std::vector<double>& v) {
  json out = json::array();
  for (double x : v) out.push_back(num(x));
  return out;
}

std::set<std::pair<std::string, int64_t>> removed_set(const PrunePlan& plan) {
  std::set<std::pair<std::string, int64_t>> s;
  for (const auto& u : plan.units) s.insert({unit_kind_name(u.kind), u.layer});
  return s;
}

std::string fmt(double v) {
  if (!std::isfinite(v)) return "";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

// The per-layer scores the method ranked by, and what they are called.
struct MethodScores {
  std::string title, y_label;
  std::vector<std::pair<std::string, std::vector<double>>> series;  // name -> per layer
};

MethodScores method_scores(const DepthAnalysis& a, const PrunePlan& plan) {
  MethodScores m;
  auto one_minus = [](std::vector<double> v) {
    for (double& x : v) x = 1.0 - x;
    return v;
  };
  if (plan.method == "angular" && !a.angular.empty()) {
    m.title = "Angular distance of each single layer d(l, 1)";
    m.y_label = "d(l, 1) = arccos(cos) / pi";
    m.series.push_back(
        {"d(l, 1)", std::vector<double>(a.angular[1].begin(), a.angular[1].begin() + a.n_layers)});
  } else if (plan.method == "attn-drop" || plan.method == "mlp-drop" || plan.method == "joint" ||
             (plan.method == "sleb" && plan.params.value("unit", "block") == "sub-block")) {
    m.title = "Sub-block importance 1 - cos(input, output)";
    m.y_label = "1 - cos";
    m.series.push_back({"attention", one_minus(a.attn_redundancy)});
    m.series.push_back({"MLP", one_minus(a.mlp_redundancy)});
  } else {
    m.title = "Block influence BI = 1 - cos(layer input, layer output)";
    m.y_label = "BI";
    m.series.push_back({"BI", a.block_influence});
  }
  m.title += " (" + plan.method + ": removed units highlighted)";
  return m;
}

}  // namespace

json analysis_json(const DepthAnalysis& a, const PrunePlan& plan) {
  json d = json::array();
  for (const auto& row : a.angular) d.push_back(nums(row));
  json units = json::array();
  for (const auto& u : plan.units)
    units.push_back({{"kind", unit_kind_name(u.kind)},
                     {"layer", u.layer},
                     {"score", num(u.score)},
                     {"bundle", u.bundle}});
  return json{{"format", "llmprune-depth-analysis"},
              {"method", plan.method},
              {"n_layers", a.n_layers},
              {"token_positions", {{"angular", a.pair_pos}, {"layer_and_sub_block", a.layer_pos}}},
              {"calibration", a.calibration},
              {"calibration_ppl_before", num(a.calibration_ppl_before)},
              {"calibration_ppl_after", num(a.calibration_ppl_after)},
              {"angular_distance",
               {{"definition",
                 "d[n][l] = mean arccos(cos(x_l, x_{l+n})) / pi; x_l enters layer l; "
                 "null where l + n > n_layers"},
                {"d", d}}},
              {"block_influence", nums(a.block_influence)},
              {"attn_redundancy", nums(a.attn_redundancy)},
              {"mlp_redundancy", nums(a.mlp_redundancy)},
              {"steps", a.steps},
              {"removed", units}};
}

std::string analysis_csv(const DepthAnalysis& a, const PrunePlan& plan) {
  const auto removed = removed_set(plan);
  auto is_removed = [&](const char* kind, int64_t l) {
    return removed.count({kind, l}) || removed.count({"layer", l}) ? "1" : "0";
  };
  std::string out = "score,layer,block_size,value,removed\n";
  auto row = [&](const std::string& score, int64_t l, int64_t n, double v, const char* rem) {
    out += score + "," + std::to_string(l) + "," + (n > 0 ? std::to_string(n) : "") + "," + fmt(v) +
           "," + rem + "\n";
  };
  for (size_t n = 1; n < a.angular.size(); ++n)
    for (size_t l = 0; l + n <= static_cast<size_t>(a.n_layers); ++l)
      row("angular_distance", static_cast<int64_t>(l), static_cast<int64_t>(n), a.angular[n][l],
          "");
  for (size_t l = 0; l < a.block_influence.size(); ++l)
    row("block_influence", static_cast<int64_t>(l), 0, a.block_influence[l],
        is_removed("layer", static_cast<int64_t>(l)));
  for (size_t l = 0; l < a.attn_redundancy.size(); ++l)
    row("attn_redundancy", static_cast<int64_t>(l), 0, a.attn_redundancy[l],
        is_removed("attn", static_cast<int64_t>(l)));
  for (size_t l = 0; l < a.mlp_redundancy.size(); ++l)
    row("mlp_redundancy", static_cast<int64_t>(l), 0, a.mlp_redundancy[l],
        is_removed("mlp", static_cast<int64_t>(l)));
  for (const json& s : a.steps)
    for (const json& c : s.at("candidates")) {
      const bool ppl = c.contains("calibration_ppl");
      row(ppl ? "sleb_step_" + std::to_string(s.at("step").get<int>()) + "_ppl"
              : "bi_step_" + std::to_string(s.at("step").get<int>()),
          c.at("layer").get<int64_t>(), 0,
          ppl ? c.at("calibration_ppl").get<double>()
              : (c.at("block_influence").is_number() ? c.at("block_influence").get<double>() : NAN),
          c.at("layer") == s.at("chosen").at("layer") && c.at("kind") == s.at("chosen").at("kind")
              ? "1"
              : "0");
    }
  return out;
}

void write_analysis(const std::string& dir, const DepthAnalysis& a, const PrunePlan& plan) {
  write_json_file(join_path(dir, "analysis.json"), analysis_json(a, plan));
  write_file_atomic(join_path(dir, "analysis.csv"), analysis_csv(a, plan));
  const auto removed = removed_set(plan);
  std::vector<std::string> layer_labels;
  for (int64_t l = 0; l < a.n_layers; ++l) layer_labels.push_back(std::to_string(l));

  if (!a.angular.empty()) {
    HeatmapSpec h;
    h.title = "Angular distance d(l, n) between the input of layer l and of layer l + n";
    h.x_label = "first layer l";
    h.y_label = "block size n";
    h.col_labels = layer_labels;
    for (int64_t n = 1; n <= a.n_layers; ++n) {
      h.row_labels.push_back(std::to_string(n));
      h.values.push_back(
          std::vector<double>(a.angular[static_cast<size_t>(n)].begin(),
                              a.angular[static_cast<size_t>(n)].begin() + a.n_layers));
    }
    if (plan.method == "angular" && !plan.units.empty()) {
      int64_t first = plan.units.front().layer;
      for (const auto& u : plan.units) first = std::min(first, u.layer);
      h.marked.push_back({static_cast<int>(plan.units.size()) - 1, static_cast<int>(first)});
    }
    write_file_atomic(join_path(dir, "angular_distance.svg"), svg_heatmap(h));
  }

  const MethodScores m = method_scores(a, plan);
  BarChartSpec b;
  b.title = m.title;
  b.x_label = "layer";
  b.y_label = m.y_label;
  b.categories = layer_labels;
  for (const auto& [name, values] : m.series) {
    BarSeries s;
    s.name = name;
    s.values = values;
    const std::string kind = name == "attention" ? "attn" : name == "MLP" ? "mlp" : "layer";
    for (int64_t l = 0; l < a.n_layers; ++l)
      s.highlighted.push_back(removed.count({kind, l}) > 0 || removed.count({"layer", l}) > 0);
    b.series.push_back(s);
  }
  b.highlight_label = "removed";
  write_file_atomic(join_path(dir, "scores.svg"), svg_bar_chart(b));
}

}  // namespace llmprune
