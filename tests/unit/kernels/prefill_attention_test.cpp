// The fused bf16 prefill attention kernel (kernels/prefill_attention.h, reached through
// grouped_attention) against a float64 reference computed here from the same bf16 inputs,
// and against LibTorch's chunked path (forced by limiting the kernels to AVX2).
#include "kernels/prefill_attention.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/cpu_features.h"
#include "kernels/gemv.h"
#include "model/attention.h"

using namespace llmprune;
using namespace llmprune::kernels;

namespace {

bool have_bf16() { return cpu_features().avx512() && cpu_features().avx512bf16; }
#define SKIP_WITHOUT_BF16()                                                               \
  if (!have_bf16())                                                                       \
  GTEST_SKIP() << "this CPU has no avx512_bf16 (needs avx512f/bw/vl + avx512_bf16): the " \
                  "fused prefill attention kernel cannot run here"

struct LevelGuard {
  explicit LevelGuard(KernelLevel level) { set_kernel_limit(level); }
  ~LevelGuard() { set_kernel_limit(KernelLevel::kAvx512); }
};

struct Case {
  int64_t H, KV, hd, T, past, window;
};
std::string name(const Case& c) {
  return "H" + std::to_string(c.H) + " KV" + std::to_string(c.KV) + " hd" + std::to_string(c.hd) +
         " T" + std::to_string(c.T) + " past" + std::to_string(c.past) + " window" +
         std::to_string(c.window);
}

std::vector<Case> cases() {
  std::vector<Case> out;
  for (auto [H, KV] : {std::pair<int64_t, int64_t>{8, 2}, {4, 4}})
    for (int64_t hd : {8, 64, 80, 128})
      for (int64_t T : {2, 17, 100})
        for (int64_t past : {0, 13})
          for (int64_t window : {0, 5}) out.push_back({H, KV, hd, T, past, window});
  out.push_back({16, 1, 24, 9, 3, 0});  // 16 heads per kv head: two row groups per query
  out.push_back({2, 1, 7, 33, 0, 0});   // odd head dim (zero-padded pairs)
  return out;
}

// Inputs as grouped_attention gets them from a KV cache: q contiguous [B, H, T, hd]; k a
// narrowed view of a longer cache [B, KV, S + 7, hd]; v a transposed [B, S, KV, hd] buffer
// (row stride KV * hd), as the slot-less path hands it over. Values N(0, 1.5^2), bf16.
struct Inputs {
  torch::Tensor q, k, v;
};
Inputs make(const Case& c, int64_t B) {
  const int64_t S = c.past + c.T;
  Inputs in;
  in.q = (1.5 * torch::randn({B, c.H, c.T, c.hd})).to(torch::kBFloat16);
  in.k = (1.5 * torch::randn({B, c.KV, S + 7, c.hd})).to(torch::kBFloat16).narrow(2, 0, S);
  in.v = (1.5 * torch::randn({B, S, c.KV, c.hd})).to(torch::kBFloat16).transpose(1, 2);
  return in;
}

// float64 attention of the bf16 inputs (no intermediate rounding), plus per output element
// the first-order bound on what the kernel's bf16 roundings may move it by:
//  - q x scale rounded (relative 2^-9 per element) and the score rounded (2^-9 |s|):
//    |ds_j| <= 2^-8 A_j, A_j = scale sum_d |q_d k_jd|;
//  - softmax: |dp_j| <= p_j (|ds_j| + max_i |ds_i|) <= p_j 2^-7 max A, then the probability
//    rounded (2^-9 p_j): sum_j |dp_j| <= 2^-7 max A + 2^-9;
//  - out = sum p v moves by <= max|v| sum |dp| and is rounded (2^-9 |out|);
// doubled for the second-order terms and the f32 sums (relative ~ S 2^-24).
struct Reference {
  torch::Tensor out, tol;  // [B, T, H * hd] float64
};
Reference reference(const Inputs& in, int64_t past, int64_t window) {
  const auto q = in.q.to(torch::kFloat64).contiguous(), k = in.k.to(torch::kFloat64).contiguous(),
             v = in.v.to(torch::kFloat64).contiguous();
  const int64_t B = q.size(0), H = q.size(1), T = q.size(2), hd = q.size(3), KV = k.size(1);
  const int64_t S = k.size(2);
  const double scale = 1.0 / std::sqrt(static_cast<double>(hd));
  auto out = torch::zeros({B, T, H * hd}, torch::kFloat64), tol = torch::zeros_like(out);
  const double *Q = q.data_ptr<double>(), *K = k.data_ptr<double>(), *V = v.data_ptr<double>();
  double *O = out.data_ptr<double>(), *E = tol.data_ptr<double>();
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < H; ++h) {
      const int64_t kv = h / (H / KV);
      const double* Kh = K + (b * KV + kv) * S * hd;
      const double* Vh = V + (b * KV + kv) * S * hd;
      for (int64_t t = 0; t < T; ++t) {
        const int64_t pos = past + t, lo = window > 0 ? std::max<int64_t>(0, pos - window + 1) : 0;
        const double* qr = Q + ((b * H + h) * T + t) * hd;
        std::vector<double> s, p;
        double max_a = 0, max_v = 0;
        for (int64_t j = lo; j <= pos; ++j) {
          double dot = 0, a = 0;
          for (int64_t d = 0; d < hd; ++d) {
            dot += qr[d] * Kh[j * hd + d];
            a += std::abs(qr[d] * Kh[j * hd + d]);
            max_v = std::max(max_v, std::abs(Vh[j * hd + d]));
          }
          s.push_back(dot * scale);
          max_a = std::max(max_a, a * scale);
        }
        const double mx = *std::max_element(s.begin(), s.end());
        double z = 0;
        for (double x : s) z += std::exp(x - mx);
        double* o = O + (b * T + t) * H * hd + h * hd;
        double* e = E + (b * T + t) * H * hd + h * hd;
        for (int64_t j = lo; j <= pos; ++j) {
          const double pj = std::exp(s[static_cast<size_t>(j - lo)] - mx) / z;
          for (int64_t d = 0; d < hd; ++d) o[d] += pj * Vh[j * hd + d];
        }
        const double dp = std::ldexp(max_a, -7) + std::ldexp(1.0, -9);
        for (int64_t d = 0; d < hd; ++d)
          e[d] = 2 * (max_v * dp + std::ldexp(std::abs(o[d]), -9)) + 1e-6;
      }
    }
  return {out, tol};
}

// float (RNE) then bf16 (RNE, as c10::BFloat16) of a double.
double to_bf16(double x) {
  return static_cast<double>(static_cast<float>(c10::BFloat16(static_cast<float>(x))));
}

// The chunked path's computation with float64 sums: q x scale by LibTorch itself (as the
// chunked path), scores rounded to bf16, softmax in float64, probabilities rounded to bf16,
// their product with v rounded to bf16. The kernel differs only by summing in f32 in another
// order (and its exp), so a result differs only where that moves a sum across a bf16
// rounding boundary.
torch::Tensor emulate(const Inputs& in, int64_t past, int64_t window) {
  const int64_t hd = in.q.size(3);
  const auto q = (in.q * (1.0 / std::sqrt(static_cast<double>(hd)))).to(torch::kFloat64);
  const auto k = in.k.to(torch::kFloat64).contiguous(), v = in.v.to(torch::kFloat64).contiguous();
  const int64_t B = q.size(0), H = q.size(1), T = q.size(2), KV = k.size(1), S = k.size(2);
  auto out = torch::zeros({B, T, H * hd}, torch::kFloat64);
  const double *Q = q.data_ptr<double>(), *K = k.data_ptr<double>(), *V = v.data_ptr<double>();
  double* O = out.data_ptr<double>();
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < H; ++h) {
      const double* Kh = K + (b * KV + h / (H / KV)) * S * hd;
      const double* Vh = V + (b * KV + h / (H / KV)) * S * hd;
      for (int64_t t = 0; t < T; ++t) {
        const int64_t pos = past + t, lo = window > 0 ? std::max<int64_t>(0, pos - window + 1) : 0;
        const double* qr = Q + ((b * H + h) * T + t) * hd;
        std::vector<double> s;
        for (int64_t j = lo; j <= pos; ++j) {
          double dot = 0;
          for (int64_t d = 0; d < hd; ++d) dot += qr[d] * Kh[j * hd + d];
          s.push_back(to_bf16(dot));
        }
        const double mx = *std::max_element(s.begin(), s.end());
        double z = 0;
        for (double x : s) z += std::exp(x - mx);
        std::vector<double> o(static_cast<size_t>(hd), 0.0);
        for (int64_t j = lo; j <= pos; ++j) {
          const double p = to_bf16(std::exp(s[static_cast<size_t>(j - lo)] - mx) / z);
          for (int64_t d = 0; d < hd; ++d) o[static_cast<size_t>(d)] += p * Vh[j * hd + d];
        }
        for (int64_t d = 0; d < hd; ++d)
          O[(b * T + t) * H * hd + h * hd + d] = to_bf16(o[static_cast<size_t>(d)]);
      }
    }
  return out;
}

torch::Tensor attend(const Inputs& in, int64_t past, int64_t window) {
  torch::InferenceMode guard;
  return grouped_attention(in.q, in.k, in.v, past, window);
}

}  // namespace

TEST(PrefillAttention, MatchesFloat64ReferenceWithinBf16Rounding) {
  SKIP_WITHOUT_BF16();
  ASSERT_TRUE(prefill_attention_available());
  torch::manual_seed(11);
  for (const Case& c : cases()) {
    const Inputs in = make(c, 2);
    const torch::Tensor got = attend(in, c.past, c.window).to(torch::kFloat64);
    const Reference want = reference(in, c.past, c.window);
    ASSERT_EQ(got.sizes(), want.out.sizes()) << name(c);
    const auto excess = ((got - want.out).abs() - want.tol).max().item<double>();
    EXPECT_LE(excess, 0.0) << name(c);
  }
}

// Where both round at the same places and only the order (and precision) of the f32 sums
// differs, an element moves only where that carries a sum across a bf16 rounding boundary:
// a score moves by one bf16 ulp (<= 2^-7 |s|), which moves the probabilities by at most
// sum_j |dp_j| <= 2 x 2^-7 max|s|; a probability by one ulp (sum_j |dp_j| <= 2^-7); the output
// by one ulp (2^-7 |out|). So |got - want| <= max|v| (2^-6 max|s| + 2^-7) + 2^-7 |want|; and
// since an f32 sum of n terms lands that close to a boundary rarely (~ n 2^-24 / 2^-9), at least
// `same` of the elements must agree bit for bit.
void expect_rounding_flips_only(const torch::Tensor& got, const torch::Tensor& want,
                                const Inputs& in, const Case& c, double same) {
  const double max_v = in.v.to(torch::kFloat64).abs().max().item<double>();
  const auto k = in.k.to(torch::kFloat64).repeat_interleave(c.H / c.KV, 1);
  const double max_s =
      torch::matmul(in.q.to(torch::kFloat64), k.transpose(-1, -2)).abs().max().item<double>() /
      std::sqrt(static_cast<double>(c.hd));
  const auto g = got.to(torch::kFloat64), w = want.to(torch::kFloat64);
  const auto bound = max_v * (std::ldexp(max_s, -6) + std::ldexp(1.0, -7)) + w.abs() / 128;
  EXPECT_LE(((g - w).abs() - bound).max().item<double>(), 0.0) << name(c);
  EXPECT_GE(g.eq(w).to(torch::kFloat64).mean().item<double>(), same) << name(c);
}

TEST(PrefillAttention, RoundsWhereTheChunkedPathRounds) {
  SKIP_WITHOUT_BF16();
  torch::manual_seed(13);
  for (const Case& c : cases()) {
    const Inputs in = make(c, 2);
    // Seen: >= 99.95 % equal over these cases (2026-12-02).
    expect_rounding_flips_only(attend(in, c.past, c.window), emulate(in, c.past, c.window), in, c,
                               0.999);
  }
}

// Against the chunked LibTorch path itself (forced by the AVX2 limit). LibTorch 1.13 does not
// always sum a bf16 product in f32: bmm takes a kernel summing in bf16 when rows x cols x
// contraction < 400, and other small products were seen to differ from f32 sums too (T = 2
// here: 43-86 % of the elements bit-equal to the kernel, which matches the float64 emulation
// above); those cases are covered by the two tests above. For T >= 17 the flip bound holds and
// 98.2-100 % of the elements were bit-equal (2026-12-02), so at least 97 %.
TEST(PrefillAttention, MatchesLibTorchChunkedPath) {
  SKIP_WITHOUT_BF16();
  torch::manual_seed(12);
  for (const Case& c : cases()) {
    if (c.T <= 2) continue;
    const Inputs in = make(c, 2);
    const torch::Tensor fast = attend(in, c.past, c.window);
    torch::Tensor slow;
    {
      LevelGuard limit(KernelLevel::kAvx2);
      ASSERT_FALSE(prefill_attention_available());
      slow = attend(in, c.past, c.window);
    }
    expect_rounding_flips_only(fast, slow, in, c, 0.97);
  }
}

// With the kernel limit below AVX-512 (or no AVX-512 BF16) the kernel reports itself
// unavailable, so grouped_attention keeps LibTorch's path; T = 1 keeps the decoding kernel.
TEST(PrefillAttention, AvailabilityFollowsTheKernelLimit) {
  SKIP_WITHOUT_BF16();
  EXPECT_TRUE(prefill_attention_available());
  for (KernelLevel l : {KernelLevel::kScalar, KernelLevel::kAvx2}) {
    LevelGuard limit(l);
    EXPECT_FALSE(prefill_attention_available());
  }
  EXPECT_TRUE(prefill_attention_available());
}
