// Self-speculative decoding: a shallow stage drafts K tokens, the deep stage checks them in
// one forward pass. Greedy: keep the longest prefix equal to the deep stage's argmax plus its
// own next token (the text is exactly the deep stage's greedy output). Sampling: speculative
// sampling (Leviathan et al. 2023, Chen et al. 2023), whose tokens follow the deep stage's
// sampling distribution. Rejected tokens are dropped from both KV caches (KVCache::truncate).
#pragma once

#include <functional>
#include <random>
#include <string>
#include <vector>

#include "model/causal_lm.h"
#include "model/kv_cache.h"
#include "serve/sampler.h"

namespace llmprune {

struct SpeculativeState {
  std::vector<int64_t> seq;  // prompt + generated tokens
  int64_t n_prompt = 0;
  int64_t drafted = 0, accepted = 0;
};

struct SpeculativeVerdict {
  bool accepted = false;
  int64_t token = 0;  // x when accepted, else the resampled token
};

// One verification step of speculative sampling for a token x drafted from q: accept with
// probability min(1, p[x] / q[x]); otherwise return a token drawn from
// normalize(max(0, p - q)). p, q: probability vectors [vocab] (double, CPU). Over x ~ q the
// returned token is distributed exactly as p. Uses one uniform draw from `rng` to decide and
// one more on rejection.
SpeculativeVerdict speculative_accept(const torch::Tensor& p, const torch::Tensor& q, int64_t x,
                                      std::mt19937_64& rng);

// Entry: both caches prefilled with the prompt, st.seq == the prompt, `target_row` = the
// target's logits [vocab] after it. `emit(token)` is called for every token produced, in
// order, and returns "" to go on or a stop reason (then the token is not appended). Returns
// the stop reason ("context_full" when the caches are full).
// `sampler` null or greedy: the target's greedy output. Otherwise speculative sampling with
// the sampler's temperature / top-k / top-p applied to both stages: draft tokens and the
// token after a fully accepted block come from `sampler` (one uniform each, in token order),
// accept/resample decisions from a second generator seeded from the sampler's seed. So when
// the draft's distributions equal the target's, every draft is accepted and the tokens are
// those of plain sampling with the same seed.
std::string speculative_decode(CausalLM& draft, KVCache& draft_cache, CausalLM& target,
                               KVCache& target_cache, const torch::Tensor& target_row, int64_t k,
                               SpeculativeState& st,
                               const std::function<std::string(int64_t)>& emit,
                               Sampler* sampler = nullptr);

}  // namespace llmprune
