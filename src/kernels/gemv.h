// Matrix-vector products for token-by-token decoding: y = x W^T (+ b) for a few activation
// rows x, reading every weight once. Decoding is bound by how fast the weights stream from
// memory, so the kernels read them in their stored form (f32, bf16, or Q8_0 blocks) and
// accumulate in f32; rows of W are split over LibTorch's intra-op threads. Runtime dispatch
// picks AVX-512 (BF16 dot products, VNNI) or AVX2+FMA kernels, with a scalar fallback.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace llmprune::kernels {

enum class WeightKind { kF32, kBF16, kQ8_0 };

// A read-only view of one weight matrix [rows, cols] (rows = outputs, cols = inputs).
// kF32 / kBF16: row-major values (bf16 as raw 16-bit patterns). kQ8_0: see q8_weight.h
// (int8 blocks of 32 in the kernel's interleaved layout with their fp16 scales).
struct WeightView {
  WeightKind kind = WeightKind::kF32;
  int64_t rows = 0, cols = 0;
  const void* data = nullptr;
  int64_t padded_cols = 0;  // kQ8_0 only: cols rounded up to the interleave group
};

// How the activations arrive: f32 values, or bf16 values (then x_bf16 holds the raw bits and
// x_f32 may be null: the BF16 weight kernel multiplies bf16 by bf16 exactly, as a bf16
// matmul does).
struct Activations {
  int64_t n = 0;                   // rows of x (tokens), small
  const float* f32 = nullptr;      // [n, cols]
  const uint16_t* bf16 = nullptr;  // [n, cols], when the values are bf16
};

// y [n, rows] (f32) = x W^T + bias (bias f32 [rows] or null).
void gemv(const WeightView& w, const Activations& x, const float* bias, float* y);

// Several products of the same activations (q, k and v; gate and up) in one pass: one
// parallel region whose threads share the rows of all of them, so the threads meet once
// instead of once per product. The weights must have the same kind and columns.
struct GemvTask {
  WeightView w;
  const float* bias = nullptr;  // f32 [w.rows] or null
  float* y = nullptr;           // [n, w.rows]
  // Optional [n, w.rows]: y rounded to bf16 (to nearest even, as c10::BFloat16), written by
  // the thread that computed the rows, so bf16 outputs cost no extra pass.
  uint16_t* y_bf16 = nullptr;
};
void gemv(const std::vector<GemvTask>& tasks, const Activations& x);

// The kernel gemv() uses for this weight kind and activation form on this CPU, e.g.
// "avx512_bf16", "avx512", "avx512_vnni", "avx2", "scalar".
std::string gemv_kernel_name(WeightKind kind, bool bf16_activations);

// The widest instruction set the kernels may use (process-wide; default: all the CPU has).
// Tests run every level the CPU supports; benchmarks show what an AVX2-only CPU would get.
enum class KernelLevel { kScalar, kAvx2, kAvx512 };
void set_kernel_limit(KernelLevel level);
KernelLevel kernel_limit();
// The widest level both this CPU (AVX-512 F/BW/VL; AVX2+FMA+F16C) and the limit allow: what
// the kernels outside the GEMV (row_ops.h, activation.h) run at.
KernelLevel kernel_level();

}  // namespace llmprune::kernels
