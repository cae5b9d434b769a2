// Architecture family interface: what one Hugging Face model family (llama, mistral, qwen2,
// phi3, opt) knows that shared code must not: config keys, tensor names, prune groups. Shared
// code talks to a Family through this interface and never switches on its name.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "arch/model_spec.h"
#include "util/json.h"

namespace llmprune {

// Module path components of the HF layout. Parameter names are
// "<model>.<layers>.<i>.<attn>.<q>.weight" etc. An empty `qkv` / `gate_up` means separate
// q/k/v and gate/up projections; a non-empty one means one fused tensor (phi3). An empty
// `gate` and `gate_up` mean a non-gated MLP down(act(up(x))) (OPT fc1 = up, fc2 = down).
// `model` may hold dots ("model.decoder"). `positions`, `project_in`, `project_out` name the
// learned position table and the embedding projections of families that have them (OPT).
struct TensorNaming {
  std::string model, embed, layers, final_norm, lm_head;
  std::string positions, project_in, project_out;
  std::string attn, q, k, v, o, qkv;
  std::string mlp, gate, up, down, gate_up;
  std::string attn_norm, mlp_norm;
  std::string weight = "weight", bias = "bias";

  bool fused_qkv() const { return !qkv.empty(); }
  bool fused_gate_up() const { return !gate_up.empty(); }
  bool gated_mlp() const { return !gate.empty() || !gate_up.empty(); }
  std::string layer_prefix(int64_t layer) const;  // "model.layers.3."
};

// What a tensor is for: shared code (validation, parameter counting) reasons by role.
enum class TensorRole {
  kEmbed, kFinalNorm, kLmHead, kAttnNorm, kMlpNorm,
  kQ, kK, kV, kQkv, kO, kGate, kUp, kGateUp, kDown,
  kPositions, kProjIn, kProjOut,  // learned position table, embedding projections (OPT)
};
const char* role_name(TensorRole role);
bool is_attention_role(TensorRole role);
bool is_mlp_role(TensorRole role);

// One expected checkpoint tensor.
struct TensorInfo {
  std::string name;
  std::vector<int64_t> shape;
  TensorRole role;
  int64_t layer = -1;  // -1 for embeddings, final norm, lm_head
  bool is_bias = false;
  std::string why;     // how the shape follows from the config, for error messages
};

// Width-prunable groups, as compact index ranges (a 7B model has ~350k MLP channels: a group
// is never a list of names). Group i of a set removes, for every rule, the range
// [base + i * length, base + (i + 1) * length) along `axis` of `tensor`; `span` is the tensor's
// extent across the other axis (1 for a vector), so a rule costs length x span parameters.
enum class GroupKind {
  kKvGroup,     // one KV head (k/v rows) with its query heads (q rows) and o_proj columns
  kQueryHead,   // one query head: its q rows and o_proj columns (the KV head stays)
  kMlpChannel,  // gate/up row i and down column i (fused gate_up: rows i and I + i)
  kHidden,      // residual-stream channel i: embedding and lm_head column i, element i of
                // every norm, column i of every projection reading the stream, row i (and
                // bias) of o_proj / down_proj; the same in every layer (layer -1)
};
const char* group_kind_name(GroupKind k);  // "kv-group", "q-head", "channel", "hidden"

struct SliceRule {
  std::string tensor;
  int64_t axis = 0;
  int64_t base = 0;
  int64_t length = 0;
  int64_t span = 1;
};

struct GroupSet {
  GroupKind kind = GroupKind::kKvGroup;
  int64_t layer = 0;
  int64_t count = 0;  // groups 0..count-1
  std::vector<SliceRule> rules;
  int64_t cost() const {  // parameters one group holds (weights and biases)
    int64_t c = 0;
    for (const SliceRule& r : rules) c += r.length * r.span;
    return c;
  }
};

class Family {
 public:
  Family(std::string name, std::vector<std::string> model_types,
         std::vector<std::string> architectures, TensorNaming naming)
      : name_(std::move(name)), model_types_(std::move(model_types)),
        architectures_(std::move(architectures)), naming_(std::move(naming)) {}
  virtual ~Family() = default;
  const std::string& name() const { return name_; }                            // "llama"
  const std::vector<std::string>& model_types() const { return model_types_; } // config values
  const std::vector<std::string>& architectures() const { return architectures_; }
  const TensorNaming& naming() const { return naming_; }

  // config.json -> ModelSpec (uniform layers; the llmprune block is applied by the caller).
  virtual ModelSpec config_to_spec(const json& config, const std::string& config_path) const = 0;
  // ModelSpec -> config.json with the keys transformers writes for this family (uniform
  // values from the spec's first full layer; an "llmprune" block is added by the caller).
  virtual json spec_to_config(const ModelSpec& spec) const = 0;

  // The canonical (table) name of a tensor stored as `stored`: families whose published
  // checkpoints differ in layout map them here (OPT: "decoder.*" -> "model.decoder.*").
  virtual std::string canonical_name(const std::string& stored) const { return stored; }

  // Every tensor the checkpoint of `spec` must hold (lm_head omitted when tied).
  std::vector<TensorInfo> tensors(const ModelSpec& spec) const;
  // The group sets of one layer: KV groups and query heads when it has attention, MLP
  // channels when it has an MLP (in that order).
  std::vector<GroupSet> group_sets(const ModelSpec& spec, int64_t layer) const;
  // The hidden-dimension set (layer -1). bad_input for models whose residual channels cannot be
  // removed exactly: LayerNorm (its mean couples the channels), learned positions or
  // embedding projections (OPT).
  GroupSet hidden_set(const ModelSpec& spec) const;

 private:
  std::string name_;
  std::vector<std::string> model_types_, architectures_;
  TensorNaming naming_;
};

// Built-in families (one .cpp each).
const Family& llama_family();
const Family& mistral_family();
const Family& qwen2_family();
const Family& phi3_family();
const Family& opt_family();

}  // namespace llmprune
