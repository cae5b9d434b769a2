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

}  // namespace

std::string speculative_decode(CausalLM& draft, KVCache& dc, CausalLM& target, KVCache& tc,
                               const torch::Tensor& target_row, int64_t K, SpeculativeState& st,
                               const std::function<std::string(int64_t)>& emit) {
  LLMPRUNE_CHECK(K >= 1, "--speculative must be >= 1, got ", K);
  torch::InferenceMode guard;
  const int64_t first = argmax_row(target_row);
  std::string stop = emit(first);
  if (!stop.empty()) return stop;
  st.seq.push_back(first);
  const int64_t cap = std::min(tc.capacity(), dc.capacity());
  while (true) {
    const int64_t P = static_cast<int64_t>(st.seq.size()) - 1;
    if (P + 1 > cap) return "context_full";
    const int64_t k = std::min(K, cap - P - 1);
    // Draft k tokens on the shallow stage (catching its cache up first).
    std::vector<int64_t> d;
    if (k > 0) {
      LLMPRUNE_ASSERT(dc.length() <= P, "draft cache ahead of the sequence");
      auto logits = draft.forward(
          ids_of(st.seq, static_cast<size_t>(dc.length()), static_cast<size_t>(P + 1)), &dc);
      d.push_back(argmax_row(logits[0][logits.size(1) - 1]));
      for (int64_t i = 1; i < k; ++i) {
        logits = draft.forward(torch::full({1, 1}, d.back(), torch::kLong), &dc);
        d.push_back(argmax_row(logits[0][0]));
      }
    }
    // Verify: last + d_1..d_k in one pass on the deep stage.
    std::vector<int64_t> feed = {st.seq.back()};
    feed.insert(feed.end(), d.begin(), d.end());
    LLMPRUNE_ASSERT(tc.length() == P, "target cache out of step");
    auto logits = target.forward(ids_of(feed, 0, feed.size()), &tc);
    auto preds = logits[0].argmax(-1).to(torch::kCPU);
    std::vector<int64_t> p(static_cast<size_t>(k + 1));
    for (int64_t i = 0; i <= k; ++i) p[static_cast<size_t>(i)] = preds[i].item<int64_t>();
    int64_t n = 0;
    while (n < k && d[static_cast<size_t>(n)] == p[static_cast<size_t>(n)]) ++n;
    st.drafted += k;
    st.accepted += n;
    tc.truncate(P + 1 + n);
    dc.truncate(std::min(dc.length(), P + 1 + n));
    std::vector<int64_t> out(d.begin(), d.begin() + n);
    out.push_back(p[static_cast<size_t>(n)]);
    for (int64_t t : out) {
      stop = emit(t);
      if (!stop.empty()) return stop;
      st.seq.push_back(t);
    }
  }
}

}  // namespace llmprune
