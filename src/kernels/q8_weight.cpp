// Q8_0 weights in the decode kernels' layout (see q8_weight.h).
#include "kernels/q8_weight.h"

#include <ATen/Parallel.h>

#include <cstring>

#include "util/error.h"
#include "util/q8_0.h"

namespace llmprune::kernels {

WeightView Q8Weight::view() const {
  WeightView v;
  v.kind = WeightKind::kQ8_0;
  v.rows = rows;
  v.cols = cols;
  v.padded_cols = padded_cols;
  v.data = quants.data();
  v.scales = scales.data();
  return v;
}

Q8Weight quantize_q8_weight(const float* w, int64_t rows, int64_t cols) {
  return quantize_q8_weight(rows, cols, [&](int64_t r, float* out) {
    std::memcpy(out, w + r * cols, static_cast<size_t>(cols) * sizeof(float));
  });
}

Q8Weight quantize_q8_weight(int64_t rows, int64_t cols,
                            const std::function<void(int64_t, float*)>& row) {
  LLMPRUNE_CHECK(cols % kQ8_0Block == 0, "Q8_0 weights need a multiple of 32 columns, got ",
                 cols);
  Q8Weight q;
  q.rows = rows;
  q.cols = cols;
  q.padded_cols = (cols + kQ8Group - 1) / kQ8Group * kQ8Group;
  const int64_t blocks = q.padded_cols / kQ8_0Block;
  q.quants.assign(static_cast<size_t>(rows * q.padded_cols), uint8_t{128});  // q = 0
  q.scales.assign(static_cast<size_t>(rows * blocks), 0.0f);
  at::parallel_for(0, rows, 16, [&](int64_t r0, int64_t r1) {
    std::vector<uint8_t> packed(static_cast<size_t>(cols / kQ8_0Block * kQ8_0BlockBytes));
    std::vector<float> values(static_cast<size_t>(cols));
    for (int64_t r = r0; r < r1; ++r) {
      row(r, values.data());
      quantize_q8_0(values.data(), cols, packed.data());  // llama.cpp's blocks, bit for bit
      uint8_t* dst = q.quants.data() + r * q.padded_cols;
      float* d = q.scales.data() + r * blocks;
      for (int64_t b = 0; b < cols / kQ8_0Block; ++b) {
        const uint8_t* blk = packed.data() + b * kQ8_0BlockBytes;
        uint16_t h;
        std::memcpy(&h, blk, 2);
        d[b] = fp16_to_fp32(h);
        for (int64_t e = 0; e < kQ8_0Block; ++e)
          dst[q8_position(b * kQ8_0Block + e)] = static_cast<uint8_t>(blk[2 + e] ^ 0x80u);
      }
    }
  });
  return q;
}

void dequantize_q8_weight(const Q8Weight& w, float* out) {
  const int64_t blocks = w.padded_cols / kQ8_0Block;
  at::parallel_for(0, w.rows, 16, [&](int64_t r0, int64_t r1) {
    std::vector<float> row(static_cast<size_t>(w.padded_cols));
    for (int64_t r = r0; r < r1; ++r) {
      const uint8_t* q = w.quants.data() + r * w.padded_cols;
      const float* d = w.scales.data() + r * blocks;
      // Walk the interleaved layout in storage order (see q8_weight.h): group g, step s,
      // block j, byte t holds element 32 j + 4 s + t of the group.
      for (int64_t g = 0; g < w.padded_cols / kQ8Group; ++g)
        for (int64_t s = 0; s < 8; ++s)
          for (int64_t j = 0; j < 16; ++j) {
            const uint8_t* src = q + g * kQ8Group + s * 64 + j * 4;
            float* dst = row.data() + g * kQ8Group + j * 32 + s * 4;
            const float scale = d[g * 16 + j];
            for (int64_t t = 0; t < 4; ++t)
              dst[t] = scale * static_cast<float>(static_cast<int>(src[t]) - 128);
          }
      std::memcpy(out + r * w.cols, row.data(), static_cast<size_t>(w.cols) * sizeof(float));
    }
  });
}

}  // namespace llmprune::kernels
