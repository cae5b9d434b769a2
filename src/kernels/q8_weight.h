// Q8_0 weights for the decode kernels: llama.cpp's quantization (blocks of 32 values along a
// row, scale d = max|x| / 127 rounded to fp16, q = round(x / d); util/q8_0.h, shared with the
// GGUF writer), stored in the layout the kernels read. Each row is padded to a multiple of
// kQ8Group values (padding: q = 0, d = 0); inside a group of 16 blocks, byte 64 s + 4 j + t
// holds element 4 s + t of block j, so one 512-bit multiply-add of 4-byte lanes accumulates
// 16 blocks at once. Values are stored as q + 128 (unsigned bytes, what VNNI multiplies).
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "kernels/gemv.h"

namespace llmprune::kernels {

constexpr int64_t kQ8Group = 512;  // 16 blocks of 32

struct Q8Weight {
  int64_t rows = 0, cols = 0, padded_cols = 0;
  std::vector<uint8_t> quants;  // [rows, padded_cols], interleaved, q + 128
  std::vector<float> scales;    // [rows, padded_cols / 32], fp16 values widened exactly
  WeightView view() const;
  int64_t bytes() const { return static_cast<int64_t>(quants.size() + 4 * scales.size()); }
};

// Quantize a matrix [rows, cols] (cols a multiple of 32) whose rows `row(r, out)` writes as
// f32 into out[cols] (called from several threads at once).
Q8Weight quantize_q8_weight(int64_t rows, int64_t cols,
                            const std::function<void(int64_t, float*)>& row);
// Same for a row-major f32 matrix.
Q8Weight quantize_q8_weight(const float* w, int64_t rows, int64_t cols);

// Element (r, c) as the kernels see it: d * q (for tests and dequantized matmuls).
void dequantize_q8_weight(const Q8Weight& w, float* out);  // out [rows, cols]

// Position of element c of a row inside its padded, interleaved row.
inline int64_t q8_position(int64_t c) {
  const int64_t g = c / kQ8Group, in = c % kQ8Group, block = in / 32, e = in % 32;
  return g * kQ8Group + (e / 4) * 64 + block * 4 + (e % 4);
}

}  // namespace llmprune::kernels
