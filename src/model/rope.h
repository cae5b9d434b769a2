// Rotary position embedding (transformers' rotate_half convention): inverse frequencies
// for the default, linear, llama3 and yarn variants, and the rotation itself, optionally on
// the first rot_dim = head_dim * partial_rotary_factor dimensions only.
#pragma once

#include <torch/torch.h>

#include <vector>

#include "arch/model_spec.h"

namespace llmprune {

struct RopeFrequencies {
  std::vector<double> inv_freq;    // rot_dim / 2 entries
  double attention_scaling = 1.0;  // yarn multiplies cos and sin by this
  int64_t rot_dim = 0;
};

// Same formulas as transformers' ROPE_INIT_FUNCTIONS (computed in double).
RopeFrequencies rope_frequencies(const RopeSpec& rope, int64_t head_dim);

// cos/sin of positions [start, start + len): each [len, rot_dim / 2] in `dtype` on `device`.
struct RopeTable {
  torch::Tensor cos, sin;
  int64_t rot_dim = 0;
};
RopeTable rope_table(const RopeFrequencies& f, int64_t start, int64_t len, torch::ScalarType dtype,
                     torch::Device device);

// x: [B, H, T, head_dim]; returns the rotated tensor (new memory).
torch::Tensor apply_rope(const torch::Tensor& x, const RopeTable& t);

// Decoding, one position per sequence: the heads of x [B, 1, heads * head_dim] (rows with a
// contiguous last dim; a column slice of a fused projection is fine) rotated by row 0 of t
// (null or rot_dim 0: copied unchanged) and written wherever the caller says: head h of
// sequence b at out + b * out_b + h * out_h elements (a contiguous [B, heads, head_dim] block,
// or the KV cache row of the new position). Rounds exactly as apply_rope. Applies where
// rope_decode_rows_apply says: CPU, f32 or bf16 (the table in the same dtype), no gradient.
bool rope_decode_rows_apply(const torch::Tensor& x, const RopeTable* t);
void rope_decode_rows(const torch::Tensor& x, int64_t heads, const RopeTable* t, void* out,
                      int64_t out_b, int64_t out_h);
// Whether t (null or rot_dim 0: no rotation) serves decoding in `dtype`: one CPU row.
bool rope_decode_table_ok(const RopeTable* t, torch::ScalarType dtype);
// rope_decode_rows for one sequence on raw bf16 values (model/decode_token.h): `heads` rows of
// head_dim at x, head h written at out + h * out_h; t as rope_decode_table_ok accepts.
void rope_decode_heads_bf16(const uint16_t* x, int64_t heads, int64_t head_dim, const RopeTable* t,
                            uint16_t* out, int64_t out_h);

}  // namespace llmprune
