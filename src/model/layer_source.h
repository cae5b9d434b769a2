// LayerSource: the layer-granular API (docs/DESIGN.md). A checkpoint opened and validated
// like CausalLM::load, whose decoder layers are built, loaded, run and dropped one at a time,
// with the embedding, final norm and lm_head on demand. Calibration and scoring run through
// it so that `--stream` holds one layer's weights instead of the whole model; `resident`
// keeps every part once loaded (the in-memory mode).
#pragma once

#include <torch/torch.h>

#include <map>
#include <memory>
#include <optional>
#include <string>

#include "arch/checkpoint_check.h"
#include "io/safetensors.h"
#include "model/causal_lm.h"
#include "model/decoder_layer.h"
#include "model/rope.h"

namespace llmprune {

class LayerSource {
 public:
  LayerSource(const std::string& dir, const LoadOptions& opts, bool resident);

  const ModelSpec& spec() const { return cc_.spec; }
  const Family& family() const { return *cc_.family; }
  const CheckpointConfig& checkpoint() const { return cc_; }
  const TensorStore& store() const { return store_; }
  torch::Device device() const { return device_; }
  torch::ScalarType dtype() const { return dtype_; }
  bool resident() const { return resident_; }
  // Before anything is loaded: keep every part once loaded (true) or stream (false).
  void set_resident(bool resident) { resident_ = resident; }

  // ids [B, T] at positions 0..T-1 -> hidden [B, T, hidden] in the compute dtype (token
  // embedding, project_in and learned positions where the model has them).
  torch::Tensor embed(const torch::Tensor& ids);
  // Decoder layer `i`, built and loaded on first use (kept until release() unless resident).
  const DecoderLayerImpl& layer(int64_t i);
  // Final norm (where the model has one) and project_out: hidden [B, T, hidden] -> the input
  // of lm_head; lm_head -> logits [B, T, vocab] (compute dtype).
  torch::Tensor final_norm(const torch::Tensor& x);
  torch::Tensor lm_head(const torch::Tensor& normed);
  // The loaded head parameters under their checkpoint names: the final norm's weight and
  // lm_head's (a tied head appears under the embedding's name). For gradients through them.
  std::vector<std::pair<std::string, torch::Tensor>> head_parameters() const;
  // Drop what a streamed pass no longer needs (no-op when resident).
  void release_layer(int64_t i);
  void release_edges();  // embedding, final norm, lm_head
  // cos/sin for positions 0..T-1 of layers with this head_dim (cached per head_dim and T);
  // an empty table (rot_dim 0: no rotation) for models with learned positions.
  const RopeTable& rope(int64_t head_dim, int64_t T);
  // Bytes of the weights in the compute dtype (the in-memory footprint).
  uint64_t weight_bytes() const;

 private:
  torch::Tensor fetch(const std::string& name) const;  // compute dtype, on device
  void fill(torch::nn::Module& m, const std::string& prefix) const;

  CheckpointConfig cc_;
  TensorStore store_;
  torch::Device device_;
  torch::ScalarType dtype_;
  bool resident_;
  std::map<int64_t, DecoderLayer> layers_;
  std::optional<Embedding> embed_, positions_;
  std::optional<Linear> project_in_, project_out_;
  std::optional<Norm> norm_;
  std::optional<Linear> head_;
  torch::Tensor tied_head_;
  std::map<std::pair<int64_t, int64_t>, RopeTable> rope_;
};

}  // namespace llmprune
