// The one linear map of the model, y = x W^T (+ b): through the GEMV kernels
// (kernels/gemv.h) when no gradient is wanted and x has at most kGemvMaxRows rows (decoding,
// speculative verification), through LibTorch's matmul otherwise (prefill, training).
// Weights may be f32 or bf16 (bf16 weights with f32 activations are widened exactly), or a
// Q8_0 copy: then the kernel takes any number of rows without gradients (prefill too; widening
// the whole matrix per call costs more), and the matmul path, for gradients or with the GEMV
// path switched off, widens it per call. The result has the activations' dtype.
#pragma once

#include <torch/torch.h>

#include <vector>

#include "kernels/q8_weight.h"

namespace llmprune {

constexpr int64_t kGemvMaxRows = 8;

torch::Tensor linear_forward(const torch::Tensor& x, const torch::Tensor& weight,
                             const torch::Tensor& bias, const kernels::Q8Weight* q8 = nullptr);

// Several maps of the same x (q, k and v; gate and up), each result as linear_forward's. On
// the GEMV path they run as one kernel call (kernels::gemv over tasks: the threads meet once).
struct LinearParams {
  torch::Tensor weight, bias;
  const kernels::Q8Weight* q8 = nullptr;
};
std::vector<torch::Tensor> linear_forward_group(const torch::Tensor& x,
                                                const std::vector<LinearParams>& maps);

// One-token decoding on raw bf16 buffers (model/decode_token.h): whether map m takes the GEMV
// kernels with bf16 activations of width `cols` (the GEMV path on; a CPU bf16 weight,
// contiguous, or a Q8_0 copy; a CPU bias, contiguous, bf16 or f32; no gradient wanted), and
// the kernels' view of its weights. The products are the ones linear_forward computes.
bool raw_gemv_applies(const LinearParams& m, int64_t cols);
kernels::WeightView raw_gemv_view(const LinearParams& m);

// Process-wide switch for the GEMV path (benchmarks compare against LibTorch's matmul).
void set_gemv_enabled(bool on);
bool gemv_enabled();

// A Q8_0 copy of a [rows, cols] weight (cols a multiple of 32) for linear_forward.
std::shared_ptr<const kernels::Q8Weight> make_q8_weight(const torch::Tensor& weight);

}  // namespace llmprune
