// DecoderLM: the CausalLM implementation. Module tree registered under the family's HF
// names: <model>.{<embed>, <positions>, <project_in/out>, <layers>.<i>..., <norm>} and
// <lm_head> (absent when tied); <model> may be a dotted path ("model.decoder").
#pragma once

#include <torch/torch.h>

#include <map>
#include <mutex>

#include "arch/family.h"
#include "model/causal_lm.h"
#include "model/decoder_layer.h"
#include "model/modules.h"
#include "model/rope.h"

namespace llmprune {

class DecoderModelImpl : public torch::nn::Module {
 public:
  DecoderModelImpl(const ModelSpec& spec, const TensorNaming& names,
                   const torch::TensorOptions& opts);
  Embedding embed{nullptr};
  Embedding positions{nullptr};                      // learned absolute positions (OPT)
  Linear project_in{nullptr}, project_out{nullptr};  // embed_dim <-> hidden_size (OPT-350m)
  torch::nn::ModuleList layers{nullptr};
  Norm norm{nullptr};  // null when the spec has no final norm

  // Token ids (on the model's device) at positions past..past+T-1 -> hidden [B, T, hidden]:
  // embedding, project_in, learned positions.
  torch::Tensor embed_forward(const torch::Tensor& ids, int64_t past) const;
  // Final norm then project_out: hidden -> the input of lm_head.
  torch::Tensor head_input(const torch::Tensor& x) const;

 private:
  int64_t position_offset_ = 0, max_positions_ = 0;
  torch::ScalarType dtype_;  // compute dtype (bf16 weights of an f32 model are widened)
};
TORCH_MODULE(DecoderModel);

class LmRootImpl : public torch::nn::Module {
 public:
  LmRootImpl(const ModelSpec& spec, const TensorNaming& names, const torch::TensorOptions& opts);
  DecoderModel model{nullptr};  // registered under the (possibly dotted) <model> path
  Linear lm_head{nullptr};      // null when tie_word_embeddings
};
TORCH_MODULE(LmRoot);

// One entry of a layer schedule: run layer `index` of the model with `mask` (staged serving).
struct ScheduledLayer {
  int64_t index = 0;
  SubBlockMask mask;
};

class DecoderLM : public CausalLM {
 public:
  DecoderLM(const ModelSpec& spec, const Family& family, torch::Device device,
            torch::ScalarType dtype);

  const ModelSpec& spec() const override { return spec_; }
  torch::Device device() const override { return device_; }
  torch::ScalarType dtype() const override { return dtype_; }
  const Family& family() const override { return *family_; }
  torch::Tensor forward(const torch::Tensor& ids, KVCache* cache, const ForwardHook* hook) override;
  torch::Tensor forward_hidden(const torch::Tensor& ids, KVCache* cache,
                               const ForwardHook* hook) override;
  torch::Tensor lm_head(const torch::Tensor& hidden) const override;
  // forward_hidden over a schedule of this model's layers instead of all of them (one set of
  // weights, several depths: src/serve/staged_model.h). Cache slot j belongs to schedule[j]:
  // build the cache from a spec whose layers are the scheduled ones, in order.
  torch::Tensor forward_hidden_schedule(const torch::Tensor& ids,
                                        const std::vector<ScheduledLayer>& schedule, KVCache* cache,
                                        const ForwardHook* hook = nullptr);
  std::vector<std::pair<std::string, torch::Tensor>> named_parameters() const override;
  torch::nn::Module& module() override { return *root_; }
  // Q8_0 copies of every linear weight whose input width is a multiple of 32 (and of a tied
  // lm_head), read by decoding instead of the weights. Returns {maps quantized, their bytes}.
  std::pair<int64_t, int64_t> quantize_q8_0();
  // Bytes of the weights one decoding step multiplies by, as decoding reads them (Q8_0
  // copies where present; lm_head included, the embedding table not).
  int64_t decode_weight_bytes() const;

 private:
  ModelSpec spec_;
  const Family* family_;
  torch::Device device_;
  torch::ScalarType dtype_;
  LmRoot root_{nullptr};
  // cos/sin of positions past..past+T-1 for one head_dim: narrowed from a table of positions
  // 0..n made once and grown (doubling) when a sequence outgrows it; equal element for element
  // to rope_table(f, past, T) (each position is computed on its own). Thread-safe.
  RopeTable rope_rows(int64_t head_dim, int64_t past, int64_t T);

  std::map<int64_t, RopeFrequencies> rope_;  // by head_dim (layers may differ)
  std::mutex rope_mu_;
  std::map<int64_t, RopeTable> rope_tables_;               // positions 0..n, by head_dim
  std::shared_ptr<const kernels::Q8Weight> tied_head_q8_;  // tied lm_head's Q8_0 copy
};

}  // namespace llmprune
