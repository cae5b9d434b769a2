// The fused decode attention kernel (kernels/decode_attention.h, reached through
// grouped_attention with one query) at every kernel level this CPU runs: against a float64
// emulation of its roundings, against a copy of the per-head loop it replaced, and its e^x.
#include "kernels/decode_attention.h"

#include <ATen/Parallel.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "kernels/row_ops.h"
#include "kernels/vec_math.h"
#include "model/attention.h"
#include "unit/kernels/kernel_levels.h"

using namespace llmprune;
using namespace llmprune::kernels;

namespace {

const char* level_name(KernelLevel l) {
  return l == KernelLevel::kAvx512 ? "avx512" : l == KernelLevel::kAvx2 ? "avx2" : "scalar";
}

struct Case {
  int64_t H, KV, hd, S, window;
};
std::string name(const Case& c, torch::ScalarType dt) {
  return std::string(dt == torch::kBFloat16 ? "bf16" : "f32") + " H" + std::to_string(c.H) + " KV" +
         std::to_string(c.KV) + " hd" + std::to_string(c.hd) + " S" + std::to_string(c.S) +
         " window" + std::to_string(c.window) + " " + level_name(kernel_level());
}

// g = 1, 4, 8; head dims with and without 16- / 8-lane tails; 1, 2, 17 and 300 keys (one
// partial block, several, many); no window, and windows cutting in and not.
std::vector<Case> cases() {
  std::vector<Case> out;
  for (auto [H, KV] : {std::pair<int64_t, int64_t>{4, 4}, {8, 2}, {16, 2}})
    for (int64_t hd : {64, 72, 80, 128})
      for (int64_t S : {1, 2, 17, 300})
        for (int64_t window : {0, 5}) out.push_back({H, KV, hd, S, window});
  out.push_back({3, 1, 7, 19, 0});    // odd head dim below one vector
  out.push_back({12, 1, 96, 33, 0});  // g = 12: two head groups
  return out;
}

// As the KV cache hands them over: q contiguous [B, H, 1, hd]; k, v slots [B, KV, max_len, hd]
// narrowed to the S keys so far (different capacities: different strides). Values N(0, 1.5^2).
struct Inputs {
  torch::Tensor q, k, v;
};
Inputs make(const Case& c, torch::ScalarType dt) {
  const int64_t B = 2;
  Inputs in;
  in.q = (1.5 * torch::randn({B, c.H, 1, c.hd})).to(dt);
  in.k = (1.5 * torch::randn({B, c.KV, c.S + 9, c.hd})).to(dt).narrow(2, 0, c.S);
  in.v = (1.5 * torch::randn({B, c.KV, c.S + 4, c.hd})).to(dt).narrow(2, 0, c.S);
  return in;
}

torch::Tensor attend(const Inputs& in, int64_t window) {
  torch::InferenceMode guard;
  return grouped_attention(in.q, in.k, in.v, in.k.size(2) - 1, window);
}

// Round a double to the element type (via f32: the double rounding this adds is far below
// the tolerances it is compared with).
double round_to(double x, torch::ScalarType dt) {
  const float f = static_cast<float>(x);
  return dt == torch::kBFloat16 ? static_cast<double>(static_cast<float>(c10::BFloat16(f))) : f;
}

// The kernel's computation with float64 sums and exp: q x scale in f32 rounded, scores
// rounded, probabilities rounded, the output rounded. Also returns max |score|.
torch::Tensor emulate(const Inputs& in, int64_t window, double* max_s) {
  const auto dt = in.q.scalar_type();
  const int64_t B = in.q.size(0), H = in.q.size(1), hd = in.q.size(3), KV = in.k.size(1);
  const int64_t S = in.k.size(2), lo = window > 0 ? std::max<int64_t>(0, S - window) : 0;
  const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(hd)));
  const auto q = in.q.to(torch::kFloat64).contiguous(), k = in.k.to(torch::kFloat64).contiguous(),
             v = in.v.to(torch::kFloat64).contiguous();
  auto out = torch::zeros({B, 1, H * hd}, torch::kFloat64);
  const double *Q = q.data_ptr<double>(), *K = k.data_ptr<double>(), *V = v.data_ptr<double>();
  double* O = out.data_ptr<double>();
  *max_s = 0;
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < H; ++h) {
      const double* Kh = K + (b * KV + h / (H / KV)) * S * hd;
      const double* Vh = V + (b * KV + h / (H / KV)) * S * hd;
      std::vector<double> qs(static_cast<size_t>(hd)), s, o(static_cast<size_t>(hd), 0.0);
      for (int64_t d = 0; d < hd; ++d)
        qs[static_cast<size_t>(d)] =
            round_to(static_cast<float>(Q[(b * H + h) * hd + d]) * scale, dt);
      for (int64_t j = lo; j < S; ++j) {
        double dot = 0;
        for (int64_t d = 0; d < hd; ++d) dot += qs[static_cast<size_t>(d)] * Kh[j * hd + d];
        s.push_back(round_to(dot, dt));
        *max_s = std::max(*max_s, std::abs(s.back()));
      }
      const double mx = *std::max_element(s.begin(), s.end());
      double z = 0;
      for (double x : s) z += std::exp(x - mx);
      for (int64_t j = lo; j < S; ++j) {
        const double p = round_to(std::exp(s[static_cast<size_t>(j - lo)] - mx) / z, dt);
        for (int64_t d = 0; d < hd; ++d) o[static_cast<size_t>(d)] += p * Vh[j * hd + d];
      }
      for (int64_t d = 0; d < hd; ++d)
        O[(b * H + h) * hd + d] = round_to(o[static_cast<size_t>(d)], dt);
    }
  return out;
}

// The per-head loop single_query_attention ran before this kernel (model/attention.cpp up to
// commit f131961), kept as written: kernels::dot / axpy per cache row, std::exp.
inline const float* raw(const float* p) { return p; }
inline const uint16_t* raw(const at::BFloat16* p) { return reinterpret_cast<const uint16_t*>(p); }
template <typename T>
torch::Tensor old_single_query(const torch::Tensor& q, const torch::Tensor& k,
                               const torch::Tensor& v, int64_t window) {
  const int64_t B = q.size(0), H = q.size(1), hd = q.size(3), kvh = k.size(1), S = k.size(2);
  const int64_t g = H / kvh, first = window > 0 ? std::max<int64_t>(0, S - window) : 0;
  const int64_t keys = S - first;
  const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(hd)));
  const torch::Tensor qc = q.contiguous();
  torch::Tensor out = torch::empty({B, 1, H * hd}, q.options());
  const T *Q = qc.data_ptr<T>(), *K0 = k.data_ptr<T>(), *V0 = v.data_ptr<T>();
  T* O = out.data_ptr<T>();
  std::vector<float> qs(static_cast<size_t>(hd)), p(static_cast<size_t>(keys)),
      acc(static_cast<size_t>(hd));
  for (int64_t i = 0; i < B * H; ++i) {
    const int64_t b = i / H, kv = i % H / g, ks = k.stride(2), vs = v.stride(2);
    const T* q1 = Q + i * hd;
    const T* K = K0 + b * k.stride(0) + kv * k.stride(1) + first * ks;
    const T* V = V0 + b * v.stride(0) + kv * v.stride(1) + first * vs;
    for (int64_t d = 0; d < hd; ++d)
      qs[static_cast<size_t>(d)] = static_cast<T>(static_cast<float>(q1[d]) * scale);
    float mx = -INFINITY;
    for (int64_t j = 0; j < keys; ++j) {
      const float sj = static_cast<T>(kernels::dot(qs.data(), raw(K + j * ks), hd));
      p[static_cast<size_t>(j)] = sj;
      mx = std::max(mx, sj);
    }
    float z = 0;
    for (auto& e : p) z += (e = std::exp(e - mx));
    std::fill(acc.begin(), acc.end(), 0.0f);
    for (int64_t j = 0; j < keys; ++j)
      kernels::axpy(static_cast<T>(p[static_cast<size_t>(j)] / z), raw(V + j * vs), acc.data(), hd);
    for (int64_t d = 0; d < hd; ++d) O[i * hd + d] = static_cast<T>(acc[static_cast<size_t>(d)]);
  }
  return out;
}

// How far `got` may be from `want` when both round at the same places and only the order and
// precision of the f32 sums (and e^x within 2 ulp) differ.
// bf16: a sum lands across a rounding boundary only rarely (~ n 2^-24 / 2^-9); then a score
// moves one bf16 ulp (<= 2^-7 |s|), moving the probabilities by sum_j |dp_j| <= 2^-6 max|s|;
// a probability one ulp (sum_j |dp_j| <= 2^-7); the output one ulp (2^-7 |out|). So
// |got - want| <= max|v| (2^-6 max|s| + 2^-7) + 2^-7 |want|, and at least `same` bit-equal.
// f32: no rounding boundary, the sums just differ by a few f32 ulps (a score by ~hd 2^-24
// max|s| at worst, e^x by 2 ulp, the output's sum of `keys` terms likewise): bounded by
// max|v| 1e-6 (1 + max|s|) + 1e-6 |want|. Seen: at most 0.08 of that bound (2026-12-02).
void expect_close(const torch::Tensor& got, const torch::Tensor& want, const Inputs& in,
                  double max_s, double same, const std::string& what) {
  const double max_v = in.v.to(torch::kFloat64).abs().max().item<double>();
  const auto g = got.to(torch::kFloat64), w = want.to(torch::kFloat64);
  ASSERT_EQ(g.sizes(), w.sizes()) << what;
  const bool bf16 = in.q.scalar_type() == torch::kBFloat16;
  const auto bound = bf16 ? max_v * (std::ldexp(max_s, -6) + std::ldexp(1.0, -7)) + w.abs() / 128
                          : max_v * 1e-6 * (1 + max_s) + w.abs() * 1e-6;
  EXPECT_LE(((g - w).abs() - bound).max().item<double>(), 0.0) << what;
  if (bf16) {
    EXPECT_GE(g.eq(w).to(torch::kFloat64).mean().item<double>(), same) << what;
  }
}

}  // namespace

TEST(DecodeAttention, MatchesFloat64EmulationOfItsRoundings) {
  torch::manual_seed(21);
  for (auto dt : {torch::kBFloat16, torch::kFloat32})
    for (const Case& c : cases()) {
      const Inputs in = make(c, dt);
      double max_s = 0;
      const torch::Tensor want = emulate(in, c.window, &max_s);
      for (KernelLevel l : levels()) {
        LevelGuard limit(l);
        // Seen: >= 99.8 % bit-equal per case in bf16, at most 3e-4 of the bound (2026-12-02).
        expect_close(attend(in, c.window), want, in, max_s, 0.99, name(c, dt));
      }
    }
}

TEST(DecodeAttention, MatchesThePerHeadLoopItReplaced) {
  torch::manual_seed(22);
  for (auto dt : {torch::kBFloat16, torch::kFloat32})
    for (const Case& c : cases()) {
      const Inputs in = make(c, dt);
      double max_s = 0;
      emulate(in, c.window, &max_s);
      for (KernelLevel l : levels()) {
        LevelGuard limit(l);
        const torch::Tensor old = dt == torch::kBFloat16
                                      ? old_single_query<at::BFloat16>(in.q, in.k, in.v, c.window)
                                      : old_single_query<float>(in.q, in.k, in.v, c.window);
        // Seen: bf16 100 % bit-equal at every level, f32 bit-equal on the scalar level (same
        // sum order) and within 0.04 of the bound on the others (2026-12-02).
        expect_close(attend(in, c.window), old, in, max_s, 0.995, name(c, dt));
      }
    }
}

// Items are independent: splitting them over threads changes no bit.
TEST(DecodeAttention, ThreadsChangeNothing) {
  torch::manual_seed(23);
  const Case c{32, 4, 64, 700, 0};
  const int threads = at::get_num_threads();
  for (auto dt : {torch::kBFloat16, torch::kFloat32}) {
    const Inputs in = make(c, dt);
    at::set_num_threads(1);
    const torch::Tensor one = attend(in, 0);
    at::set_num_threads(std::max(2, threads));
    EXPECT_TRUE(torch::equal(one, attend(in, 0))) << name(c, dt);
    at::set_num_threads(threads);
  }
}

#if defined(__x86_64__)
namespace {
LLMPRUNE_AVX512_MATH void exp16(const float* x, float* y) {
  _mm512_storeu_ps(y, kernels::detail::exp_512(_mm512_loadu_ps(x)));
}
LLMPRUNE_AVX2_MATH void exp8(const float* x, float* y) {
  _mm256_storeu_ps(y, kernels::detail::exp_256(_mm256_loadu_ps(x)));
}
// Distance in f32 steps (both finite and positive, or both 0).
int64_t ulps(float a, float b) {
  int32_t ia, ib;
  std::memcpy(&ia, &a, 4);
  std::memcpy(&ib, &b, 4);
  return std::abs(static_cast<int64_t>(ia) - ib);
}
}  // namespace

// The softmax's e^x (vec_math.h) on what it gets, x - max <= 0: within 2 ulp of std::exp
// (glibc's expf, itself correctly rounded in practice) on a dense sweep of [-87.3, 0] (normal
// results), e^-inf = 0, and results below the normal range flush or round towards 0.
TEST(DecodeAttention, VectorExpWithinTwoUlp) {
  std::vector<float> x;
  for (float v = -87.3f; v <= 0; v += 1.3e-4f) x.push_back(v);
  x.push_back(0.0f);
  while (x.size() % 16) x.push_back(-1.0f);
  std::vector<float> y(x.size());
  for (KernelLevel l : levels()) {
    if (l == KernelLevel::kScalar) continue;
    for (size_t i = 0; i < x.size(); i += 16) {
      if (l == KernelLevel::kAvx512) {
        exp16(x.data() + i, y.data() + i);
      } else {
        exp8(x.data() + i, y.data() + i);
        exp8(x.data() + i + 8, y.data() + i + 8);
      }
    }
    int64_t worst = 0;
    for (size_t i = 0; i < x.size(); ++i) worst = std::max(worst, ulps(y[i], std::exp(x[i])));
    EXPECT_LE(worst, 2) << level_name(l);
    float inf[16], out[16];
    std::fill(inf, inf + 16, -INFINITY);
    if (l == KernelLevel::kAvx512) {
      exp16(inf, out);
    } else {
      exp8(inf, out);
      exp8(inf + 8, out + 8);
    }
    EXPECT_EQ(out[0], 0.0f) << level_name(l);
  }
}
#endif
