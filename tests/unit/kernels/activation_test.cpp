// kernels/activation: silu(gate) * up at every instruction-set level against a float64
// reference (silu(x) = x / (1 + e^-x) in double), and the bf16 form against that reference
// rounded where LibTorch's two ops round (silu to bf16, then the product to bf16, both by
// c10::BFloat16's round-to-nearest-even).
#include "kernels/activation.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <vector>

#include "unit/kernels/kernel_levels.h"

using namespace llmprune::kernels;

namespace {

double silu_ref(double x) { return x / (1.0 + std::exp(-x)); }

// Gate values over the whole useful range, the ends where e^-x over- or underflows, signed
// zeros and a denormal; n = 1000 + 13 leaves a tail after every vector width.
std::vector<float> gate_values() {
  torch::manual_seed(3);
  auto g = (torch::rand({1013}) * 40 - 20).contiguous();
  std::vector<float> v(g.data_ptr<float>(), g.data_ptr<float>() + g.numel());
  for (float x : {0.0f, -0.0f, 1e-40f, -1e-3f, 87.0f, -87.0f, 95.0f, -95.0f, 200.0f, -200.0f})
    v.push_back(x);
  return v;
}

uint16_t bits(c10::BFloat16 b) { return b.x; }
float widen(uint16_t h) { return static_cast<float>(c10::BFloat16(h, c10::BFloat16::from_bits())); }

}  // namespace

TEST(Activation, SiluMulF32MatchesDoubleReference) {
  const std::vector<float> g = gate_values();
  std::vector<float> u(g.size());
  for (size_t i = 0; i < u.size(); ++i) u[i] = 0.5f + 0.25f * static_cast<float>(i % 7);
  for (KernelLevel level : levels()) {
    SCOPED_TRACE("level " + std::to_string(static_cast<int>(level)));
    LevelGuard guard(level);
    std::vector<float> out(g.size());
    silu_mul(g.data(), u.data(), out.data(), static_cast<int64_t>(g.size()));
    for (size_t i = 0; i < g.size(); ++i) {
      const double ref = silu_ref(g[i]) * u[i];
      // A few f32 roundings (e^x within 2 ulp, the add, the divide, the product): 8 ulp of
      // the result, plus an absolute floor for results that underflow (silu(-95) ~ -5e-40).
      EXPECT_NEAR(out[i], ref, 8 * std::ldexp(std::fabs(ref), -23) + 1e-37)
          << "gate " << g[i] << " up " << u[i];
    }
  }
}

TEST(Activation, SiluMulBf16RoundsLikeTheTwoOps) {
  std::vector<uint16_t> g, u;
  for (float x : gate_values()) g.push_back(bits(c10::BFloat16(x)));
  for (size_t i = 0; i < g.size(); ++i) u.push_back(bits(c10::BFloat16(-1.5f + 0.37f * (i % 9))));
  for (KernelLevel level : levels()) {
    SCOPED_TRACE("level " + std::to_string(static_cast<int>(level)));
    LevelGuard guard(level);
    std::vector<uint16_t> out(g.size());
    silu_mul(g.data(), u.data(), out.data(), static_cast<int64_t>(g.size()));
    int64_t exact = 0;
    for (size_t i = 0; i < g.size(); ++i) {
      const float s = c10::BFloat16(static_cast<float>(silu_ref(widen(g[i]))));
      const uint16_t ref = bits(c10::BFloat16(s * widen(u[i])));
      exact += out[i] == ref;
      // The f32 silu may sit on the other side of a bf16 rounding boundary than the
      // correctly rounded one: then the result is one bf16 step away, never more.
      EXPECT_NEAR(widen(out[i]), widen(ref), std::ldexp(std::fabs(widen(ref)), -7) + 1e-37)
          << "gate " << widen(g[i]) << " up " << widen(u[i]);
    }
    // Such boundary cases are rare (here none or a handful of 1023).
    EXPECT_GE(exact, static_cast<int64_t>(g.size()) - 5);
  }
}

TEST(Activation, SiluMulAgreesWithLibTorch) {
  torch::manual_seed(4);
  const auto g = torch::randn({3, 777}) * 4, u = torch::randn({3, 777});
  auto out = torch::empty_like(g);
  silu_mul(g.data_ptr<float>(), u.data_ptr<float>(), out.data_ptr<float>(), g.numel());
  EXPECT_TRUE(torch::allclose(out, torch::silu(g) * u, 1e-6, 1e-7));
}
