// serve/sampler: greedy, temperature, top-k and top-p against hand-derived distributions.
#include "serve/sampler.h"

#include <gtest/gtest.h>

#include <cmath>

#include "util/error.h"

namespace llmprune {
namespace {

TEST(Sampler, GreedyIsArgmax) {
  Sampler s({0.0, 0, 1.0, 1});
  EXPECT_EQ(s.sample(torch::tensor({0.1, 2.0, -1.0, 1.9})), 1);
}

// Greedy reads f32 / bf16 logits in place; it must pick what torch's argmax picks (the first
// of equal maxima, the first NaN), whatever the dtype, shape or layout.
TEST(Sampler, GreedyInPlaceIsTorchArgmax) {
  Sampler s({0.0, 0, 1.0, 1});
  const float nan = std::nanf("");
  const std::vector<std::vector<float>> cases{
      {0.1f, 2.0f, -1.0f, 2.0f}, {-3.0f}, {-5.0f, -4.0f, -4.0f}, {1.0f, nan, 3.0f, nan}};
  for (const auto& v : cases)
    for (auto dt : {torch::kFloat32, torch::kBFloat16}) {
      const auto t = torch::tensor(v).to(dt).view({1, 1, -1});
      EXPECT_EQ(s.sample(t), t.flatten().argmax().item<int64_t>()) << t;
    }
  torch::manual_seed(3);
  const auto big = torch::randn({1, 32000}).to(torch::kBFloat16);
  EXPECT_EQ(s.sample(big), big.argmax().item<int64_t>());
  const auto strided = torch::randn({64, 2}).t()[1];  // not contiguous: LibTorch's argmax
  EXPECT_EQ(s.sample(strided), strided.argmax().item<int64_t>());
}

TEST(Sampler, TopKOneAndTinyTopPAreGreedy) {
  auto logits = torch::tensor({0.5, 0.2, 3.0, 2.9});
  Sampler k1({1.5, 1, 1.0, 7});
  Sampler p0({1.5, 0, 1e-6, 7});
  for (int i = 0; i < 50; ++i) {
    EXPECT_EQ(k1.sample(logits), 2);
    EXPECT_EQ(p0.sample(logits), 2);
  }
}

TEST(Sampler, FrequenciesFollowSoftmax) {
  // logits [0, ln 3] at temperature 1: p(1) = 3/4. 20000 draws: binomial sd = 0.0031,
  // so a 0.02 tolerance is > 6 sd.
  Sampler s({1.0, 0, 1.0, 42});
  auto logits = torch::tensor({0.0, std::log(3.0)});
  int ones = 0;
  for (int i = 0; i < 20000; ++i) ones += s.sample(logits) == 1;
  EXPECT_NEAR(ones / 20000.0, 0.75, 0.02);
}

TEST(Sampler, TemperatureSharpens) {
  // logits [0, ln 3] at temperature 0.5 = [0, 2 ln 3]: p(1) = 9/10.
  Sampler s({0.5, 0, 1.0, 3});
  auto logits = torch::tensor({0.0, std::log(3.0)});
  int ones = 0;
  for (int i = 0; i < 20000; ++i) ones += s.sample(logits) == 1;
  EXPECT_NEAR(ones / 20000.0, 0.9, 0.02);
}

TEST(Sampler, TopPKeepsSmallestSetReachingP) {
  // probs 0.5, 0.3, 0.15, 0.05 (logits = their logs). top_p 0.7: mass before token 0 is 0,
  // before token 1 is 0.5 (< 0.7, kept), before token 2 is 0.8 (cut). So only {0, 1},
  // renormalised to 0.625 / 0.375.
  auto logits = torch::tensor({std::log(0.5), std::log(0.3), std::log(0.15), std::log(0.05)});
  Sampler s({1.0, 0, 0.7, 5});
  int counts[4] = {0, 0, 0, 0};
  for (int i = 0; i < 20000; ++i) counts[s.sample(logits)]++;
  EXPECT_EQ(counts[2] + counts[3], 0);
  EXPECT_NEAR(counts[0] / 20000.0, 0.625, 0.02);
}

TEST(Sampler, TopKNeverLeavesTheTopK) {
  auto logits = torch::tensor({1.0, 5.0, 4.0, 0.0, 4.5});
  Sampler s({5.0, 2, 1.0, 9});
  for (int i = 0; i < 2000; ++i) {
    int64_t t = s.sample(logits);
    EXPECT_TRUE(t == 1 || t == 4) << t;
  }
}

TEST(Sampler, SameSeedSameSequence) {
  auto logits = torch::randn({100});
  Sampler a({1.0, 0, 0.9, 11}), b({1.0, 0, 0.9, 11});
  for (int i = 0; i < 100; ++i) EXPECT_EQ(a.sample(logits), b.sample(logits));
}

TEST(Sampler, BadOptionsAreBadInput) {
  EXPECT_THROW(Sampler({-1.0, 0, 1.0, 0}), Error);
  EXPECT_THROW(Sampler({1.0, -1, 1.0, 0}), Error);
  EXPECT_THROW(Sampler({1.0, 0, 0.0, 0}), Error);
  EXPECT_THROW(Sampler({1.0, 0, 1.5, 0}), Error);
}

}  // namespace
}  // namespace llmprune
