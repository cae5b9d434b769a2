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
#include "util/json.h"

namespace llmprune {

struct DepthExport {
  std::string out_dir, bundles_dir;
  bool overwrite = false;
  json manifest_extra = json::object();  // method, parameters, command line, scores...
  // Writes more files into the (temporary) A folder before it is committed.
  std::function<void(const std::string& tmp_dir)> extra;
};

// Refuses (bad_input) an output folder equal to, inside, or containing the source, and the
// two outputs inside each other.
void check_output_paths(const std::string& source_dir, const std::vector<std::string>& outputs);

// Weight files of a checkpoint folder: name, bytes, sha256 (the index file included).
json weight_file_hashes(const std::string& dir, const TensorStore& store);

// Returns the manifest written to A.
json export_depth(const CheckpointConfig& source, const TensorStore& store,
                  const DepthLayout& layout, const PrunePlan& plan, const DepthExport& opts);

// Copy `names` (source name -> output name) from `store` into folder `dir` with the streaming
// writer, one tensor in memory at a time; returns the files written.
std::vector<WrittenFile> copy_tensors(const TensorStore& store,
                                      const std::vector<std::pair<std::string, std::string>>& names,
                                      const std::string& dir, const SafetensorsWriteOptions& opts,
                                      const std::string& progress_label);

// Shard size that reproduces the source's sharding (0 = one file): its largest shard.
uint64_t source_shard_bytes(const std::string& dir, const TensorStore& store);

// Copies tokenizer and generation files from `from` into `to`; returns their names.
std::vector<std::string> copy_tokenizer_files(const std::string& from, const std::string& to);

}  // namespace llmprune
