// Autoregressive generation with a KV cache: prefill the prompt in one pass, then one token
// per step, streaming each token to a callback.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "model/causal_lm.h"
#include "serve/sampler.h"

namespace llmprune {

struct GenerateOptions {
  int64_t max_new_tokens = 128;
  SamplingOptions sampling;
  bool stop_at_eos = true;
};

struct GenerateResult {
  std::vector<int64_t> tokens;     // generated tokens only
  std::string stop_reason;         // "eos" | "max_new_tokens" | "context_full"
  double prefill_seconds = 0, decode_seconds = 0;
};

// `on_token` is called for each generated token as soon as it is chosen.
GenerateResult generate(CausalLM& model, const std::vector<int64_t>& prompt,
                        const GenerateOptions& opts,
                        const std::function<void(int64_t)>& on_token = {});

}  // namespace llmprune
