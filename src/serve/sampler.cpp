// Sampler (see sampler.h). Filtering follows Hugging Face's order: temperature, top-k,
// then top-p on the remaining distribution (a token is kept while the probability mass
// before it is below top_p, so at least one token always survives).
#include "serve/sampler.h"

#include <algorithm>
#include <cmath>

#include "util/error.h"

namespace llmprune {

Sampler::Sampler(const SamplingOptions& opts) : opts_(opts), rng_(opts.seed) {
  LLMPRUNE_CHECK(opts.temperature >= 0, "--temperature must be >= 0, got ", opts.temperature);
  LLMPRUNE_CHECK(opts.top_k >= 0, "--top-k must be >= 0, got ", opts.top_k);
  LLMPRUNE_CHECK(opts.top_p > 0 && opts.top_p <= 1, "--top-p must be in (0, 1], got ", opts.top_p);
}

namespace {

// argmax over CPU f32 / bf16 logits read in place (decoding calls this per token; the
// LibTorch version widened a copy first): the first index of the largest value, a NaN counting
// as the largest, as torch's argmax; widening is exact, so comparing in f32 is comparing the
// values. -1 where it does not apply (another device or dtype, not contiguous).
int64_t argmax_in_place(const torch::Tensor& logits) {
  const auto dt = logits.scalar_type();
  if (!logits.device().is_cpu() || !logits.is_contiguous() || logits.numel() == 0 ||
      (dt != torch::kFloat32 && dt != torch::kBFloat16))
    return -1;
  auto scan = [&](const auto* v) {
    int64_t best = 0;
    float top = static_cast<float>(v[0]);
    for (int64_t i = 1; i < logits.numel() && !std::isnan(top); ++i) {
      const float x = static_cast<float>(v[i]);
      if (x > top || std::isnan(x)) {
        top = x;
        best = i;
      }
    }
    return best;
  };
  return dt == torch::kFloat32 ? scan(logits.data_ptr<float>())
                               : scan(logits.data_ptr<at::BFloat16>());
}

}  // namespace

int64_t Sampler::sample(const torch::Tensor& logits) {
  if (opts_.temperature == 0) {
    const int64_t best = argmax_in_place(logits);
    if (best >= 0) return best;
    return logits.detach().to(torch::kCPU, torch::kDouble).flatten().argmax().item<int64_t>();
  }
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
