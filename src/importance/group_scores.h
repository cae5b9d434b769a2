// Group importance for width pruning: a scorer gives one importance value per weight (and
// bias) element; GroupReducer reduces them over the ranges of each group set (arch/family.h)
// with the chosen aggregate (source 001 sums). Sums are kept in double.
#pragma once

#include <torch/torch.h>

#include <map>
#include <string>
#include <vector>

#include "arch/family.h"
#include "plan/set_scores.h"

namespace llmprune {

enum class Aggregate { kSum, kMean, kMax };
Aggregate parse_aggregate(const std::string& s);  // sum | mean | max (bad_input otherwise)
const char* aggregate_name(Aggregate a);


class GroupReducer {
 public:
  // sqrt_after: the group score is the square root of the aggregate (L2 magnitude from W^2).
  GroupReducer(std::vector<GroupSet> sets, Aggregate agg, bool sqrt_after = false);
  // imp: the importance of every element of tensor `name` (same shape as the tensor). Tensors
  // no rule names are ignored.
  void add(const std::string& name, const torch::Tensor& imp);
  std::vector<SetScores> finish() const;

 private:
  std::vector<GroupSet> sets_;
  Aggregate agg_;
  bool sqrt_after_;
  std::vector<std::vector<double>> sum_, max_;
  std::vector<int64_t> elems_;  // elements added per group of each set
  std::map<std::string, std::vector<std::pair<size_t, size_t>>> rules_of_;  // -> (set, rule)
};

}  // namespace llmprune
