// RMSNorm rows on the CPU in one pass per row, rounding where transformers' LlamaRMSNorm
// ops round (LibTorch's eight ops on a [512, 2048] bf16 block took 3.4 ms on 2 threads,
// about 9 % of a TinyLlama prefill): h = x in f32, r = 1 / sqrt(mean(h^2) + eps) in f32,
// y = h r rounded to the input dtype, then weight x y rounded to it. Only the f32 sum of
// squares differs from LibTorch's (order, fused multiply-adds). AVX-512 or scalar
// (kernel_level(); AVX2-only CPUs compute in f32, where the scalar loop is enough).
#pragma once

#include <cstdint>

namespace llmprune::kernels {

// rows x cols; x and out rows `x_stride` / `cols` apart; weight [cols] or null (no affine).
void rms_norm(const float* x, int64_t x_stride, const float* weight, float eps, int64_t rows,
              int64_t cols, float* out);
// bf16 bit patterns.
void rms_norm(const uint16_t* x, int64_t x_stride, const uint16_t* weight, float eps, int64_t rows,
              int64_t cols, uint16_t* out);

}  // namespace llmprune::kernels
