// Gradients of the causal-LM loss with respect to every decoder-layer parameter, with bounded
// memory (Taylor importance): one no-grad forward stores each layer's input, then the layers
// are recomputed from the last to the first under autograd, one layer and one gradient batch
// at a time, carrying dL/d(layer input) back (activation checkpointing per layer). Peak memory
// is one layer's weights and gradients plus the stored layer inputs, never the whole model's
// gradients; with a streaming LayerSource only one layer's weights are in RAM.
#pragma once

#include <torch/torch.h>

#include <functional>
#include <string>
#include <vector>

#include "model/layer_source.h"

namespace llmprune {

// The windows are split into gradient batches of `batch_size`; L_b is the mean next-token NLL
// over the scored tokens (1..T-1) of batch b. For each parameter W:
//   grad    = (1 / n_batches) sum_b dL_b/dW   (the gradient of the mean batch loss)
//   grad_sq = (1 / n_batches) sum_b (dL_b/dW)^2  (diagonal empirical Fisher; only if asked)
// accumulated in fp32 (fp64 when the compute dtype is fp64).
struct LayerGradients {
  int64_t layer = 0;
  std::vector<std::string> names;  // HF names
  std::vector<torch::Tensor> weight, grad, grad_sq;
};

struct GradientOptions {
  int64_t batch_size = 1;
  bool fisher = false;  // also accumulate grad_sq
  // Also the embedding, final norm and lm_head (hidden-dimension importance), handed over
  // last as layer -1. A tied head's gradient is added to the embedding's. Needs a model whose
  // embedding output enters layer 0 directly (RoPE, no projections).
  bool edges = false;
  bool progress = true;
  // Training (src/train/) reuses the recomputation with three additions:
  // mask [N, T] (bool or 0/1): token t of a window is scored (as the target of position t-1)
  // only where mask[n][t] is set (column 0 is ignored); L_b is then the mean NLL over the
  // scored tokens of batch b (0 when it has none). Undefined: every token 1..T-1.
  torch::Tensor mask;
  // The tensors differentiated in a layer, under their names (default: the layer's own
  // parameters under HF names). Called each time the layer is fetched from the source.
  std::function<std::vector<std::pair<std::string, torch::Tensor>>(int64_t layer,
                                                                   const DecoderLayerImpl&)>
      trainable;
  // Called after every fetch of layer `l` (before it runs; e.g. to attach adapters) and
  // before each forward of (layer, batch), in both passes (e.g. to reseed dropout so that the
  // recomputation draws the same masks).
  std::function<void(int64_t layer, const DecoderLayerImpl&)> on_fetch;
  std::function<void(int64_t layer, int64_t batch)> before_forward;
};

struct GradientResult {
  double mean_loss = 0;  // mean over batches of L_b
  int64_t scored = 0;    // tokens scored
  int64_t batches = 0;
  double seconds = 0;
};

// windows: [N, T] int64. `on_layer` is called once per layer, last layer first (then once
// for the edges when asked).
GradientResult run_gradients(LayerSource& src, const torch::Tensor& windows,
                             const GradientOptions& opts,
                             const std::function<void(const LayerGradients&)>& on_layer);

}  // namespace llmprune
