// Q8_0 quantizer and fp16 conversions (see q8_0.h).
#include "util/q8_0.h"

#include <cmath>
#include <cstring>

#include "util/error.h"

namespace llmprune {

uint16_t fp32_to_fp16(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  const uint32_t sign = (x >> 16) & 0x8000u;
  const uint32_t abs = x & 0x7fffffffu;
  if (abs > 0x7f800000u) return static_cast<uint16_t>(sign | 0x7e00u);   // NaN (quiet)
  if (abs >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);  // rounds to inf
  if (abs < 0x38800000u) {
    // Subnormal half (or zero): value / 2^-24, rounded to nearest even.
    float a;
    std::memcpy(&a, &abs, 4);
    const float scaled = a * 16777216.0f;  // exact: a power-of-two scale of a small float
    return static_cast<uint16_t>(sign | static_cast<uint32_t>(std::nearbyint(scaled)));
  }
  // Normal: rebias the exponent (127 -> 15), round the 13 dropped mantissa bits to even.
  uint32_t h = (abs - 0x38000000u) >> 13;
  const uint32_t rest = abs & 0x1fffu;
  if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) ++h;
  return static_cast<uint16_t>(sign | h);
}

float fp16_to_fp32(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1fu, man = h & 0x3ffu;
  uint32_t x;
  if (exp == 0x1f) {
    x = sign | 0x7f800000u | (man << 13);
  } else if (exp == 0) {
    const float v = std::ldexp(static_cast<float>(man), -24);
    return sign ? -v : v;
  } else {
    x = sign | ((exp + 112u) << 23) | (man << 13);
  }
  float f;
  std::memcpy(&f, &x, 4);
  return f;
}

void quantize_q8_0(const float* x, int64_t n, uint8_t* out) {
  LLMPRUNE_ASSERT(n % kQ8_0Block == 0, "quantize_q8_0: ", n, " values is not a multiple of 32");
  for (int64_t b = 0; b < n / kQ8_0Block; ++b) {
    const float* v = x + b * kQ8_0Block;
    uint8_t* blk = out + b * kQ8_0BlockBytes;
    float amax = 0.0f;  // ggml's MAX(amax, fabsf(v))
    for (int64_t j = 0; j < kQ8_0Block; ++j) {
      const float a = std::fabs(v[j]);
      amax = amax > a ? amax : a;
    }
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    const uint16_t dh = fp32_to_fp16(d);
    std::memcpy(blk, &dh, 2);
    for (int64_t j = 0; j < kQ8_0Block; ++j)
      blk[2 + j] = static_cast<uint8_t>(static_cast<int8_t>(q8_round(v[j] * id)));
  }
}

void dequantize_q8_0(const uint8_t* in, int64_t n, float* x) {
  LLMPRUNE_ASSERT(n % kQ8_0Block == 0, "dequantize_q8_0: ", n, " values is not a multiple of 32");
  for (int64_t b = 0; b < n / kQ8_0Block; ++b) {
    const uint8_t* blk = in + b * kQ8_0BlockBytes;
    uint16_t dh;
    std::memcpy(&dh, blk, 2);
    const float d = fp16_to_fp32(dh);
    for (int64_t j = 0; j < kQ8_0Block; ++j)
      x[b * kQ8_0Block + j] = d * static_cast<float>(static_cast<int8_t>(blk[2 + j]));
  }
}

}  // namespace llmprune
