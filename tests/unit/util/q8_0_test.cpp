// Q8_0 quantizer and fp16 conversion: hand-derived blocks (the rules of llama.cpp's
// quantize_row_q8_0_ref), the zero block, and the round trip within half a step. The bit-exact
// comparison with llama-quantize's output is in tests/golden/export.
#include "util/q8_0.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

namespace llmprune {
namespace {

TEST(Fp16, KnownValuesRoundToNearestEven) {
  EXPECT_EQ(fp32_to_fp16(1.0f), 0x3c00);
  EXPECT_EQ(fp32_to_fp16(-2.0f), 0xc000);
  EXPECT_EQ(fp32_to_fp16(65504.0f), 0x7bff);  // largest half
  EXPECT_EQ(fp32_to_fp16(65520.0f), 0x7c00);  // halfway to 65536: rounds (to even) to inf
  EXPECT_EQ(fp32_to_fp16(5.960464477539063e-08f), 0x0001);    // 2^-24, smallest subnormal
  EXPECT_EQ(fp32_to_fp16(2.98023223876953125e-08f), 0x0000);  // 2^-25: tie, to even (0)
  EXPECT_EQ(fp32_to_fp16(1.0f + 1.0f / 2048), 0x3c00);        // tie between 1 and 1+2^-10: even
  EXPECT_EQ(fp32_to_fp16(1.0f + 3.0f / 2048), 0x3c02);        // tie: to even (up)
  EXPECT_EQ(fp32_to_fp16(std::ldexp(1.0f, -14)), 0x0400);     // smallest normal
  EXPECT_EQ(fp32_to_fp16(-0.0f), 0x8000);
  EXPECT_EQ(fp32_to_fp16(INFINITY), 0x7c00);
  EXPECT_EQ(fp32_to_fp16(NAN) & 0x7e00, 0x7e00);
  // Every half value converts back and forth exactly.
  for (uint32_t h = 0; h < 0x10000; ++h) {
    if ((h & 0x7c00) == 0x7c00 && (h & 0x3ff)) continue;  // NaNs
    EXPECT_EQ(fp32_to_fp16(fp16_to_fp32(static_cast<uint16_t>(h))), h) << h;
  }
}

TEST(Q8_0, HandDerivedBlock) {
  // max |x| = 2.54 -> d = 0.02 (fp16 0x251f = 0.0200042724609375); q = round(x / d) with
  // x * (1 / d) in float: 1.0 -> 50, -2.54 -> -127, 0.01 -> 0.5 -> 1 (ties away from zero).
  std::vector<float> x(32, 0.0f);
  x[0] = 1.0f;
  x[1] = -2.54f;
  x[2] = 0.01f;
  x[3] = -0.01f;
  uint8_t out[34];
  quantize_q8_0(x.data(), 32, out);
  uint16_t d;
  std::memcpy(&d, out, 2);
  EXPECT_EQ(d, fp32_to_fp16(2.54f / 127.0f));
  EXPECT_EQ(static_cast<int8_t>(out[2]), 50);
  EXPECT_EQ(static_cast<int8_t>(out[3]), -127);
  EXPECT_EQ(static_cast<int8_t>(out[4]), 1);
  EXPECT_EQ(static_cast<int8_t>(out[5]), -1);
  for (int j = 4; j < 32; ++j) EXPECT_EQ(out[2 + j], 0) << j;
}

TEST(Q8_0, ZeroBlockHasZeroScale) {
  std::vector<float> x(64, 0.0f);
  x[40] = -3.0f;
  std::vector<uint8_t> out(68, 0xff);
  quantize_q8_0(x.data(), 64, out.data());
  for (int j = 0; j < 34; ++j) EXPECT_EQ(out[j], 0) << j;  // d = 0 and every q = 0
  EXPECT_EQ(static_cast<int8_t>(out[34 + 2 + 8]), -127);
}

TEST(Q8_0, RoundTripWithinHalfAStep) {
  std::mt19937 rng(7);
  std::normal_distribution<float> nd(0.0f, 0.05f);
  std::vector<float> x(32 * 50), y(x.size());
  for (float& v : x) v = nd(rng);
  std::vector<uint8_t> q(50 * 34);
  quantize_q8_0(x.data(), static_cast<int64_t>(x.size()), q.data());
  dequantize_q8_0(q.data(), static_cast<int64_t>(x.size()), y.data());
  for (size_t b = 0; b < 50; ++b) {
    uint16_t dh;
    std::memcpy(&dh, &q[b * 34], 2);
    const float d = fp16_to_fp32(dh);
    // |x - d q| <= d / 2 plus what the fp16 rounding of d moves 127 steps.
    float amax = 0;
    for (int j = 0; j < 32; ++j) amax = std::fmax(amax, std::fabs(x[b * 32 + j]));
    const float tol = d / 2 + 127 * std::fabs(d - amax / 127) + 1e-7f;
    for (int j = 0; j < 32; ++j) EXPECT_LE(std::fabs(x[b * 32 + j] - y[b * 32 + j]), tol);
  }
}

// Ties round away from zero, as roundf in ggml's quantize_row_q8_0_ref: with max|x| = 127 the
// scale is 1 and x / d = x exactly (hand-derived expectations).
TEST(Q8_0, TiesRoundAwayFromZero) {
  float x[32] = {127.0f, 2.5f, -2.5f, 0.5f, -0.5f, 1.49999f, -1.5f, 126.5f};
  uint8_t block[kQ8_0BlockBytes];
  quantize_q8_0(x, 32, block);
  const int8_t* q = reinterpret_cast<const int8_t*>(block + 2);
  EXPECT_EQ(fp16_to_fp32(static_cast<uint16_t>(block[0] | (block[1] << 8))), 1.0f);
  const int expected[8] = {127, 3, -3, 1, -1, 1, -2, 127};
  for (int i = 0; i < 8; ++i) EXPECT_EQ(q[i], expected[i]) << x[i];
  for (int i = 8; i < 32; ++i) EXPECT_EQ(q[i], 0);
}

}  // namespace
}  // namespace llmprune
