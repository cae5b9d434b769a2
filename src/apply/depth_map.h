// A depth-pruned model read back for `restore` and the staged model: its layers_map.json
// (original layer of each kept layer, sub-blocks present, manifest hash, bundles already
// restored), the source spec from original_config/, and its tensors under original names.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "arch/checkpoint_check.h"
#include "io/safetensors.h"
#include "plan/prune_plan.h"
#include "util/error.h"
#include "util/json.h"

namespace llmprune {

struct DepthMap {
  std::string dir, map_path, original_path;
  json layers_map;                   // the file as read
  std::string manifest_sha;          // bundles must carry the same (bundle_meta.json)
  CheckpointConfig pruned;           // the model's own config
  json original_config;              // original_config/config.json
  const Family* family = nullptr;    // of the source
  ModelSpec source;                  // the unpruned model
  DepthState state;                  // sub-blocks the model holds, per original layer
  std::vector<int64_t> original_of;  // the model's layer i is the source's original_of[i]
  std::set<std::string> restored;    // bundles already folded into the model ("restored")
};

// Reads `dir`/layers_map.json (which must exist: callers say what is missing) and
// original_config/config.json; bad_input naming the file, key and value, prefixed by `tag`
// ("[restore]", "[staged]"), when they are malformed or disagree with the model.
DepthMap read_depth_map(const std::string& dir, const std::string& tag);

// Original tensor name -> name in `store` (the model's tensors): layer tensors renamed from
// the model's layer index to the original one, the others as they are.
std::map<std::string, std::string> original_tensor_names(const DepthMap& m,
                                                         const TensorStore& store);

// j[key] as T; bad_input "<tag> <file>: missing "key"" or "... has the wrong type: <value>".
template <typename T>
T json_get(const json& j, const char* key, const std::string& file, const std::string& tag) {
  if (!j.is_object() || !j.contains(key))
    throw bad_input(tag, " ", file, ": missing \"", key, "\"");
  try {
    return j.at(key).get<T>();
  } catch (const json::exception&) {
    throw bad_input(tag, " ", file, ": \"", key, "\" has the wrong type: ", j.at(key).dump());
  }
}

}  // namespace llmprune
