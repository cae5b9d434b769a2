// Q8_0 block quantization as llama.cpp defines it (quantize_row_q8_0_ref): blocks of 32
// values, one fp16 scale d = max|x| / 127 and 32 int8 q = round(x / d). Plain arrays, no
// LibTorch: shared by the GGUF export and the int8 decode path.
#pragma once

#include <cstddef>
#include <cstdint>

namespace llmprune {

constexpr int64_t kQ8_0Block = 32;       // values per block
constexpr int64_t kQ8_0BlockBytes = 34;  // fp16 scale + 32 int8

// roundf(t) for |t| <= 127.5 (|x / d| <= 127 up to rounding) without a libm call: the
// truncation is exact and so is t - trunc(t), so ties go away from zero as in roundf.
inline int q8_round(float t) {
  int i = static_cast<int>(t);
  const float frac = t - static_cast<float>(i);
  if (frac >= 0.5f) ++i;
  if (frac <= -0.5f) --i;
  return i;
}

// IEEE binary16 <-> binary32, round to nearest even (as ggml's GGML_FP32_TO_FP16).
uint16_t fp32_to_fp16(float f);
float fp16_to_fp32(uint16_t h);

// Quantize n values (n a multiple of 32) into n / 32 blocks of 34 bytes at `out`.
// As the reference: id = d ? 1 / d : 0 and q = roundf(x * id) (ties away from zero), so an
// all-zero block gets d = 0 and q = 0.
void quantize_q8_0(const float* x, int64_t n, uint8_t* out);
// The inverse: x = fp16(d) * q.
void dequantize_q8_0(const uint8_t* in, int64_t n, float* x);

}  // namespace llmprune
