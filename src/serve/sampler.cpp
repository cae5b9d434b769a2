// Sampler (see sampler.h). Filtering follows Hugging Face's order: temperature, top-k,
// then top-p on the remaining distribution (a token is kept while the probability mass
// before it is below top_p, so at least one token always survives).
#include "serve/sampler.h"

#include "util/error.h"

namespace llmprune {

Sampler::Sampler(const SamplingOptions& opts) : opts_(opts), rng_(opts.seed) {
  LLMPRUNE_CHECK(opts.temperature >= 0, "--temperature must be >= 0, got ", opts.temperature);
  LLMPRUNE_CHECK(opts.top_k >= 0, "--top-k must be >= 0, got ", opts.top_k);
  LLMPRUNE_CHECK(opts.top_p > 0 && opts.top_p <= 1, "--top-p must be in (0, 1], got ",
                 opts.top_p);
}

int64_t Sampler::sample(const torch::Tensor& logits) {
  auto x = logits.detach().to(torch::kCPU, torch::kDouble).flatten();
  if (opts_.temperature == 0) return x.argmax().item<int64_t>();
  x = x / opts_.temperature;
  auto sorted = x.sort(/*dim=*/0, /*descending=*/true);
  auto values = std::get<0>(sorted), order = std::get<1>(sorted);
  int64_t keep = values.numel();
  if (opts_.top_k > 0) keep = std::min(keep, opts_.top_k);
  auto probs = torch::softmax(values.narrow(0, 0, keep), 0);
  if (opts_.top_p < 1) {
    auto mass_before = probs.cumsum(0) - probs;
    int64_t n = (mass_before < opts_.top_p).sum().item<int64_t>();
    keep = std::max<int64_t>(1, n);
    probs = probs.narrow(0, 0, keep);
    probs = probs / probs.sum();
  }
  const double* p = probs.data_ptr<double>();
  double u = std::uniform_real_distribution<double>(0.0, 1.0)(rng_), acc = 0;
  for (int64_t i = 0; i < keep; ++i) {
    acc += p[i];
    if (u < acc) return order[i].item<int64_t>();
  }
  return order[keep - 1].item<int64_t>();
}

}  // namespace llmprune
