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
  v.data = data.data();
  return v;
}

Q8Weight quantize_q8_weight(const float* w, int64_t rows, int64_t cols) {
  return quantize_q8_weight(rows, cols, [&](int64_t r, float* out) {
    std::memcpy(out, w + r * cols, static_cast<size_t>(cols) * sizeof(float));
  });
}

Q8Weight quantize_q8_weight(int64_t rows, int64_t cols,
                            const std::function<void(int64_t, float*)>& row) {
  LLMPRUNE_CHECK(cols % kQ8_0Block == 0, "Q8_0 weights need a multiple of 32 columns, got ", cols);
  Q8Weight q;
  q.rows = rows;
  q.cols = cols;
  q.padded_cols = (cols + kQ8Group - 1) / kQ8Group * kQ8Group;
  const int64_t row_bytes = q.row_bytes();
  q.data = HugeBuffer(static_cast<size_t>(rows * row_bytes));
  at::parallel_for(0, rows, 16, [&](int64_t r0, int64_t r1) {
    std::vector<uint8_t> packed(static_cast<size_t>(cols / kQ8_0Block * kQ8_0BlockBytes));
    std::vector<float> values(static_cast<size_t>(cols));
    for (int64_t r = r0; r < r1; ++r) {
      row(r, values.data());
      quantize_q8_0(values.data(), cols, packed.data());  // llama.cpp's blocks, bit for bit
      uint8_t* dst = q.data.data() + r * row_bytes;
      // Padding first: quants q = 0 (stored 128), scales 0.
      for (int64_t g = 0; g < q.padded_cols / kQ8Group; ++g) {
        std::memset(dst + g * kQ8GroupBytes, 128, kQ8Group);
        std::memset(dst + g * kQ8GroupBytes + kQ8Group, 0, kQ8GroupBytes - kQ8Group);
      }
      for (int64_t b = 0; b < cols / kQ8_0Block; ++b) {
        const uint8_t* blk = packed.data() + b * kQ8_0BlockBytes;
        std::memcpy(dst + q8_scale_byte(b), blk, 2);  // the fp16 scale as stored
        for (int64_t e = 0; e < kQ8_0Block; ++e)
          dst[q8_quant_byte(b * kQ8_0Block + e)] = static_cast<uint8_t>(blk[2 + e] ^ 0x80u);
      }
    }
  });
  return q;
}

void dequantize_q8_weight(const Q8Weight& w, float* out) {
  const int64_t row_bytes = w.row_bytes();
  at::parallel_for(0, w.rows, 16, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const uint8_t* src = w.data.data() + r * row_bytes;
      for (int64_t b = 0; b < w.cols / kQ8_0Block; ++b) {
        uint16_t h;
        std::memcpy(&h, src + q8_scale_byte(b), 2);
        const float d = fp16_to_fp32(h);
        for (int64_t e = 0; e < kQ8_0Block; ++e) {
          const int64_t c = b * kQ8_0Block + e;
          out[r * w.cols + c] =
              d * static_cast<float>(static_cast<int>(src[q8_quant_byte(c)]) - 128);
        }
      }
    }
  });
}

}  // namespace llmprune::kernels
