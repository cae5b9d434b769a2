// Perplexity under the protocol papers report (docs/DESIGN.md): the token stream is cut
// into non-overlapping windows of seq_len tokens (the short tail is dropped); each window is
// evaluated alone from position 0 and scored on its tokens 1..L-1 from logits 0..L-2;
// PPL = exp(total NLL / scored tokens).
#pragma once

#include <cstdint>
#include <vector>

#include "model/causal_lm.h"
#include "util/json.h"

namespace llmprune {

struct PerplexityOptions {
  int64_t seq_len = 2048;
  int64_t batch_size = 1;    // windows per forward pass
  int64_t max_windows = 0;   // 0 = all windows
  bool show_progress = true;
};

struct PerplexityResult {
  int64_t seq_len = 0;
  int64_t n_tokens = 0;      // tokens in the whole stream
  int64_t n_windows = 0;     // windows evaluated
  int64_t n_scored = 0;      // = n_windows * (seq_len - 1)
  double total_nll = 0;      // natural log, summed in double
  double ppl = 0;
  double seconds = 0;
  double tokens_per_second = 0;  // window tokens processed per second
  std::vector<double> window_nll;

  json to_json() const;
};

// Throws bad_input when the stream holds fewer tokens than one window.
PerplexityResult perplexity(CausalLM& model, const std::vector<int64_t>& tokens,
                            const PerplexityOptions& opts);

}  // namespace llmprune
