// Q8_0 weights for the decode kernels: llama.cpp's quantization (blocks of 32 values along a
// row, scale d = max|x| / 127 rounded to fp16, q = round(x / d); util/q8_0.h, shared with the
// GGUF writer), stored in the layout the kernels read as one stream per row. A row is padded
// to a multiple of kQ8Group values (padding: q = 0, d = 0) and stored group after group; a
// group of 16 blocks takes kQ8GroupBytes: 512 quant bytes, where byte 64 s + 4 j + t holds
// element 4 s + t of block j (so one 512-bit multiply-add of 4-byte lanes accumulates 16
// blocks at once), then the 16 blocks' fp16 scales. Quants are stored as q + 128 (unsigned
// bytes, what VNNI multiplies). Same bytes per value as llama.cpp's Q8_0 (34 per 32).
#pragma once

#include <cstdint>
#include <functional>

#include "kernels/gemv.h"
#include "util/huge_pages.h"

namespace llmprune::kernels {

constexpr int64_t kQ8Group = 512;                                  // 16 blocks of 32 values
constexpr int64_t kQ8GroupBytes = kQ8Group + 2 * (kQ8Group / 32);  // quants, then fp16 scales

struct Q8Weight {
  int64_t rows = 0, cols = 0, padded_cols = 0;
  HugeBuffer data;  // [rows, row_bytes()], on huge pages where Linux allows (decoding streams it)
  int64_t row_bytes() const { return padded_cols / kQ8Group * kQ8GroupBytes; }
  WeightView view() const;
  int64_t bytes() const { return static_cast<int64_t>(data.size()); }
};

// Quantize a matrix [rows, cols] (cols a multiple of 32) whose rows `row(r, out)` writes as
// f32 into out[cols] (called from several threads at once).
Q8Weight quantize_q8_weight(int64_t rows, int64_t cols,
                            const std::function<void(int64_t, float*)>& row);
// Same for a row-major f32 matrix.
Q8Weight quantize_q8_weight(const float* w, int64_t rows, int64_t cols);

// Element (r, c) as the kernels see it: d * q (for tests and dequantized matmuls).
void dequantize_q8_weight(const Q8Weight& w, float* out);  // out [rows, cols]

// Offset of element c (c % kQ8Group of its group) inside its group's 512 interleaved bytes.
inline int64_t q8_lane_offset(int64_t c) {
  const int64_t in = c % kQ8Group, block = in / 32, e = in % 32;
  return (e / 4) * 64 + block * 4 + (e % 4);
}
// Byte of element c's quant, and of block b's fp16 scale, inside a stored weight row.
inline int64_t q8_quant_byte(int64_t c) { return c / kQ8Group * kQ8GroupBytes + q8_lane_offset(c); }
inline int64_t q8_scale_byte(int64_t b) { return b / 16 * kQ8GroupBytes + kQ8Group + 2 * (b % 16); }

}  // namespace llmprune::kernels
