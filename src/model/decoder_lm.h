// DecoderLM: the CausalLM implementation. Module tree registered under the family's HF
// names: <model>.{<embed>, <layers>.<i>..., <norm>} and <lm_head> (absent when tied).
#pragma once

#include <torch/torch.h>

#include <map>

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
  torch::nn::ModuleList layers{nullptr};
  RmsNorm norm{nullptr};
};
TORCH_MODULE(DecoderModel);

class LmRootImpl : public torch::nn::Module {
 public:
  LmRootImpl(const ModelSpec& spec, const TensorNaming& names, const torch::TensorOptions& opts);
  DecoderModel model{nullptr};
  Linear lm_head{nullptr};  // null when tie_word_embeddings
};
TORCH_MODULE(LmRoot);

class DecoderLM : public CausalLM {
 public:
  DecoderLM(const ModelSpec& spec, const Family& family, torch::Device device,
            torch::ScalarType dtype);

  const ModelSpec& spec() const override { return spec_; }
  torch::Device device() const override { return device_; }
  torch::ScalarType dtype() const override { return dtype_; }
  const Family& family() const override { return *family_; }
  torch::Tensor forward(const torch::Tensor& ids, KVCache* cache,
                        const ForwardHook* hook) override;
  torch::Tensor forward_hidden(const torch::Tensor& ids, KVCache* cache,
                               const ForwardHook* hook) override;
  torch::Tensor lm_head(const torch::Tensor& hidden) const override;
  std::vector<std::pair<std::string, torch::Tensor>> named_parameters() const override;
  torch::nn::Module& module() override { return *root_; }

 private:
  ModelSpec spec_;
  const Family* family_;
  torch::Device device_;
  torch::ScalarType dtype_;
  LmRoot root_{nullptr};
  std::map<int64_t, RopeFrequencies> rope_;  // by head_dim (layers may differ)
};

}  // namespace llmprune
