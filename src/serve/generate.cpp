// Generation loop (see generate.h).
#include "serve/generate.h"

#include <algorithm>

#include "model/kv_cache.h"
#include "util/error.h"
#include "util/timer.h"

namespace llmprune {

GenerateResult generate(CausalLM& model, const std::vector<int64_t>& prompt,
                        const GenerateOptions& opts, const std::function<void(int64_t)>& on_token) {
  const ModelSpec& spec = model.spec();
  LLMPRUNE_CHECK(!prompt.empty(), "generate: the prompt encodes to no tokens (give a non-empty "
                                  "prompt, or a tokenizer that adds BOS)");
  LLMPRUNE_CHECK(opts.max_new_tokens >= 0, "--max-new-tokens must be >= 0, got ",
                 opts.max_new_tokens);
  const int64_t n_prompt = static_cast<int64_t>(prompt.size());
  int64_t max_len = n_prompt + opts.max_new_tokens;
  if (spec.max_position_embeddings > 0) {
    LLMPRUNE_CHECK(n_prompt < spec.max_position_embeddings, "the prompt has ", n_prompt,
                   " tokens; the model's context (max_position_embeddings) is ",
                   spec.max_position_embeddings);
    max_len = std::min(max_len, spec.max_position_embeddings);
  }

  torch::InferenceMode guard;
  Sampler sampler(opts.sampling);
  KVCache cache(spec, /*batch=*/1, max_len, model.device(), model.dtype());
  GenerateResult r;
  r.stop_reason = "max_new_tokens";
  auto ids = torch::tensor(prompt, torch::kLong).view({1, n_prompt});
  Timer timer;
  for (int64_t step = 0; step < opts.max_new_tokens; ++step) {
    if (cache.length() + ids.size(1) > max_len) {
      r.stop_reason = "context_full";
      break;
    }
    // Only the last position's logits are needed: the prompt's other positions skip lm_head.
    auto hidden = model.forward_hidden(ids, &cache);
    auto logits = model.lm_head(hidden.narrow(1, hidden.size(1) - 1, 1));
    int64_t next = sampler.sample(logits[0][0]);
    if (step == 0) {
      r.prefill_seconds = timer.seconds();
      timer.reset();
    }
    bool eos = std::find(spec.eos_token_ids.begin(), spec.eos_token_ids.end(), next) !=
               spec.eos_token_ids.end();
    if (eos && opts.stop_at_eos) {
      r.stop_reason = "eos";
      break;
    }
    r.tokens.push_back(next);
    if (on_token) on_token(next);
    ids = torch::full({1, 1}, next, torch::kLong);
  }
  r.decode_seconds = timer.seconds();
  return r;
}

}  // namespace llmprune
