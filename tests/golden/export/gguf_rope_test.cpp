// llama3 RoPE scaling travels to llama.cpp as rope_freqs.weight: llama.cpp rotates by
// position x inv_freq[i] / factor[i]. Invariant checked: those frequencies equal the llama3
// inverse frequencies of llmprune's own RoPE (transformers' formula, src/model/rope.h) for
// Llama-3.1's settings (factor 8, low 1, high 4, original context 8192, theta 500000).
#include <gtest/gtest.h>

#include <cmath>

#include "export/gguf_export.h"
#include "model/rope.h"

namespace llmprune {
namespace {

TEST(GgufRope, Llama3FactorsMatchTheModelsInverseFrequencies) {
  RopeSpec r;
  r.theta = 500000.0;
  r.scaling = "llama3";
  r.factor = 8.0;
  r.low_freq_factor = 1.0;
  r.high_freq_factor = 4.0;
  r.original_max_position_embeddings = 8192;
  const int64_t head_dim = 128;
  const torch::Tensor f = gguf_llama3_rope_factors(r, head_dim);
  ASSERT_EQ(f.numel(), head_dim / 2);
  const RopeFrequencies scaled = rope_frequencies(r, head_dim);
  RopeSpec plain = r;
  plain.scaling = "default";
  const RopeFrequencies base = rope_frequencies(plain, head_dim);
  int n_one = 0, n_factor = 0;
  for (int64_t i = 0; i < head_dim / 2; ++i) {
    const double ours = base.inv_freq[i] / f[i].item<float>();
    EXPECT_NEAR(ours / scaled.inv_freq[i], 1.0, 1e-6) << i;  // factors are stored as f32
    n_one += f[i].item<float>() == 1.0f;
    n_factor += f[i].item<float>() == 8.0f;
  }
  // High frequencies unscaled, low ones divided by 8, a smooth band between.
  EXPECT_GT(n_one, 0);
  EXPECT_GT(n_factor, 0);
  EXPECT_LT(n_one + n_factor, head_dim / 2);
}

}  // namespace
}  // namespace llmprune
