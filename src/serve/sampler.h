// Next-token selection: greedy (temperature 0) or sampling with temperature, top-k and
// top-p (nucleus), from a seeded generator so runs are reproducible.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <random>

namespace llmprune {

struct SamplingOptions {
  double temperature = 0.0;  // 0 = greedy argmax
  int64_t top_k = 0;         // 0 = no top-k cut
  double top_p = 1.0;        // 1 = no nucleus cut
  uint64_t seed = 0;
};

class Sampler {
 public:
  // Throws bad_input for temperature < 0, top_k < 0, top_p outside (0, 1].
  explicit Sampler(const SamplingOptions& opts);
  // logits: [vocab] (any dtype/device). Returns the chosen token id: the argmax when greedy,
  // else draw(distribution(logits)).
  int64_t sample(const torch::Tensor& logits);
  // The sampling distribution after temperature, top-k and top-p: [vocab] double on the CPU,
  // zero outside the kept tokens, summing to 1. Needs temperature > 0.
  torch::Tensor distribution(const torch::Tensor& logits) const;
  // One token from a probability vector [vocab] (double, CPU), using one uniform draw.
  int64_t draw(const torch::Tensor& probs);
  const SamplingOptions& options() const { return opts_; }

 private:
  SamplingOptions opts_;
  std::mt19937_64 rng_;
};

}  // namespace llmprune
