// Golden: greedy generation with our KV cache on stories260K reproduces llama.cpp's 40
// tokens (assets/reference/stories260K/greedy_gen.json; smallest top-1 margin there 0.13).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <iostream>

#include "model/causal_lm.h"
#include "model/kv_cache.h"
#include "support/assets.h"
#include "util/json.h"

using namespace llmprune;

namespace {

// Prompt decoded in one batch, then one token per forward with the KV cache; argmax over
// raw logits, EOS not treated as a stop (the reference's method).
std::vector<int64_t> greedy(CausalLM& model, const std::vector<int64_t>& prompt, int64_t n) {
  torch::NoGradGuard ng;
  KVCache cache(model, 1, static_cast<int64_t>(prompt.size()) + n);
  auto logits = model.forward(torch::tensor(prompt, torch::kLong).unsqueeze(0), &cache);
  std::vector<int64_t> out;
  for (int64_t i = 0; i < n; ++i) {
    int64_t next = logits[0][-1].argmax().item<int64_t>();
    out.push_back(next);
    logits = model.forward(torch::tensor({next}, torch::kLong).unsqueeze(0), &cache);
  }
  return out;
}

}  // namespace

TEST(GoldenGenerate, Stories260KGreedyFp32MatchesLlamaCpp) {
  LLMPRUNE_REQUIRE_ASSET("reference/stories260K/greedy_gen.json");
  LLMPRUNE_REQUIRE_ASSET("models/stories260K-hf/model.safetensors");
  json ref = read_json_file(test::asset("reference/stories260K/greedy_gen.json"));
  auto model = CausalLM::load(test::asset("models/stories260K-hf"));
  auto want = ref.at("generated_ids").get<std::vector<int64_t>>();
  ASSERT_EQ(want.size(), 40u);
  EXPECT_EQ(greedy(*model, ref.at("prompt_tokens").get<std::vector<int64_t>>(), 40), want);
}

// bf16 weights and compute: the reference's smallest top-1 margin (0.13) is below the bf16
// logit error (up to ~0.4, see logits_test), so tokens may legitimately diverge after a
// close call. We require identity up to the first step whose reference margin is < 0.5
// (measured: all 40 tokens identical; first margin < 0.5 at step 16).
TEST(GoldenGenerate, Stories260KGreedyBf16MatchesUntilFirstCloseCall) {
  LLMPRUNE_REQUIRE_ASSET("reference/stories260K/greedy_gen.json");
  LLMPRUNE_REQUIRE_ASSET("models/stories260K-hf-bf16/model.safetensors");
  json ref = read_json_file(test::asset("reference/stories260K/greedy_gen.json"));
  LoadOptions o;
  o.dtype = "bf16";
  auto model = CausalLM::load(test::asset("models/stories260K-hf-bf16"), o);
  auto want = ref.at("generated_ids").get<std::vector<int64_t>>();
  auto margins = ref.at("top1_minus_top2").get<std::vector<double>>();
  auto got = greedy(*model, ref.at("prompt_tokens").get<std::vector<int64_t>>(), 40);
  size_t safe = 0;
  while (safe < margins.size() && margins[safe] >= 0.5) ++safe;
  int64_t same = 0;
  while (same < 40 && got[static_cast<size_t>(same)] == want[static_cast<size_t>(same)]) ++same;
  std::cout << "bf16 greedy: " << same << " of 40 tokens identical; first close call at step "
            << safe << "\n";
  EXPECT_GE(same, static_cast<int64_t>(safe));
}
