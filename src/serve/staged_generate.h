// Generation on a staged model: prefill on A, route by entropy (serve/router.h), decode on
// the chosen stage (reusing A's cache when A answers), optionally escalating to a deeper
// stage mid-answer or drafting with A for the chosen stage (serve/speculative.h).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "serve/generate.h"
#include "serve/router.h"
#include "serve/staged_model.h"

namespace llmprune {

struct Escalation {
  int64_t at_token = 0;  // generated tokens before the switch
  int from = 0, to = 0;
  double mean_entropy = 0;
};

struct StagedResult {
  std::vector<int64_t> tokens;  // generated tokens only
  std::string stop_reason;      // eos | max_new_tokens | context_full | cancelled
  int stage = 0;                // the stage chosen from the entropy (or forced)
  int final_stage = 0;          // the stage that produced the last token (after escalation)
  double entropy = 0;           // nats, A's next-token distribution after the prompt
  std::vector<Escalation> escalations;
  int64_t drafted = 0, accepted = 0;  // speculative decoding
  double prefill_seconds = 0, decode_seconds = 0;
  double decode_tokens_per_second() const;
};

// on_token: called for every generated token; return false to stop ("cancelled").
using TokenSink = std::function<bool(int64_t)>;

// Entropy of A's next-token distribution after `prompt` (one prefill on A).
double prompt_entropy(StagedModel& model, const std::vector<int64_t>& prompt);

// Called once the stage is chosen, before the first token.
using RouteSink = std::function<void(int stage, double entropy)>;

// With policy.speculative > 0 and a stage deeper than A, A drafts for it: greedy gives the
// stage's greedy output exactly; temperature > 0 uses speculative sampling (speculative.h).
StagedResult staged_generate(StagedModel& model, const std::vector<int64_t>& prompt,
                             const GenerateOptions& opts, const RoutePolicy& policy,
                             const TokenSink& on_token = {}, const RouteSink& on_route = {});

}  // namespace llmprune
