// kernels/activation: bf16 silu(gate) * up at every instruction-set level against a float64
// reference (silu(x) = x / (1 + e^-x) in double) rounded where LibTorch's two ops round
// (silu to bf16, then the product to bf16, both by c10::BFloat16's round-to-nearest-even),
// and against LibTorch's ops.
#include "kernels/activation.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <vector>

#include "kernels/rms_norm.h"
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
  const auto g = (torch::randn({3, 777}) * 4).to(torch::kBFloat16);
  const auto u = torch::randn({3, 777}).to(torch::kBFloat16);
  auto out = torch::empty_like(g);
  auto bits = [](const torch::Tensor& t) {
    return reinterpret_cast<uint16_t*>(t.data_ptr<at::BFloat16>());
  };
  silu_mul(bits(g), bits(u), bits(out), g.numel());
  // LibTorch 2.x computes bf16 silu in f32 and rounds once, as the kernel does; 1.13 rounds
  // e^-x, 1 + e^-x and the quotient to bf16 each (Vectorized<BFloat16>), so up to a few bf16
  // steps apart. Bound: 4 steps of the result (2^-5 relative).
  const auto want = (torch::silu(g) * u).to(torch::kFloat32), got = out.to(torch::kFloat32);
  EXPECT_TRUE(torch::le((got - want).abs(), want.abs() / 32 + 1e-30).all().item<bool>())
      << (got - want).abs().max().item<float>();
#if TORCH_VERSION_MAJOR >= 2
  EXPECT_GE(torch::eq(got, want).sum().item<int64_t>(), g.numel() - 10);
#endif
}

// kernels/rms_norm against LlamaRMSNorm's steps in float64 with its roundings: h = x,
// r = 1 / sqrt(mean(h^2) + eps) rounded to f32, y = bf16(h r), out = bf16(w y); the kernel's
// f32 sum of squares may move r by an ulp, so an element may sit one bf16 step away.
TEST(RmsNorm, Bf16MatchesLlamaRmsNormSteps) {
  torch::manual_seed(5);
  for (int64_t cols : {16, 77, 2048}) {
    const auto x = (torch::randn({5, cols}) * 3).to(torch::kBFloat16);
    const auto w = torch::randn({cols}).to(torch::kBFloat16);
    const auto xd = x.to(torch::kFloat64), wd = w.to(torch::kFloat64);
    const auto r = (1.0 / (xd.pow(2).mean(-1, true) + 1e-6).sqrt()).to(torch::kFloat32);
    const auto y = (x.to(torch::kFloat32) * r).to(torch::kBFloat16).to(torch::kFloat32);
    const auto want = (w.to(torch::kFloat32) * y).to(torch::kBFloat16).to(torch::kFloat32);
    auto bits = [](const torch::Tensor& t) {
      return reinterpret_cast<uint16_t*>(t.data_ptr<at::BFloat16>());
    };
    for (KernelLevel level : levels()) {
      SCOPED_TRACE("cols " + std::to_string(cols) + " level " +
                   std::to_string(static_cast<int>(level)));
      LevelGuard guard(level);
      auto out = torch::empty_like(x);
      rms_norm(bits(x), cols, bits(w), 1e-6f, 5, cols, bits(out));
      const auto got = out.to(torch::kFloat32);
      EXPECT_TRUE(
          torch::le((got - want).abs(), want.abs() * (1.0 / 128) + 1e-30).all().item<bool>());
      EXPECT_GE(torch::eq(got, want).sum().item<int64_t>(), x.numel() - x.numel() / 100 - 1);
      // Without a weight: y itself.
      rms_norm(bits(x), cols, nullptr, 1e-6f, 5, cols, bits(out));
      EXPECT_GE(torch::eq(out.to(torch::kFloat32), y).sum().item<int64_t>(),
                x.numel() - x.numel() / 100 - 1);
    }
  }
}
