// Saving a model folder: config.json + safetensors weights (+ tokenizer files copied from
// the source model), written atomically so a failed run leaves nothing half-written.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "io/safetensors.h"
#include "util/json.h"

namespace llmprune {

struct SaveOptions {
  uint64_t max_shard_bytes = 0;     // 0 = one model.safetensors
  bool overwrite = false;           // replace an existing output folder
  // A model folder whose tokenizer files are copied when present (tokenizer.json,
  // tokenizer.model, tokenizer_config.json, special_tokens_map.json, generation_config.json,
  // added_tokens.json, vocab.json, merges.txt). Empty = copy nothing.
  std::string copy_tokenizer_from;
};

// The files save_checkpoint copies from SaveOptions::copy_tokenizer_from.
const std::vector<std::string>& tokenizer_file_names();

// Write `out_dir` = config.json + weights via write_dir_atomic ("<out>.partial-<pid>",
// fsync, rename). An existing out_dir is an error unless opts.overwrite, and even then
// only a folder that looks like a model (has config.json) or is empty is replaced.
void save_checkpoint(const std::string& out_dir, const json& config, const NamedTensors& tensors,
                     const SaveOptions& opts = {});

}  // namespace llmprune
