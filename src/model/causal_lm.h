// CausalLM: a decoder-only language model built from a ModelSpec, with modules registered
// under Hugging Face names (named_parameters() == checkpoint keys).
//
// CONTRACT (used by eval/, serve/, calib/): the declarations below are stable; the model
// implementation may add members but must keep these signatures and semantics.
#pragma once

#include <torch/torch.h>

#include <functional>
#include <memory>
#include <string>

#include "arch/family.h"
#include "arch/model_spec.h"

namespace llmprune {

class KVCache;  // model/kv_cache.h

struct LoadOptions {
  std::string device = "cpu";  // cpu | cuda | cuda:N
  std::string dtype = "f32";   // compute dtype: f32 | bf16
  // native: the weights in the compute dtype; bf16: bf16 checkpoint tensors stay bf16 under
  // f32 compute (keep_bf16); q8_0: also a Q8_0 copy of every
  // linear weight with a multiple of 32 inputs, which every product then uses
  // (model/linear.h); the native tensors stay as the parameters.
  std::string weights = "native";
  bool check_weights = false;  // count NaN/Inf in every tensor while loading and warn
  // A bf16 tensor loaded for f32 compute stays bf16 (half the memory, half the bytes per
  // decoded token; products widen it exactly, so results are bit-identical to widening at
  // load, but every matmul widens its weight again). Set by weights == "bf16".
  bool keep_bf16 = false;
  // Copy every CPU weight of at least 2 MiB onto huge pages (util/huge_pages.h) instead of
  // using the mapped file's pages in place: decoding reads each weight once per token and
  // reads huge pages up to 1.4x faster; loading pays fresh memory and one copy. Ignored
  // where Linux gives no huge pages, and for weights decoding reads as Q8_0 copies (those
  // are always on huge pages).
  bool huge_pages = false;
};

// Where a hook fires. `layer` is the decoder layer index; for kEmbedding / kFinalNorm -1.
enum class HookPoint {
  kEmbedding,    // input of layer 0: embed_tokens (+ project_in, + learned positions)
  kLayerInput,   // hidden state entering layer `layer`
  kAttnInput,    // input of the attention sub-block (before input_layernorm)
  kAttnOutput,   // hidden state after the attention residual add
  kMlpInput,     // input of the MLP sub-block (before post_attention_layernorm)
  kMlpOutput,    // hidden state after the MLP residual add (= layer output)
  kLayerOutput,  // hidden state leaving layer `layer`
  kFinalNorm,    // input of lm_head: output of the final norm (then project_out, OPT-350m
                 // layout: [B, T, word_embed_proj_dim]; post-LN OPT has no final norm)
  // Inputs of the linear maps (per-linear statistics such as Wanda's input norms):
  kAttnNormed,   // normed input of q/k/v [B, T, hidden] (pre-LN; post-LN: the raw input)
  kAttnContext,  // attention context entering o_proj [B, T, heads x head_dim]
  kMlpNormed,    // normed input of gate/up (fc1) [B, T, hidden]
  kMlpAct,       // activation entering down_proj (fc2) [B, T, intermediate]
};
// Read-only observers: called with [B, T, width] tensors (hidden, except kFinalNorm above, the
// context and the MLP activation); must not modify them. The linear-input points fire only
// where the sub-block exists and runs.
using ForwardHook = std::function<void(HookPoint, int64_t layer, const torch::Tensor&)>;

class CausalLM {
 public:
  virtual ~CausalLM() = default;

  // Load a Hugging Face checkpoint folder: detect and validate the architecture (strict:
  // model_type + architectures + tensor set must agree), build the spec, load weights.
  static std::unique_ptr<CausalLM> load(const std::string& dir, const LoadOptions& opts = {});

  virtual const ModelSpec& spec() const = 0;
  virtual torch::Device device() const = 0;
  virtual torch::ScalarType dtype() const = 0;

  // ids: [B, T] int64 (any device; moved as needed). Returns logits [B, T, vocab] in the
  // compute dtype. With `cache`, positions continue from cache->length() and the cache is
  // extended. `hook` (optional) observes hidden states at every HookPoint.
  virtual torch::Tensor forward(const torch::Tensor& ids, KVCache* cache = nullptr,
                                const ForwardHook* hook = nullptr) = 0;

  // Parameters under their Hugging Face names, e.g. "model.layers.0.self_attn.q_proj.weight".
  virtual std::vector<std::pair<std::string, torch::Tensor>> named_parameters() const = 0;

  // --- additions beyond the original contract -------------------------------------------
  // Build a model for `spec` with uninitialised weights (fill them via named_parameters()).
  static std::unique_ptr<CausalLM> create(const ModelSpec& spec, const LoadOptions& opts = {});
  // Build from in-memory tensors under HF names, validated like a checkpoint (`where`
  // prefixes error messages).
  static std::unique_ptr<CausalLM> from_tensors(
      const ModelSpec& spec, const std::vector<std::pair<std::string, torch::Tensor>>& tensors,
      const LoadOptions& opts = {}, const std::string& where = "[model]");

  virtual const Family& family() const = 0;
  // The final-norm hidden state [B, T, hidden] (forward() without lm_head), and lm_head on
  // it: lets perplexity evaluation project chunk by chunk instead of [B, T, vocab] at once.
  virtual torch::Tensor forward_hidden(const torch::Tensor& ids, KVCache* cache = nullptr,
                                       const ForwardHook* hook = nullptr) = 0;
  virtual torch::Tensor lm_head(const torch::Tensor& hidden) const = 0;
  // The underlying LibTorch module tree (parameter names are the HF names).
  virtual torch::nn::Module& module() = 0;
  // Forward passes do not disable autograd themselves (LoRA training runs through them):
  // wrap inference in torch::NoGradGuard.
};

}  // namespace llmprune
