// `llmprune restore`: put bundles written by depth pruning back into the pruned model, giving
// stage AB (A + B) or FULL (A + B + C) as an ordinary checkpoint. The result is itself
// restorable (its layers_map.json keeps the lineage), so A + B, then + C, also gives FULL.
#pragma once

#include <string>
#include <vector>

#include "util/json.h"

namespace llmprune {

struct RestoreOptions {
  std::string model;                 // A (or an earlier restore of it)
  std::vector<std::string> bundles;  // BUNDLES/B, BUNDLES/C
  std::string out;
  bool overwrite = false;
};

// bad_input: a model without layers_map.json, a bundle made from another model (manifest hash
// mismatch), a bundle already applied (or given twice). Returns a report.
json restore_bundles(const RestoreOptions& opts);

}  // namespace llmprune
