// Writing the result of depth pruning (the layout of source 000):
//   A/        config.json (patched), weights (layers renumbered 0.., sharded like the source),
//             tokenizer and generation files, manifest.json, layers_map.json, original_config/,
//             prune_plan.json (+ whatever `extra` writes, e.g. analysis/)
//   BUNDLES/B, BUNDLES/C   layer_NNN.safetensors (removed tensors, original names, original
//             index NNN) and bundle_meta.json
// Both folders appear atomically (written under .partial-PID names, renamed at the end);
// tensors are copied one at a time from the mapped source, bit for bit.
#pragma once

#include <functional>
#include <string>

#include "apply/depth_apply.h"
#include "arch/checkpoint_check.h"
#include "io/safetensors.h"
#include "export/model_files.h"
#include "util/json.h"

namespace llmprune {

struct DepthExport {
  std::string out_dir, bundles_dir;
  bool overwrite = false;
  json manifest_extra = json::object();  // method, parameters, command line, scores...
  // Writes more files into the (temporary) A folder before it is committed.
  std::function<void(const std::string& tmp_dir)> extra;
};

// Returns the manifest written to A.
json export_depth(const CheckpointConfig& source, const TensorStore& store,
                  const DepthLayout& layout, const PrunePlan& plan, const DepthExport& opts);

}  // namespace llmprune
