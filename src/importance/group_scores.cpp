// Group reduction of element importance (see group_scores.h).
#include "importance/group_scores.h"

#include <cmath>

#include "util/error.h"

namespace llmprune {

Aggregate parse_aggregate(const std::string& s) {
  if (s == "sum") return Aggregate::kSum;
  if (s == "mean") return Aggregate::kMean;
  if (s == "max") return Aggregate::kMax;
  throw bad_input("--aggregate must be sum, mean or max, got '", s, "'");
}

const char* aggregate_name(Aggregate a) {
  switch (a) {
    case Aggregate::kSum: return "sum";
    case Aggregate::kMean: return "mean";
    case Aggregate::kMax: return "max";
  }
  return "?";
}

GroupReducer::GroupReducer(std::vector<GroupSet> sets, Aggregate agg, bool sqrt_after)
    : sets_(std::move(sets)), agg_(agg), sqrt_after_(sqrt_after) {
  for (size_t s = 0; s < sets_.size(); ++s) {
    const size_t n = static_cast<size_t>(sets_[s].count);
    sum_.emplace_back(n, 0.0);
    max_.emplace_back(n, 0.0);
    elems_.push_back(0);
    for (size_t r = 0; r < sets_[s].rules.size(); ++r)
      rules_of_[sets_[s].rules[r].tensor].emplace_back(s, r);
  }
}

void GroupReducer::add(const std::string& name, const torch::Tensor& imp) {
  auto it = rules_of_.find(name);
  if (it == rules_of_.end()) return;
  for (const auto& [s, r] : it->second) {
    const GroupSet& set = sets_[s];
    const SliceRule& rule = set.rules[r];
    // [count * length] along the axis -> [count, length x span] rows of one group each.
    torch::Tensor t = imp.narrow(rule.axis, rule.base, set.count * rule.length);
    if (rule.axis == 1) t = t.transpose(0, 1);
    t = t.reshape({set.count, -1}).to(torch::kDouble);
    LLMPRUNE_ASSERT(t.size(1) == rule.length * rule.span, "group rule of ", name, ": ",
                    t.size(1), " elements per group, expected ", rule.length * rule.span);
    const torch::Tensor sums = t.sum(1).contiguous(), maxs = std::get<0>(t.max(1)).contiguous();
    const double* ps = sums.data_ptr<double>();
    const double* pm = maxs.data_ptr<double>();
    for (int64_t g = 0; g < set.count; ++g) {
      sum_[s][static_cast<size_t>(g)] += ps[g];
      max_[s][static_cast<size_t>(g)] = std::max(max_[s][static_cast<size_t>(g)], pm[g]);
    }
    elems_[s] += t.size(1);
  }
}

std::vector<SetScores> GroupReducer::finish() const {
  std::vector<SetScores> out;
  for (size_t s = 0; s < sets_.size(); ++s) {
    SetScores sc{sets_[s], {}};
    for (size_t g = 0; g < sum_[s].size(); ++g) {
      double v = agg_ == Aggregate::kMax ? max_[s][g]
                 : agg_ == Aggregate::kSum
                     ? sum_[s][g]
                     : sum_[s][g] / static_cast<double>(std::max<int64_t>(1, elems_[s]));
      sc.score.push_back(sqrt_after_ ? std::sqrt(v) : v);
    }
    out.push_back(std::move(sc));
  }
  return out;
}

}  // namespace llmprune
