// Rotary position embedding (transformers' rotate_half convention): inverse frequencies
// for the default, linear, llama3 and yarn variants, and the rotation itself, optionally on
// the first rot_dim = head_dim * partial_rotary_factor dimensions only.
#pragma once

#include <torch/torch.h>

#include <vector>

#include "arch/model_spec.h"

namespace llmprune {

struct RopeFrequencies {
  std::vector<double> inv_freq;     // rot_dim / 2 entries
  double attention_scaling = 1.0;   // yarn multiplies cos and sin by this
  int64_t rot_dim = 0;
};

// Same formulas as transformers' ROPE_INIT_FUNCTIONS (computed in double).
RopeFrequencies rope_frequencies(const RopeSpec& rope, int64_t head_dim);

// cos/sin of positions [start, start + len): each [len, rot_dim / 2] in `dtype` on `device`.
struct RopeTable {
  torch::Tensor cos, sin;
  int64_t rot_dim = 0;
};
RopeTable rope_table(const RopeFrequencies& f, int64_t start, int64_t len,
                     torch::ScalarType dtype, torch::Device device);

// x: [B, H, T, head_dim]; returns the rotated tensor (new memory).
torch::Tensor apply_rope(const torch::Tensor& x, const RopeTable& t);

}  // namespace llmprune
