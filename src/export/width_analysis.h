// The analysis written beside a width-pruned model (source 001's output set):
// pruning_analysis.json (per layer: groups and parameters before and after, importance
// statistics, constraints that bound), global_group_table.csv (one row per group in play) and
// two plots: the kept fraction of heads and channels per layer, and the distribution of group
// scores per kind.
#pragma once

#include <string>

#include "arch/model_spec.h"
#include "plan/prune_plan.h"
#include "plan/width_planner.h"
#include "util/json.h"

namespace llmprune {

struct WidthAnalysis {
  ModelSpec before, after;
  WidthSelection selection;
  json run = json::object();  // importance / calibration facts and PPL, copied as is
};

json width_analysis_json(const WidthAnalysis& a);
std::string group_table_csv(const WidthSelection& s);
// pruning_analysis.json, global_group_table.csv, kept_fraction.svg, group_scores.svg.
void write_width_analysis(const std::string& dir, const WidthAnalysis& a);

}  // namespace llmprune
