// Writing the result of width pruning: one model folder, atomically (written under a
// .partial-PID name, renamed at the end), tensors streamed one at a time from the mapped source
// and sliced on the way (a 7B model is never in RAM):
//   OUT/  config.json (stock keys when every layer has the same shape, plus the "llmprune"
//         per-layer block otherwise), weights (sharded like the source), tokenizer and
//         generation files, original_config/, prune_plan.json, manifest.json (+ `extra`).
#pragma once

#include <functional>
#include <string>

#include "apply/width_apply.h"
#include "arch/checkpoint_check.h"
#include "io/safetensors.h"
#include "plan/prune_plan.h"
#include "util/json.h"

namespace llmprune {

struct WidthExport {
  std::string out_dir;
  bool overwrite = false;
  json manifest_extra = json::object();
  std::function<void(const std::string& tmp_dir)> extra;  // more files before the commit
};

// Returns the manifest written.
json export_width(const CheckpointConfig& source, const TensorStore& store,
                  const WidthLayout& layout, const PrunePlan& plan, const WidthExport& opts);

}  // namespace llmprune
