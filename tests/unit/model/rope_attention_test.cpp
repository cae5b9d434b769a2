// RoPE inverse frequencies against hand-derived values, the rotation against its definition,
// and grouped attention against a naive per-element reference written here.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>

#include "arch/registry.h"
#include "model/attention.h"
#include "model/linear.h"
#include "model/rope.h"
#include "util/error.h"

using namespace llmprune;

namespace {
RopeSpec rope_with(const std::string& scaling, double factor) {
  RopeSpec r;
  r.theta = 10000.0;
  r.scaling = scaling;
  r.factor = factor;
  return r;
}
void expect_freqs(const std::vector<double>& got, const std::vector<double>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i)
    EXPECT_NEAR(got[i], want[i], 1e-12 + 1e-9 * want[i]) << "index " << i;
}
}  // namespace

// head_dim 16, theta 10000: inv_freq[i] = 10000^(-2i/16) = 10^(-i/2).
TEST(Rope, DefaultFrequencies) {
  auto f = rope_frequencies(rope_with("default", 1.0), 16);
  EXPECT_EQ(f.rot_dim, 16);
  expect_freqs(f.inv_freq, {1.0, 0.31622776601683794, 0.1, 0.03162277660168379, 0.01,
                            0.0031622776601683794, 0.001, 0.00031622776601683794});
  EXPECT_EQ(f.attention_scaling, 1.0);
}

// Linear (position interpolation): every frequency divided by the factor.
TEST(Rope, LinearFrequencies) {
  auto f = rope_with("linear", 4.0);
  auto got = rope_frequencies(f, 8).inv_freq;  // base: 1, 0.1, 0.01, 0.001
  expect_freqs(got, {0.25, 0.025, 0.0025, 0.00025});
}

// Llama 3.1 rule (factor 8, low 1, high 4, original context 8192), by hand:
// wavelength 2*pi/f; < 8192/4 = 2048 kept (i = 0..5: up to 1986.9); > 8192 divided by 8
// (i = 7: 19869 -> 3.1623e-4 / 8); i = 6 (6283.2) in between: smooth =
// (8192/6283.185 - 1) / (4 - 1) = 0.1012658, f = (1 - s) * 0.001 / 8 + s * 0.001 = 2.136075e-4.
TEST(Rope, Llama3Frequencies) {
  RopeSpec r = rope_with("llama3", 8.0);
  r.low_freq_factor = 1.0;
  r.high_freq_factor = 4.0;
  r.original_max_position_embeddings = 8192;
  auto f = rope_frequencies(r, 16);
  expect_freqs(f.inv_freq, {1.0, 0.31622776601683794, 0.1, 0.03162277660168379, 0.01,
                            0.0031622776601683794, 0.00021360754402756864, 3.952847075210474e-05});
}

// YaRN (factor 4, original context 256, beta_fast 32, beta_slow 1, dim 16), by hand:
// correction dim d(r) = 16 ln(256 / (2 pi r)) / (2 ln 10000): d(32) = 0.2098 -> floor 0,
// d(1) = 3.2201 -> ceil 4. ramp(i) = clamp(i / 4, 0, 1); f = base * (ramp / 4 + 1 - ramp):
// i=1: 0.31623 * 0.8125, i=2: 0.1 * 0.625, i=3: 0.031623 * 0.4375, i>=4: base / 4.
// attention factor 0.1 ln 4 + 1 = 1.1386294.
TEST(Rope, YarnFrequencies) {
  RopeSpec r = rope_with("yarn", 4.0);
  r.original_max_position_embeddings = 256;
  auto f = rope_frequencies(r, 16);
  expect_freqs(f.inv_freq, {1.0, 0.2569350598886808, 0.0625, 0.01383496476323666, 0.0025,
                            0.0007905694150420948, 0.00025, 7.905694150420948e-05});
  EXPECT_NEAR(f.attention_scaling, 1.138629436111989, 1e-12);
}

TEST(Rope, UnknownScalingIsRefused) {
  EXPECT_THROW(rope_frequencies(rope_with("dynamic", 2.0), 8), Error);
}

// rotate_half convention: pair (i, i + d/2) rotated by angle pos * inv_freq[i]; the last
// (1 - partial_rotary_factor) share of dims untouched.
TEST(Rope, RotationMatchesDefinitionWithPartialRotary) {
  RopeSpec r = rope_with("default", 1.0);
  r.partial_rotary_factor = 0.5;
  auto f = rope_frequencies(r, 8);  // rot_dim 4: pairs (0,2), (1,3) rotated; 4..7 passed
  ASSERT_EQ(f.rot_dim, 4);
  auto x = torch::randn({1, 1, 3, 8}, torch::kFloat64);
  auto t = rope_table(f, 5, 3, torch::kFloat64, torch::kCPU);
  auto y = apply_rope(x, t);
  for (int64_t p = 0; p < 3; ++p) {
    for (int64_t i = 0; i < 2; ++i) {
      double a = (5 + p) * f.inv_freq[static_cast<size_t>(i)];
      double x1 = x[0][0][p][i].item<double>(), x2 = x[0][0][p][i + 2].item<double>();
      EXPECT_NEAR(y[0][0][p][i].item<double>(), x1 * std::cos(a) - x2 * std::sin(a), 1e-12);
      EXPECT_NEAR(y[0][0][p][i + 2].item<double>(), x2 * std::cos(a) + x1 * std::sin(a), 1e-12);
    }
    for (int64_t i = 4; i < 8; ++i)
      EXPECT_EQ(y[0][0][p][i].item<double>(), x[0][0][p][i].item<double>());
  }
}

// The fused CPU rotation (f32, bf16) rounds every product and sum as LibTorch's elementwise
// ops do, so it equals the op-by-op formula (written out here) bit for bit: on a transposed
// (strided) input, with partial rotary, at several positions. With a gradient wanted the
// op-by-op path runs, so autograd still sees the rotation.
TEST(Rope, FusedRotationEqualsTheElementwiseOps) {
  RopeSpec r = rope_with("default", 1.0);
  r.partial_rotary_factor = 0.75;
  auto f = rope_frequencies(r, 32);  // rot_dim 24: 8 dims passed through
  for (auto dt : {torch::kFloat32, torch::kBFloat16}) {
    torch::manual_seed(11);
    auto x = torch::randn({2, 5, 3, 32}).to(dt).transpose(1, 2);  // [B, H=3, T=5, hd]
    auto t = rope_table(f, 7, 5, dt, torch::kCPU);
    const int64_t half = f.rot_dim / 2;
    auto x1 = x.narrow(-1, 0, half), x2 = x.narrow(-1, half, half);
    auto want = torch::cat(
        {x1 * t.cos - x2 * t.sin, x2 * t.cos + x1 * t.sin, x.narrow(-1, f.rot_dim, 32 - f.rot_dim)},
        -1);
    torch::Tensor got;
    {
      torch::InferenceMode guard;
      got = apply_rope(x, t);
    }
    EXPECT_TRUE(got.is_contiguous());
    EXPECT_TRUE(torch::equal(got, want)) << dt;
    auto xg = x.detach().clone().requires_grad_(true);
    apply_rope(xg, t).sum().backward();
    EXPECT_TRUE(xg.grad().defined());
  }
}

// Decoding's RoPE writes each head's rotated row where the caller says (the KV cache row of
// the new position, or a contiguous q block) straight from the projection output, which may
// be a column slice of a fused one. Expected: apply_rope (itself equal to the op-by-op
// formula above) of the [B, heads, 1, hd] view, bit for bit; without a table the rows are
// copied unchanged.
TEST(Rope, DecodeRowsEqualApplyRopeWrittenIntoTheCache) {
  RopeSpec r = rope_with("default", 1.0);
  r.partial_rotary_factor = 0.75;
  auto f = rope_frequencies(r, 32);
  const int64_t B = 2, heads = 3, hd = 32, pos = 4, len = 7;
  for (auto dt : {torch::kFloat32, torch::kBFloat16}) {
    torch::manual_seed(12);
    auto fused = torch::randn({B, 1, (heads + 2) * hd}).to(dt);
    auto x = fused.narrow(-1, hd, heads * hd);  // a column slice: row stride (heads + 2) hd
    auto t = rope_table(f, 9, 1, dt, torch::kCPU);
    auto want = apply_rope(x.view({B, 1, heads, hd}).transpose(1, 2), t);  // [B, heads, 1, hd]
    for (const RopeTable* table : std::vector<const RopeTable*>{&t, nullptr}) {
      torch::InferenceMode guard;
      ASSERT_TRUE(rope_decode_rows_apply(x, table));
      auto cache = torch::zeros({B, heads, len, hd}, dt);
      rope_decode_rows(x, heads, table,
                       static_cast<char*>(cache.data_ptr()) + pos * hd * cache.element_size(),
                       cache.stride(0), cache.stride(1));
      auto expect = table ? want : x.view({B, 1, heads, hd}).transpose(1, 2);
      EXPECT_TRUE(torch::equal(cache.narrow(2, pos, 1), expect)) << dt;
      EXPECT_EQ(cache.narrow(2, 0, pos).abs().sum().item<double>(), 0.0);  // nothing else
      EXPECT_EQ(cache.narrow(2, pos + 1, len - pos - 1).abs().sum().item<double>(), 0.0);
    }
  }
  // Where it does not apply, the callers keep the general path.
  auto t32 = rope_table(f, 0, 1, torch::kFloat32, torch::kCPU);
  EXPECT_FALSE(rope_decode_rows_apply(torch::zeros({1, 2, 96}), &t32));  // two positions
  EXPECT_FALSE(rope_decode_rows_apply(torch::zeros({1, 1, 96}, torch::kBFloat16), &t32));
  EXPECT_FALSE(rope_decode_rows_apply(torch::zeros({1, 1, 96}, torch::kFloat64), nullptr));
}

namespace {
// Naive attention: loops over batch, head, query; softmax over the allowed keys.
torch::Tensor naive_attention(const torch::Tensor& q, const torch::Tensor& k,
                              const torch::Tensor& v, int64_t past, int64_t window) {
  const int64_t B = q.size(0), H = q.size(1), T = q.size(2), d = q.size(3), KV = k.size(1);
  auto out = torch::zeros({B, T, H * d}, torch::kFloat64);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < H; ++h) {
      const int64_t kvh = h / (H / KV);
      for (int64_t i = 0; i < T; ++i) {
        const int64_t p = past + i;
        std::vector<double> s;
        std::vector<int64_t> keys;
        for (int64_t j = 0; j <= p; ++j) {
          if (window > 0 && p - j >= window) continue;
          s.push_back((q[b][h][i] * k[b][kvh][j]).sum().item<double>() / std::sqrt(double(d)));
          keys.push_back(j);
        }
        double mx = *std::max_element(s.begin(), s.end()), z = 0;
        for (auto& x : s) z += (x = std::exp(x - mx));
        auto o = torch::zeros({d}, torch::kFloat64);
        for (size_t n = 0; n < keys.size(); ++n) o += (s[n] / z) * v[b][kvh][keys[n]];
        out[b][i].narrow(0, h * d, d).copy_(o);
      }
    }
  return out;
}
}  // namespace

TEST(Attention, GroupedMatchesNaiveReference) {
  struct Case {
    int64_t B, H, KV, T, past, window, chunk;
  };
  const Case cases[] = {
      {2, 4, 2, 7, 0, 0, 3},    // GQA, causal, chunks of 3 (7 = 3 + 3 + 1)
      {1, 4, 2, 4, 5, 3, 2},    // continuing after 5 cached tokens, window 3
      {1, 6, 3, 1, 9, 4, 256},  // single-token decode with window
      {2, 3, 3, 9, 0, 4, 4},    // MHA, window smaller than the sequence
  };
  torch::manual_seed(7);
  for (const auto& c : cases) {
    auto q = torch::randn({c.B, c.H, c.T, 4}, torch::kFloat64);
    auto k = torch::randn({c.B, c.KV, c.past + c.T, 4}, torch::kFloat64);
    auto v = torch::randn({c.B, c.KV, c.past + c.T, 4}, torch::kFloat64);
    auto got = grouped_attention(q, k, v, c.past, c.window, c.chunk);
    auto want = naive_attention(q, k, v, c.past, c.window);
    EXPECT_LT((got - want).abs().max().item<double>(), 1e-12)
        << "B" << c.B << " H" << c.H << " KV" << c.KV << " T" << c.T << " past" << c.past
        << " window" << c.window;
  }
}

// Decoding's single query on the CPU (f32, bf16) reads the KV cache in place: k and v here
// are narrowed views of a longer cache, as KVSlot hands them over. f32 differs from the
// float64 reference by summation order only (1e-5); bf16 rounds scores and probabilities to
// 8 bits as the matmul path does, so both stay within 2 % of the reference's scale, and the
// fast path stays within bf16 rounding of the LibTorch path (taken when a gradient is wanted).
TEST(Attention, SingleQueryReadsTheCacheInPlace) {
  struct Case {
    int64_t B, H, KV, past, window;
  };
  const Case cases[] = {{1, 8, 2, 11, 0}, {2, 4, 4, 6, 3}, {1, 6, 3, 0, 0}};
  torch::manual_seed(9);
  for (const auto& c : cases) {
    const int64_t S = c.past + 1, hd = 16;
    auto q64 = torch::randn({c.B, c.H, 1, hd}, torch::kFloat64);
    auto cache_k = torch::randn({c.B, c.KV, S + 5, hd}, torch::kFloat64);
    auto cache_v = torch::randn({c.B, c.KV, S + 5, hd}, torch::kFloat64);
    for (auto dt : {torch::kFloat32, torch::kBFloat16}) {
      auto q = q64.to(dt), ck = cache_k.to(dt), cv = cache_v.to(dt);
      auto k = ck.narrow(2, 0, S), v = cv.narrow(2, 0, S);
      ASSERT_FALSE(k.is_contiguous());
      torch::Tensor got;
      {
        torch::InferenceMode guard;
        got = grouped_attention(q, k, v, c.past, c.window);
      }
      auto want = naive_attention(q.to(torch::kFloat64), k.to(torch::kFloat64),
                                  v.to(torch::kFloat64), c.past, c.window);
      const double err = (got.to(torch::kFloat64) - want).abs().max().item<double>();
      EXPECT_LT(err, dt == torch::kFloat32 ? 1e-5 : 0.02) << "H" << c.H << " past" << c.past;
      auto qg = q.detach().clone().requires_grad_(true);
      auto slow = grouped_attention(qg, k, v, c.past, c.window).detach();
      EXPECT_LT((got - slow).to(torch::kFloat64).abs().max().item<double>(),
                dt == torch::kFloat32 ? 1e-5 : 0.02);
    }
  }
}

// One decoding step of the attention module (projections, RoPE, cache write, attention) on
// the CPU takes a fast path: k rotated and v copied straight into the cache, no views or
// copies. It must leave the cache exactly as the general path does (the path a gradient
// takes; LibTorch's matmul serves both here, GEMV kernels off, so the projections are the
// same bits) and return its context up to the attention kernels' summation order (the
// single-query kernel against the chunked matmul path: 1e-5 of the largest value in f32, two
// bf16 units in the last place of it in bf16).
TEST(Attention, DecodeStepWritesTheCacheAsTheGeneralPath) {
  AttentionSpec spec;
  spec.n_heads = 8;
  spec.n_kv_heads = 2;
  spec.head_dim = 16;
  const int64_t hidden = 64, past = 5, capacity = 9;
  const auto f = rope_frequencies(rope_with("default", 1.0), spec.head_dim);
  for (auto dt : {torch::kFloat32, torch::kBFloat16}) {
    torch::manual_seed(3);
    Attention attn(spec, hidden, family_by_name("llama").naming(),
                   torch::TensorOptions().dtype(dt));
    {
      torch::NoGradGuard no_grad;
      for (auto& p : attn->parameters()) p.normal_(0, 0.2);
    }
    const auto t = rope_table(f, past, 1, dt, torch::kCPU);
    const auto x = torch::randn({1, 1, hidden}).to(dt);
    const auto k0 = torch::randn({1, spec.n_kv_heads, capacity, spec.head_dim}).to(dt);
    const auto v0 = torch::randn({1, spec.n_kv_heads, capacity, spec.head_dim}).to(dt);
    KVSlot fast{k0.clone(), v0.clone(), past}, general{k0.clone(), v0.clone(), past};
    set_gemv_enabled(false);
    torch::Tensor got;
    {
      torch::InferenceMode guard;
      got = attn->context(x, &t, &fast);
    }
    const auto want = attn->context(x.clone().requires_grad_(true), &t, &general).detach();
    set_gemv_enabled(true);
    EXPECT_TRUE(torch::equal(fast.k, general.k.detach())) << dt;
    EXPECT_TRUE(torch::equal(fast.v, general.v.detach())) << dt;
    EXPECT_FALSE(torch::equal(fast.k, k0));  // the new row was written
    const double scale = std::max(1.0, want.to(torch::kFloat64).abs().max().item<double>());
    EXPECT_LE(
        (got - want).to(torch::kFloat64).abs().max().item<double>(),
        scale * (dt == torch::kFloat32 ? 1e-5 : 2.0 / 128))  // bf16: 2 units in the last place
        << dt;
  }
}
