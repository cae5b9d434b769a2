// AdamW (decoupled weight decay, PyTorch's update order) over named tensors, with its moments
// in fp32 (fp64 for fp64 parameters), and the learning-rate schedules (linear warm-up, then
// cosine / linear decay to 0 or constant). Small and written out so that the state saved for
// --resume is exactly what the next step reads.
#pragma once

#include <torch/torch.h>

#include <string>
#include <vector>

namespace llmprune {

struct AdamWOptions {
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0;
};

class AdamW {
 public:
  AdamW(std::vector<std::pair<std::string, torch::Tensor>> params, const AdamWOptions& o);
  // One update with gradients `grads` (same order as the parameters) at learning rate lr.
  void step(const std::vector<torch::Tensor>& grads, double lr);
  int64_t steps() const { return t_; }
  // Moments as named tensors ("m/<name>", "v/<name>") and restoring them (bad_input when a
  // name or shape is missing or differs).
  std::vector<std::pair<std::string, torch::Tensor>> state() const;
  void load_state(const std::vector<std::pair<std::string, torch::Tensor>>& state, int64_t t,
                  const std::string& where);
  const std::vector<std::pair<std::string, torch::Tensor>>& params() const { return params_; }

 private:
  std::vector<std::pair<std::string, torch::Tensor>> params_;
  std::vector<torch::Tensor> m_, v_;
  AdamWOptions o_;
  int64_t t_ = 0;
};

// Global L2 norm of the gradients; when max_norm > 0 and the norm exceeds it, scales them by
// max_norm / (norm + 1e-6) in place (PyTorch's clip_grad_norm_). Returns the norm before.
double clip_grad_norm(std::vector<torch::Tensor>& grads, double max_norm);

// The learning rate at optimizer step `step` (0-based) of `total`: linear warm-up from 0 over
// `warmup` steps, then "cosine" (half cosine to 0), "linear" (to 0) or "constant".
double scheduled_lr(const std::string& kind, double base, int64_t step, int64_t warmup,
                    int64_t total);

}  // namespace llmprune
