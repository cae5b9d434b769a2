// The scores of one group set (plain data shared by the width scorers and planners).
#pragma once

#include <vector>

#include "arch/family.h"

namespace llmprune {

struct SetScores {
  GroupSet set;
  std::vector<double> score;  // one per group of the set
};

}  // namespace llmprune
