// Dot products and scaled row sums for attention over a KV cache (one query at a time): f32
// arithmetic, bf16 rows widened exactly. AVX-512, AVX2+FMA or scalar, chosen at run time under
// the same instruction-set limit as the GEMV kernels (gemv.h: set_kernel_limit).
#pragma once

#include <cstdint>

namespace llmprune::kernels {

float dot(const float* a, const float* b, int64_t n);
float dot(const float* a, const uint16_t* b_bf16, int64_t n);
void axpy(float alpha, const float* x, float* y, int64_t n);          // y += alpha x
void axpy(float alpha, const uint16_t* x_bf16, float* y, int64_t n);  // y += alpha x

}  // namespace llmprune::kernels
