// Checkpoint validation against the family tensor table (see checkpoint_check.h).
#include "arch/checkpoint_check.h"

#include <filesystem>
#include <set>

#include "arch/registry.h"
#include "io/safetensors.h"
#include "util/error.h"
#include "util/fs.h"

namespace llmprune {

std::string shape_str(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

namespace {

// "a, b, c, ... (N in all)"
std::string name_list(const std::vector<std::string>& names, size_t show = 3) {
  std::string s;
  for (size_t i = 0; i < names.size() && i < show; ++i) s += (i ? ", " : "") + names[i];
  if (names.size() > show) s += ", ... (" + std::to_string(names.size()) + " in all)";
  return s;
}

// What the rows of a q/k/qkv weight imply about head counts, for the error message.
std::string implied_heads(const TensorInfo& t, const std::vector<int64_t>& got,
                          const AttentionSpec& a) {
  if (t.is_bias || got.size() != 2 || a.head_dim <= 0) return "";
  const int64_t rows = got[0];
  if (t.role == TensorRole::kQ || t.role == TensorRole::kK) {
    const char* what = t.role == TensorRole::kQ ? "query" : "key/value";
    if (rows % a.head_dim != 0)
      return "; " + std::to_string(rows) + " rows are not a multiple of head_dim " +
             std::to_string(a.head_dim);
    return "; the weights imply " + std::to_string(rows / a.head_dim) + " " + what +
           " heads of head_dim " + std::to_string(a.head_dim);
  }
  return "";
}

}  // namespace

TensorSetCheck validate_tensor_set(const Family& family, const ModelSpec& spec,
                                   const ShapeMap& present, const std::string& where) {
  TensorSetCheck out;
  const TensorNaming& n = family.naming();
  const std::vector<TensorInfo> expected = family.tensors(spec);
  std::set<std::string> expected_names;
  for (const auto& t : expected) expected_names.insert(t.name);

  const std::string lm_head = n.lm_head + "." + n.weight;
  std::vector<std::string> unexpected;
  for (const auto& [name, shape] : present) {
    if (expected_names.count(name)) continue;
    if (spec.tie_word_embeddings && name == lm_head) {
      out.tied_lm_head = name;  // harmless: the embedding is used (transformers does the same)
      continue;
    }
    unexpected.push_back(name);
  }

  // The Qwen2 trap: biases on q/k/v that this family/config would silently drop.
  // Listed in layer order, q/k/v within a layer.
  std::set<std::string> unexpected_set(unexpected.begin(), unexpected.end());
  std::vector<std::string> qkv_biases;
  for (int64_t l = 0; l < spec.n_layers(); ++l) {
    const std::string ap = n.layer_prefix(l) + n.attn + ".";
    for (const auto& proj : {n.q, n.k, n.v, n.qkv}) {
      const std::string name = ap + proj + "." + n.bias;
      if (!proj.empty() && unexpected_set.count(name)) qkv_biases.push_back(name);
    }
  }
  if (!qkv_biases.empty())
    throw bad_input(where, ": checkpoint claims ", spec.model_type.empty() ? family.name()
                                                                           : spec.model_type,
                    " but has tensors ", name_list(qkv_biases),
                    " (qwen2-style q/k/v biases): refusing to drop them");

  std::vector<std::string> missing;
  for (const auto& t : expected)
    if (!present.count(t.name)) missing.push_back(t.name);
  if (!missing.empty())
    throw bad_input(where, ": missing tensor", missing.size() > 1 ? "s " : " ",
                    name_list(missing), " required by the ", family.name(), " config");
  if (!unexpected.empty())
    throw bad_input(where, ": unexpected tensor", unexpected.size() > 1 ? "s " : " ",
                    name_list(unexpected), " not used by a ", family.name(),
                    " model with this config");

  for (const auto& t : expected) {
    const auto& got = present.at(t.name);
    if (got == t.shape) continue;
    std::string layer = t.layer >= 0 ? "layer " + std::to_string(t.layer) + ": " : "";
    std::string extra;
    if (t.layer >= 0 && spec.layers[static_cast<size_t>(t.layer)].attn)
      extra = implied_heads(t, got, *spec.layers[static_cast<size_t>(t.layer)].attn);
    throw bad_input(where, ": ", layer, t.name, " has shape ", shape_str(got),
                    " but the config needs ", shape_str(t.shape), " (", t.why, extra, ")");
  }
  return out;
}

CheckpointConfig read_checkpoint_config(const std::string& dir) {
  CheckpointConfig c;
  c.dir = dir;
  if (!path_exists(dir)) throw bad_input("[model] ", dir, ": no such directory");
  if (!is_directory(dir))
    throw bad_input("[model] ", dir, ": not a directory (expected a Hugging Face checkpoint "
                    "folder with config.json and *.safetensors)");
  c.config_path = join_path(dir, "config.json");
  if (!path_exists(c.config_path))
    throw bad_input("[model] ", dir, ": no config.json (not a Hugging Face checkpoint folder)");
  if (!path_exists(join_path(dir, "model.safetensors")) &&
      !path_exists(join_path(dir, "model.safetensors.index.json"))) {
    std::string hint;
    if (path_exists(join_path(dir, "pytorch_model.bin")) ||
        path_exists(join_path(dir, "pytorch_model.bin.index.json")))
      hint = " (found pytorch_model.bin: only safetensors checkpoints are supported)";
    throw bad_input("[model] ", dir,
                    ": no weights: neither model.safetensors nor model.safetensors.index.json",
                    hint);
  }
  c.config = read_json_file(c.config_path);
  c.family = &detect_family(c.config, c.config_path);
  c.spec = spec_from_config(*c.family, c.config, c.config_path);
  return c;
}

TensorStore open_checkpoint_tensors(const CheckpointConfig& cc) {
  TensorStore store = TensorStore::open(cc.dir);
  const Family& family = *cc.family;
  store.rename([&family](const std::string& name) { return family.canonical_name(name); });
  return store;
}

}  // namespace llmprune
