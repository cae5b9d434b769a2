// Pieces every model-writing stage shares: output-path checks, source hashes for manifests,
// the source's sharding, tokenizer files, and copying tensors through the streaming writer.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "io/safetensors.h"
#include "util/json.h"

namespace llmprune {

// Refuses (bad_input) an output folder equal to, inside, or containing the source, and the
// two outputs inside each other.
void check_output_paths(const std::string& source_dir, const std::vector<std::string>& outputs);

// Weight files of a checkpoint folder: name, bytes, sha256 (the index file included).
json weight_file_hashes(const std::string& dir, const TensorStore& store);

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

// Absolute, normalised path (symlinks resolved where they exist), for manifests.
std::string canonical_path(const std::string& p);
// "2026-12-01T18:00:00Z"
std::string utc_now();
// [{"file", "bytes", "sha256"}] of written files.
json files_json(const std::vector<WrittenFile>& files);

}  // namespace llmprune
