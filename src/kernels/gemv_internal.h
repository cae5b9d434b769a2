// Internal to the GEMV kernels: the activations in every form a kernel reads, and the
// per-ISA row kernels. A row kernel writes y[m * w.rows + r] for rows r in [r0, r1) and every
// activation row m (no bias).
#pragma once

#include <cstdint>
#include <cstring>

#include "kernels/gemv.h"

namespace llmprune::kernels::detail {

// A bf16 bit pattern widened to f32 (exact).
inline float bf16_to_f32(uint16_t h) {
  const uint32_t bits = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

// f32 -> bf16 as c10::BFloat16 converts: to nearest even, every NaN to 0x7FC0.
inline uint16_t to_bf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if (f != f) return 0x7FC0;
  return static_cast<uint16_t>((u + 0x7FFF + ((u >> 16) & 1)) >> 16);
}

struct Prepared {
  int64_t n = 0, cols = 0;
  const float* f32 = nullptr;      // [n, cols]
  const uint16_t* bf16 = nullptr;  // [n, cols] when the activations are bf16
  // Q8_0 activations for Q8_0 weights: int8 in the weights' interleaved layout
  // [n, padded_cols], per-block scale [n, blocks] and 128 x the block's sum of q [n, blocks].
  const int8_t* q = nullptr;
  const float* qd = nullptr;
  const int32_t* qsum128 = nullptr;
};

using RowKernel = void (*)(const WeightView& w, const Prepared& x, int64_t r0, int64_t r1,
                           float* y);

// Q8_0 quantization of one activation row of `cols` values (a multiple of 32; f32, or bf16
// when f32 is null) into the weights' interleaved layout: block b's scale d[b] = max|x| / 127,
// its quants round(x / d) (ties away from zero, util/q8_0.h) at byte 64 s + 4 (b % 16) + t of
// group b / 16 for element 4 s + t, and sum128[b] = 128 x their sum. The padding past `cols`
// is left as it is.
using QuantizeRow = void (*)(const float* f32, const uint16_t* bf16, int64_t cols, int8_t* q,
                             float* d, int32_t* sum128);
QuantizeRow scalar_quantizer();
QuantizeRow avx2_quantizer();  // nullptr when the build cannot provide it
QuantizeRow avx512_quantizer();

// Each returns nullptr when this build cannot provide it (the caller checks the CPU).
RowKernel scalar_kernel(WeightKind kind);
RowKernel avx2_kernel(WeightKind kind);                   // needs AVX2 + FMA
RowKernel avx512_kernel(WeightKind kind, bool bf16_dot);  // needs AVX-512 F/BW/VL
                                                          // (+BF16 / +VNNI for those)

}  // namespace llmprune::kernels::detail
