// Self-speculative decoding: a shallow stage drafts K tokens greedily, the deep stage checks
// them in one forward pass and keeps the longest agreeing prefix plus its own next token, so
// the text is exactly the deep stage's greedy output. Rejected tokens are dropped from both
// KV caches with KVCache::truncate.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "model/causal_lm.h"
#include "model/kv_cache.h"

namespace llmprune {

struct SpeculativeState {
  std::vector<int64_t> seq;  // prompt + generated tokens
  int64_t n_prompt = 0;
  int64_t drafted = 0, accepted = 0;
};

// Entry: both caches prefilled with the prompt, st.seq == the prompt, `target_row` = the
// target's logits [vocab] after it. `emit(token)` is called for every token the target's
// greedy decoding would produce, in order, and returns "" to go on or a stop reason (then the
// token is not appended). Returns the stop reason ("context_full" when the caches are full).
std::string speculative_decode(CausalLM& draft, KVCache& draft_cache, CausalLM& target,
                               KVCache& target_cache, const torch::Tensor& target_row, int64_t k,
                               SpeculativeState& st,
                               const std::function<std::string(int64_t)>& emit);

}  // namespace llmprune
