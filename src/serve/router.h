// Routing a prompt to a stage by the entropy of stage A's next-token distribution at the last
// prompt position (the distribution of the first generated token), in nats; thresholds
// fixed or calibrated so given fractions of a prompt file go to each stage.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

namespace llmprune {

struct RoutePolicy {
  // Stage 0 (A) when H < low, stage 1 (AB) when low <= H < high, the deepest stage when
  // H >= high (with two stages: A below low, the deeper one otherwise). Nats.
  double low = 2.0, high = 4.0;
  int force_stage = -1;  // >= 0: every prompt goes there (entropy still reported)
  // During generation: when the mean entropy of the last `escalate_window` generated
  // distributions reaches `high`, continue on the next deeper stage.
  bool escalate = false;
  int64_t escalate_window = 8;
  // Self-speculative decoding: A drafts this many tokens for the chosen stage (greedy:
  // longest agreeing prefix; temperature > 0: speculative sampling).
  int64_t speculative = 0;
};

// Entropy in nats of softmax(logits) for one row [vocab] (computed in double).
double entropy_nats(const torch::Tensor& logits);

// The stage for entropy `h` (see RoutePolicy) among `n_stages`.
int stage_for_entropy(double h, const RoutePolicy& p, int n_stages);

// "LOW,HIGH" -> (low, high); bad_input naming --thresholds when malformed or LOW > HIGH.
std::pair<double, double> parse_thresholds(const std::string& text);
// "a,b,c" (non-negative, sum 1 within 1e-6) -> fractions; bad_input naming --fractions.
std::vector<double> parse_fractions(const std::string& text);

// Thresholds so that, of `entropies`, round(a x n) fall below low and round((a + b) x n)
// below high (each threshold halfway between neighbouring values). Equal entropies across a
// cut make the fraction unreachable: the cut moves to the first value that differs.
std::pair<double, double> calibrate_thresholds(std::vector<double> entropies,
                                               const std::vector<double>& fractions);

}  // namespace llmprune
