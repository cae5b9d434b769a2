// Sampler (see sampler.h). Filtering follows Hugging Face's order: temperature, top-k,
// then top-p on the remaining distribution (a token is kept while the probability mass
// before it is below top_p, so at least one token always survives).
#include "serve/sampler.h"

#include <algorithm>

#include "util/error.h"

namespace llmprune {

Sampler::Sampler(const SamplingOptions& opts) : opts_(opts), rng_(opts.seed) {
  LLMPRUNE_CHECK(opts.temperature >= 0, "--temperature must be >= 0, got ", opts.temperature);
  LLMPRUNE_CHECK(opts.top_k >= 0, "--top-k must be >= 0, got ", opts.top_k);
  LLMPRUNE_CHECK(opts.top_p > 0 && opts.top_p <= 1, "--top-p must be in (0, 1], got ",
                 opts.top_p);
}

int64_t Sampler::sample(const torch::Tensor& logits) {
  if (opts_.temperature == 0)
    return logits.detach().to(torch::kCPU, torch::kDouble).flatten().argmax().item<int64_t>();
  return draw(distribution(logits));
}

torch::Tensor Sampler::distribution(const torch::Tensor& logits) const {
  LLMPRUNE_ASSERT(opts_.temperature > 0, "Sampler::distribution needs temperature > 0");
  auto x = logits.detach().to(torch::kCPU, torch::kDouble).flatten() / opts_.temperature;
  auto sorted = x.sort(/*dim=*/0, /*descending=*/true);
  auto values = std::get<0>(sorted), order = std::get<1>(sorted);
  int64_t keep = values.numel();
  if (opts_.top_k > 0) keep = std::min(keep, opts_.top_k);
  auto probs = torch::softmax(values.narrow(0, 0, keep), 0);
  if (opts_.top_p < 1) {
    auto mass_before = probs.cumsum(0) - probs;
    keep = std::max<int64_t>(1, (mass_before < opts_.top_p).sum().item<int64_t>());
    probs = probs.narrow(0, 0, keep);
    probs = probs / probs.sum();
  }
  auto out = torch::zeros_like(x);
  out.scatter_(0, order.narrow(0, 0, keep), probs);
  return out;
}

int64_t Sampler::draw(const torch::Tensor& probs) {
  auto p = probs.to(torch::kCPU, torch::kDouble).contiguous();
  const double* v = p.data_ptr<double>();
  const int64_t n = p.numel();
  const double u = std::uniform_real_distribution<double>(0.0, 1.0)(rng_);
  double acc = 0;
  int64_t last = 0;  // the last token with mass (rounding can leave u >= the total)
  for (int64_t i = 0; i < n; ++i) {
    if (v[i] <= 0) continue;
    acc += v[i];
    last = i;
    if (u < acc) return i;
  }
  return last;
}

}  // namespace llmprune
