// GEMV kernels against double-precision references computed here from the same inputs
// (bf16 weights are exact in f32, so the only differences are f32 summation order), the
// Q8_0 packing against util/q8_0 (llama.cpp's reference quantizer), and linear_forward
// against LibTorch's matmul.
#include "kernels/gemv.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <vector>

#include "kernels/cpu_features.h"
#include "kernels/gemv_internal.h"
#include "kernels/q8_weight.h"
#include "kernels/row_ops.h"
#include "model/linear.h"
#include "unit/kernels/kernel_levels.h"
#include "util/q8_0.h"

using namespace llmprune;
using namespace llmprune::kernels;

namespace {

// y = x W^T in double from f32 copies of both.
torch::Tensor reference(const torch::Tensor& w, const torch::Tensor& x) {
  return torch::matmul(x.to(torch::kFloat64), w.to(torch::kFloat64).t());
}

// Shapes: column counts below, at and above the vector widths (tails), row counts that are
// not multiples of the 4-row unroll, 1 and several activation rows.
struct Shape {
  int64_t rows, cols, n;
};
const std::vector<Shape> kShapes{{1, 8, 1},    {37, 40, 1},        {5, 100, 3},
                                 {64, 512, 2}, {19, 2048 + 48, 1}, {33, 1000, 8}};

// |error| bound for a length-K f32 dot product: K * eps * sum|w x| (a loose, standard bound).
double dot_bound(const torch::Tensor& w, const torch::Tensor& x) {
  const double abs_sum = torch::matmul(x.abs().to(torch::kFloat64), w.abs().to(torch::kFloat64).t())
                             .max()
                             .item<double>();
  return static_cast<double>(w.size(1)) * 6e-8 * abs_sum + 1e-30;
}

torch::Tensor run(const torch::Tensor& w, const torch::Tensor& x) {
  torch::InferenceMode guard;
  return linear_forward(x, w, {});
}

}  // namespace

TEST(Gemv, F32AndBf16WeightsMatchDoubleReference) {
  for (KernelLevel level : levels()) {
    LevelGuard g(level);
    const std::string kernel = gemv_kernel_name(WeightKind::kBF16, true);
    for (const Shape& s : kShapes) {
      torch::manual_seed(s.rows * 7 + s.cols);
      auto w = torch::randn({s.rows, s.cols});
      auto x = torch::randn({s.n, s.cols});
      // f32 weights, f32 activations.
      EXPECT_LT((run(w, x).to(torch::kFloat64) - reference(w, x)).abs().max().item<double>(),
                dot_bound(w, x))
          << "f32 " << s.rows << "x" << s.cols << " kernel " << kernel;
      // bf16 weights, f32 activations: the weights widen exactly.
      auto wb = w.to(torch::kBFloat16);
      EXPECT_LT((run(wb, x).to(torch::kFloat64) - reference(wb, x)).abs().max().item<double>(),
                dot_bound(wb, x))
          << "bf16 x f32 " << s.rows << "x" << s.cols << " kernel " << kernel;
      // bf16 weights, bf16 activations: products of bf16 values are exact in f32; the
      // result is rounded to bf16 (relative 2^-9) like a bf16 matmul's.
      auto xb = x.to(torch::kBFloat16);
      auto ref = reference(wb, xb);
      auto got = run(wb, xb);
      EXPECT_EQ(got.scalar_type(), torch::kBFloat16);
      EXPECT_LT((got.to(torch::kFloat64) - ref).abs().max().item<double>(),
                dot_bound(wb, xb) + ref.abs().max().item<double>() * std::ldexp(1.0, -8))
          << "bf16 x bf16 " << s.rows << "x" << s.cols << " kernel " << kernel;
    }
  }
}

TEST(Gemv, BiasIsAddedOnce) {
  torch::manual_seed(3);
  auto w = torch::randn({21, 64}), x = torch::randn({2, 64}), b = torch::randn({21});
  torch::InferenceMode guard;
  auto got = linear_forward(x, w, b).to(torch::kFloat64);
  auto ref = reference(w, x) + b.to(torch::kFloat64);
  EXPECT_LT((got - ref).abs().max().item<double>(), dot_bound(w, x) + 1e-6);
}

TEST(Gemv, Q8PackingIsLlamaCppsQuantizer) {
  torch::manual_seed(4);
  const int64_t rows = 3, cols = 96;
  auto w = torch::randn({rows, cols}) * 0.1;
  w[1].zero_();  // an all-zero row: d = 0, q = 0
  Q8Weight q = quantize_q8_weight(w.data_ptr<float>(), rows, cols);
  EXPECT_EQ(q.padded_cols, kQ8Group);
  std::vector<float> ours(static_cast<size_t>(rows * cols));
  dequantize_q8_weight(q, ours.data());
  std::vector<uint8_t> blocks(static_cast<size_t>(cols / 32 * kQ8_0BlockBytes));
  std::vector<float> theirs(static_cast<size_t>(cols));
  for (int64_t r = 0; r < rows; ++r) {
    quantize_q8_0(w[r].data_ptr<float>(), cols, blocks.data());
    dequantize_q8_0(blocks.data(), cols, theirs.data());
    for (int64_t c = 0; c < cols; ++c)
      ASSERT_EQ(ours[static_cast<size_t>(r * cols + c)], theirs[static_cast<size_t>(c)])
          << r << "," << c;
  }
}

// The Q8_0 kernels compute sum_b d_w d_x dot(q_w, q_x) with the activations quantized per
// block as llama.cpp's q8_0 x q8_0 dot does: every ISA agrees with the scalar kernel to f32
// rounding, and the product is within the quantization error of the exact one.
TEST(Gemv, Q8KernelsAgreeAndStayNearTheExactProduct) {
  for (const Shape& s : std::vector<Shape>{{37, 64, 1}, {8, 512, 3}, {13, 2048 + 64, 1}}) {
    torch::manual_seed(s.cols);
    auto w = torch::randn({s.rows, s.cols}), x = torch::randn({s.n, s.cols});
    auto q8 = make_q8_weight(w);
    torch::InferenceMode guard;
    torch::Tensor slow;
    {
      LevelGuard g(KernelLevel::kScalar);
      slow = linear_forward(x, w, {}, q8.get());
    }
    torch::Tensor fast;
    for (KernelLevel level : levels()) {
      LevelGuard g(level);
      fast = linear_forward(x, w, {}, q8.get());
      EXPECT_LT((fast - slow).abs().max().item<double>(), dot_bound(w, x))
          << s.rows << "x" << s.cols << " " << gemv_kernel_name(WeightKind::kQ8_0, false);
    }
    // 8-bit weights and activations: relative error per term <= 2 x 2^-8 (round to nearest
    // of max/127 steps); bound by 1 % of sum |w x|.
    const double abs_sum = torch::matmul(x.abs(), w.abs().t()).max().item<double>();
    EXPECT_LT((fast.to(torch::kFloat64) - reference(w, x)).abs().max().item<double>(),
              0.01 * abs_sum);
  }
}

// The Q8_0 activation quantizers (kernels/gemv_internal.h) write exactly the bytes the scalar
// one does at every level, from f32 and from bf16 input. One block is also checked by hand:
// max |x| = 127 gives d = 1, so q = round(x) with halves away from zero (util/q8_0.h's
// q8_round): 2.5 -> 3, -3.5 -> -4, 0.5 -> 1, -0.5 -> -1; element 4 s + t of block 0 sits at
// byte 64 s + t; sum128 = 128 x (127 + 3 - 4 + 1 - 1 - 127) = -128.
TEST(Gemv, Q8ActivationQuantizersAgreeBitForBit) {
  const int64_t cols = 512 + 96, padded = 1024, blocks = padded / 32;
  torch::manual_seed(11);
  auto x = torch::randn({cols}) * 3;
  float* xv = x.data_ptr<float>();
  const float hand[6] = {127, 2.5f, -3.5f, 0.5f, -0.5f, -127};
  for (int e = 0; e < 32; ++e) xv[e] = e < 6 ? hand[e] : 0.0f;
  for (int e = 0; e < 32; ++e) xv[64 + e] = 0.0f;  // block 2: all zero, d = 0
  // Ties after scaling in block 3: max 63.5 -> d = 0.5, x / d = 2 x (odd halves at 0.25 steps).
  for (int e = 0; e < 32; ++e) xv[96 + e] = e == 0 ? 63.5f : 0.25f * static_cast<float>(e - 16);
  auto xb = x.to(torch::kBFloat16);
  auto widened = xb.to(torch::kFloat32);  // what the bf16 input means, exactly
  const uint16_t* bits = reinterpret_cast<const uint16_t*>(xb.data_ptr<at::BFloat16>());
  struct Out {
    std::vector<int8_t> q = std::vector<int8_t>(padded, 0);
    std::vector<float> d = std::vector<float>(blocks, 0.0f);
    std::vector<int32_t> sum = std::vector<int32_t>(blocks, 0);
  };
  auto quantize = [&](kernels::detail::QuantizeRow f, const float* in_f32,
                      const uint16_t* in_bf16) {
    Out o;
    f(in_f32, in_bf16, cols, o.q.data(), o.d.data(), o.sum.data());
    return o;
  };
  const Out ref = quantize(kernels::detail::scalar_quantizer(), xv, nullptr);
  EXPECT_EQ(ref.d[0], 1.0f);
  const int8_t expect[6] = {127, 3, -4, 1, -1, -127};
  for (int e = 0; e < 6; ++e)
    EXPECT_EQ(ref.q[static_cast<size_t>(64 * (e / 4) + e % 4)], expect[e]);
  EXPECT_EQ(ref.sum[0], -128);
  EXPECT_EQ(ref.d[2], 0.0f);
  const Out ref_bf16 =
      quantize(kernels::detail::scalar_quantizer(), widened.data_ptr<float>(), nullptr);
  std::vector<std::pair<std::string, kernels::detail::QuantizeRow>> fast;
  const CpuFeatures& f = cpu_features();
  if (f.avx512()) fast.emplace_back("avx512", kernels::detail::avx512_quantizer());
  if (f.avx2_fma()) fast.emplace_back("avx2", kernels::detail::avx2_quantizer());
  for (const auto& [name, fn] : fast) {
    if (!fn) continue;  // not an x86-64 build
    const Out a = quantize(fn, xv, nullptr), b = quantize(fn, nullptr, bits);
    EXPECT_EQ(a.q, ref.q) << name;
    EXPECT_EQ(a.d, ref.d) << name;
    EXPECT_EQ(a.sum, ref.sum) << name;
    EXPECT_EQ(b.q, ref_bf16.q) << name << " bf16";
    EXPECT_EQ(b.d, ref_bf16.d) << name << " bf16";
    EXPECT_EQ(b.sum, ref_bf16.sum) << name << " bf16";
  }
  // The scalar quantizer reads bf16 input as its exact widening too.
  const Out c = quantize(kernels::detail::scalar_quantizer(), nullptr, bits);
  EXPECT_EQ(c.q, ref_bf16.q);
  EXPECT_EQ(c.d, ref_bf16.d);
}

// bf16 outputs written by the GEMV threads (GemvTask::y_bf16) are the f32 results plus the
// bias, rounded as c10::BFloat16 rounds (to nearest even), at every level.
TEST(Gemv, Bf16OutputsAreTheRoundedF32Results) {
  const int64_t rows = 75, cols = 320;
  torch::manual_seed(12);
  auto w = torch::randn({rows, cols}).to(torch::kBFloat16);
  auto x = torch::randn({1, cols}).to(torch::kBFloat16);
  auto bias = torch::randn({rows});
  for (KernelLevel level : levels()) {
    LevelGuard g(level);
    std::vector<float> y(rows);
    std::vector<uint16_t> yb(rows, 0xFFFF);
    GemvTask t;
    t.w = WeightView{WeightKind::kBF16, rows, cols, w.data_ptr(), 0};
    t.bias = bias.data_ptr<float>();
    t.y = y.data();
    t.y_bf16 = yb.data();
    Activations a;
    a.n = 1;
    a.bf16 = reinterpret_cast<const uint16_t*>(x.data_ptr<at::BFloat16>());
    gemv({t}, a);
    auto ref = reference(w, x).squeeze(0) + bias.to(torch::kFloat64);
    for (int64_t r = 0; r < rows; ++r) {
      EXPECT_EQ(yb[static_cast<size_t>(r)], c10::BFloat16(y[static_cast<size_t>(r)]).x) << r;
      EXPECT_NEAR(y[static_cast<size_t>(r)], ref[r].item<double>(), dot_bound(w, x) + 1e-5) << r;
    }
  }
}

// The attention row operations at every level: dot(a, b) and y + alpha x against float64
// computed here from the same f32 / bf16 values (bf16 widens exactly), lengths around the
// vector widths (tails); bound n x 2^-24 x sum |terms| as for the GEMV kernels.
TEST(Gemv, RowOpsMatchDoubleReference) {
  for (const int64_t n : {1, 7, 16, 23, 64, 80, 131}) {
    torch::manual_seed(n);
    auto a = torch::randn({n}), b = torch::randn({n}), y0 = torch::randn({n});
    auto b16 = b.to(torch::kBFloat16);
    const auto* b16p = reinterpret_cast<const uint16_t*>(b16.data_ptr<at::BFloat16>());
    const double alpha = 0.37;
    for (KernelLevel level : levels()) {
      LevelGuard g(level);
      for (const bool bf16 : {false, true}) {
        auto bb = (bf16 ? b16.to(torch::kFloat64) : b.to(torch::kFloat64));
        const double want = (a.to(torch::kFloat64) * bb).sum().item<double>();
        const double bound = n * 6e-8 * (a.to(torch::kFloat64) * bb).abs().sum().item<double>();
        const float got = bf16 ? dot(a.data_ptr<float>(), b16p, n)
                               : dot(a.data_ptr<float>(), b.data_ptr<float>(), n);
        EXPECT_NEAR(got, want, bound + 1e-30) << "n " << n << " bf16 " << bf16;
        auto y = y0.clone();
        if (bf16)
          axpy(static_cast<float>(alpha), b16p, y.data_ptr<float>(), n);
        else
          axpy(static_cast<float>(alpha), b.data_ptr<float>(), y.data_ptr<float>(), n);
        auto ywant = y0.to(torch::kFloat64) + static_cast<double>(static_cast<float>(alpha)) * bb;
        // One multiply-add per element: within one f32 rounding of each term's size.
        const double ybound =
            1.2e-7 * (y0.abs().max().item<double>() + bb.abs().max().item<double>());
        EXPECT_LT((y.to(torch::kFloat64) - ywant).abs().max().item<double>(), ybound)
            << "n " << n << " bf16 " << bf16;
      }
    }
  }
}

TEST(Gemv, GradientsTakeTheMatmulPath) {
  torch::manual_seed(5);
  auto w = torch::randn({6, 32}, torch::requires_grad());
  auto x = torch::randn({1, 32});
  auto y = linear_forward(x, w, {});
  ASSERT_TRUE(y.requires_grad());
  y.sum().backward();
  // d(sum y)/dW = x broadcast over the rows.
  EXPECT_TRUE(torch::allclose(w.grad(), x.expand({6, 32})));
}

TEST(Gemv, KernelNamesFollowTheCpu) {
  const CpuFeatures& f = cpu_features();
  const std::string bf16 = gemv_kernel_name(WeightKind::kBF16, true);
  if (f.avx512() && f.avx512bf16)
    EXPECT_EQ(bf16, "avx512_bf16");
  else if (f.avx512())
    EXPECT_EQ(bf16, "avx512");
  else if (f.avx2_fma())
    EXPECT_EQ(bf16, "avx2");
  else
    EXPECT_EQ(bf16, "scalar");
  LevelGuard g(KernelLevel::kScalar);
  EXPECT_EQ(gemv_kernel_name(WeightKind::kQ8_0, false), "scalar");
  if (f.avx2_fma()) {
    LevelGuard g2(KernelLevel::kAvx2);
    EXPECT_EQ(gemv_kernel_name(WeightKind::kQ8_0, false), "avx2");
    EXPECT_EQ(gemv_kernel_name(WeightKind::kBF16, true), "avx2");
  }
}
