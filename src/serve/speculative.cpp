// Self-speculative decoding (see speculative.h). Invariants at the start of a round, with
// P = seq.size() - 1 and last = seq[P] (the newest token, in neither cache yet): the target
// cache holds seq[0, P), the draft cache seq[0, D) with D <= P.
#include "serve/speculative.h"

#include <algorithm>

#include "util/error.h"

namespace llmprune {

namespace {

int64_t argmax_row(const torch::Tensor& row) { return row.argmax().item<int64_t>(); }

torch::Tensor ids_of(const std::vector<int64_t>& v, size_t from, size_t to) {
  std::vector<int64_t> part(v.begin() + static_cast<std::ptrdiff_t>(from),
                            v.begin() + static_cast<std::ptrdiff_t>(to));
  return torch::tensor(part, torch::kLong).view({1, static_cast<int64_t>(part.size())});
}

// Seed of the accept/resample generator: distinct from the sampler's own stream.
constexpr uint64_t kAcceptSeedMix = 0x9E3779B97F4A7C15ull;

}  // namespace

SpeculativeVerdict speculative_accept(const torch::Tensor& p_in, const torch::Tensor& q_in,
                                      int64_t x, std::mt19937_64& rng) {
  auto p = p_in.to(torch::kCPU, torch::kDouble).contiguous();
  auto q = q_in.to(torch::kCPU, torch::kDouble).contiguous();
  const int64_t n = p.numel();
  LLMPRUNE_ASSERT(q.numel() == n && x >= 0 && x < n, "speculative_accept: bad shapes or token");
  const double* pv = p.data_ptr<double>();
  const double* qv = q.data_ptr<double>();
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  // u < p/q, written without the division (q[x] > 0 whenever x was drawn from q).
  if (uniform(rng) * qv[x] < pv[x]) return {true, x};
  double total = 0;
  for (int64_t i = 0; i < n; ++i) total += std::max(0.0, pv[i] - qv[i]);
  // Rejection implies p[x] < q[x], so the residual has mass >= q[x] - p[x] > 0; a total of 0
  // could only come from rounding in p, q themselves: then fall back to p.
  const bool residual = total > 0;
  if (!residual)
    for (int64_t i = 0; i < n; ++i) total += pv[i];
  const double u = uniform(rng) * total;
  double acc = 0;
  int64_t last = x;
  for (int64_t i = 0; i < n; ++i) {
    const double r = residual ? std::max(0.0, pv[i] - qv[i]) : pv[i];
    if (r <= 0) continue;
    acc += r;
    last = i;
    if (u < acc) return {false, i};
  }
  return {false, last};
}

std::string speculative_decode(CausalLM& draft, KVCache& dc, CausalLM& target, KVCache& tc,
                               const torch::Tensor& target_row, int64_t K, SpeculativeState& st,
                               const std::function<std::string(int64_t)>& emit, Sampler* sampler) {
  LLMPRUNE_CHECK(K >= 1, "--speculative must be >= 1, got ", K);
  torch::InferenceMode guard;
  const bool sampling = sampler != nullptr && sampler->options().temperature > 0;
  std::mt19937_64 accept_rng(sampling ? sampler->options().seed ^ kAcceptSeedMix : 0);
  auto pick = [&](const torch::Tensor& row, std::vector<torch::Tensor>* dists) {
    if (!sampling) return argmax_row(row);
    torch::Tensor d = sampler->distribution(row);
    if (dists) dists->push_back(d);
    return sampler->draw(d);
  };
  const int64_t first = pick(target_row, nullptr);
  std::string stop = emit(first);
  if (!stop.empty()) return stop;
  st.seq.push_back(first);
  const int64_t cap = std::min(tc.capacity(), dc.capacity());
  while (true) {
    const int64_t P = static_cast<int64_t>(st.seq.size()) - 1;
    if (P + 1 > cap) return "context_full";
    const int64_t k = std::min(K, cap - P - 1);
    // Draft k tokens on the shallow stage (catching its cache up first); q: their
    // distributions when sampling.
    std::vector<int64_t> d;
    std::vector<torch::Tensor> q;
    if (k > 0) {
      LLMPRUNE_ASSERT(dc.length() <= P, "draft cache ahead of the sequence");
      auto logits = draft.forward(
          ids_of(st.seq, static_cast<size_t>(dc.length()), static_cast<size_t>(P + 1)), &dc);
      d.push_back(pick(logits[0][logits.size(1) - 1], &q));
      for (int64_t i = 1; i < k; ++i) {
        logits = draft.forward(torch::full({1, 1}, d.back(), torch::kLong), &dc);
        d.push_back(pick(logits[0][0], &q));
      }
    }
    // Verify: last + d_1..d_k in one pass on the deep stage.
    std::vector<int64_t> feed = {st.seq.back()};
    feed.insert(feed.end(), d.begin(), d.end());
    LLMPRUNE_ASSERT(tc.length() == P, "target cache out of step");
    auto logits = target.forward(ids_of(feed, 0, feed.size()), &tc);
    int64_t n = 0, next = 0;
    if (!sampling) {
      auto preds = logits[0].argmax(-1).to(torch::kCPU);
      std::vector<int64_t> p(static_cast<size_t>(k + 1));
      for (int64_t i = 0; i <= k; ++i) p[static_cast<size_t>(i)] = preds[i].item<int64_t>();
      while (n < k && d[static_cast<size_t>(n)] == p[static_cast<size_t>(n)]) ++n;
      next = p[static_cast<size_t>(n)];
    } else {
      auto rows = logits[0].to(torch::kCPU);
      bool rejected = false;
      for (; n < k; ++n) {
        SpeculativeVerdict v =
            speculative_accept(sampler->distribution(rows[n]), q[static_cast<size_t>(n)],
                               d[static_cast<size_t>(n)], accept_rng);
        if (!v.accepted) {
          next = v.token;
          rejected = true;
          break;
        }
      }
      if (!rejected) next = pick(rows[k], nullptr);
    }
    st.drafted += k;
    st.accepted += n;
    tc.truncate(P + 1 + n);
    dc.truncate(std::min(dc.length(), P + 1 + n));
    std::vector<int64_t> out(d.begin(), d.begin() + n);
    out.push_back(next);
    for (int64_t t : out) {
      stop = emit(t);
      if (!stop.empty()) return stop;
      st.seq.push_back(t);
    }
  }
}

}  // namespace llmprune
