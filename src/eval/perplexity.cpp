// Windowed perplexity (see perplexity.h).
#include "eval/perplexity.h"

#include <cmath>

#include "model/nll.h"
#include "util/error.h"
#include "util/log.h"
#include "util/timer.h"

namespace llmprune {

json PerplexityResult::to_json() const {
  return json{{"protocol",
               "non-overlapping windows of seq_len tokens, tail dropped; each window scored "
               "alone on tokens 1..L-1; PPL = exp(total NLL / scored)"},
              {"seq_len", seq_len},
              {"tokens", n_tokens},
              {"windows", n_windows},
              {"scored_tokens", n_scored},
              {"nll", total_nll},
              {"mean_nll", n_scored ? total_nll / n_scored : 0.0},
              {"ppl", ppl},
              {"seconds", seconds},
              {"tokens_per_second", tokens_per_second}};
}

namespace {
// Each window's NLL of tokens 1..L-1 (natural log, summed in double). ids: [B, L].
std::vector<double> window_nlls(CausalLM& model, const torch::Tensor& ids) {
  auto total = window_nll(model.forward_hidden(ids), ids,
                          [&](const torch::Tensor& h) { return model.lm_head(h); });
  return std::vector<double>(total.data_ptr<double>(), total.data_ptr<double>() + total.numel());
}
}  // namespace

PerplexityResult perplexity(CausalLM& model, const std::vector<int64_t>& tokens,
                            const PerplexityOptions& opts) {
  LLMPRUNE_CHECK(opts.seq_len >= 2, "--seq-len must be at least 2, got ", opts.seq_len);
  LLMPRUNE_CHECK(opts.batch_size >= 1, "--batch-size must be at least 1, got ", opts.batch_size);
  const int64_t n_tokens = static_cast<int64_t>(tokens.size());
  int64_t n_windows = n_tokens / opts.seq_len;
  LLMPRUNE_CHECK(n_windows >= 1, "the text has ", n_tokens,
                 " tokens, fewer than one window of --seq-len ", opts.seq_len);
  if (opts.max_windows > 0) n_windows = std::min(n_windows, opts.max_windows);

  PerplexityResult r;
  r.seq_len = opts.seq_len;
  r.n_tokens = n_tokens;
  r.n_windows = n_windows;
  auto all = torch::from_blob(const_cast<int64_t*>(tokens.data()), {n_tokens}, torch::kLong);

  torch::InferenceMode guard;
  Timer timer;
  std::unique_ptr<Progress> progress;
  if (opts.show_progress) progress = std::make_unique<Progress>("perplexity", n_windows, "tok");
  for (int64_t w = 0; w < n_windows; w += opts.batch_size) {
    int64_t b = std::min(opts.batch_size, n_windows - w);
    auto ids = all.narrow(0, w * opts.seq_len, b * opts.seq_len).view({b, opts.seq_len});
    for (double nll : window_nlls(model, ids)) {
      if (!std::isfinite(nll) && std::isfinite(r.total_nll))
        log_warn("window ", r.window_nll.size(), " has a non-finite NLL (", nll,
                 "): the model produced inf/NaN logits; PPL will be non-finite");
      r.window_nll.push_back(nll);
      r.total_nll += nll;
    }
    if (progress) progress->advance(b, b * opts.seq_len);
  }
  if (progress) progress->finish();
  r.seconds = timer.seconds();
  r.n_scored = n_windows * (opts.seq_len - 1);
  r.ppl = std::exp(r.total_nll / static_cast<double>(r.n_scored));
  r.tokens_per_second = r.seconds > 0 ? n_windows * opts.seq_len / r.seconds : 0;
  return r;
}

}  // namespace llmprune
