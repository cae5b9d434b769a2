// window_nll (see nll.h).
#include "model/nll.h"

namespace llmprune {
namespace {
// Positions projected through lm_head at once: bounds the [B, chunk, vocab] logits block
// (a 128k vocabulary at 2048 positions would otherwise need 1 GiB per window in fp32).
constexpr int64_t kLogitChunk = 512;
}  // namespace

torch::Tensor window_nll(const torch::Tensor& hidden, const torch::Tensor& ids,
                         const std::function<torch::Tensor(const torch::Tensor&)>& head) {
  const int64_t len = ids.size(1);
  auto targets = ids.narrow(1, 1, len - 1).to(hidden.device(), torch::kLong);  // [B, L-1]
  auto total = torch::zeros({ids.size(0)}, torch::kDouble);
  for (int64_t s = 0; s < len - 1; s += kLogitChunk) {
    int64_t n = std::min(kLogitChunk, len - 1 - s);
    auto logits = head(hidden.narrow(1, s, n));  // [B, n, V], fp32 at least
    if (logits.scalar_type() != torch::kFloat64) logits = logits.to(torch::kFloat);
    auto logp = torch::log_softmax(logits, -1).gather(-1, targets.narrow(1, s, n).unsqueeze(-1));
    total += (-logp).squeeze(-1).to(torch::kDouble).sum(1).cpu();
  }
  return total;
}

}  // namespace llmprune
