// Layer-major calibration runner (see runner.h).
#include "calib/runner.h"

#include "model/nll.h"
#include "util/error.h"
#include "util/log.h"
#include "util/timer.h"

namespace llmprune {

Schedule full_schedule(const ModelSpec& spec) {
  Schedule s;
  for (const auto& L : spec.layers) s.push_back({L.attn.has_value(), L.mlp.has_value()});
  return s;
}

double RunResult::mean_nll() const {
  double total = 0;
  for (double v : nll) total += v;
  return scored_tokens ? total / static_cast<double>(scored_tokens) : 0.0;
}

RunResult run_calibration(LayerSource& src, const torch::Tensor& windows, const Schedule& schedule,
                          CalibObserver* observer, const RunOptions& opts) {
  const ModelSpec& spec = src.spec();
  LLMPRUNE_ASSERT(static_cast<int64_t>(schedule.size()) == spec.n_layers(), "schedule has ",
                  schedule.size(), " entries for ", spec.n_layers(), " layers");
  LLMPRUNE_ASSERT(windows.dim() == 2 && opts.batch_size >= 1, "bad calibration windows");
  // NoGrad rather than InferenceMode: layers loaded here may later run under autograd
  // (Taylor importance reuses a resident LayerSource).
  torch::NoGradGuard guard;
  Timer timer;
  const int64_t N = windows.size(0), T = windows.size(1);
  const int64_t per_pass = (observer && !observer->whole_set_pass()) ? opts.batch_size : N;
  const int64_t n_passes = (N + per_pass - 1) / per_pass;
  auto runs = [&](int64_t l) {
    const auto& m = schedule[static_cast<size_t>(l)];
    const auto& L = spec.layers[static_cast<size_t>(l)];
    return (m.attn && L.attn) || (m.mlp && L.mlp);
  };
  int64_t active = 0;
  for (int64_t l = 0; l < spec.n_layers(); ++l) active += runs(l) ? 1 : 0;

  RunResult r;
  std::unique_ptr<Progress> progress;
  if (opts.progress)
    progress = std::make_unique<Progress>(opts.label, n_passes * (active + 1), "tok");
  for (int64_t pass = 0; pass < n_passes; ++pass) {
    const int64_t p0 = pass * per_pass, pn = std::min(per_pass, N - p0);
    auto hook_for = [&](int64_t first) {
      return ForwardHook([observer, first](HookPoint p, int64_t layer, const torch::Tensor& x) {
        if (observer) observer->observe(p, layer, first, x);
      });
    };
    // Batches of this pass: [begin, len) relative to p0.
    std::vector<std::pair<int64_t, int64_t>> batches;
    for (int64_t b = 0; b < pn; b += opts.batch_size)
      batches.emplace_back(b, std::min(opts.batch_size, pn - b));

    std::vector<torch::Tensor> x;  // hidden state per batch
    for (const auto& [b, n] : batches) {
      x.push_back(src.embed(windows.narrow(0, p0 + b, n)));
      if (observer) observer->observe(HookPoint::kEmbedding, -1, p0 + b, x.back());
    }
    src.release_edges();
    if (progress) progress->advance(1, pn * T);
    for (int64_t l = 0; l < spec.n_layers(); ++l) {
      if (!runs(l)) continue;
      const DecoderLayerImpl& layer = src.layer(l);
      const auto& L = spec.layers[static_cast<size_t>(l)];
      const RopeTable* rope = L.attn ? &src.rope(L.attn->head_dim, T) : nullptr;
      for (size_t i = 0; i < batches.size(); ++i) {
        const ForwardHook hook = hook_for(p0 + batches[i].first);
        x[i] = layer.forward(x[i], rope, nullptr, &hook, schedule[static_cast<size_t>(l)]);
      }
      src.release_layer(l);
      if (progress) progress->advance(1, pn * T);
    }
    if (opts.nll) {
      for (size_t i = 0; i < batches.size(); ++i) {
        const auto& [b, n] = batches[i];
        torch::Tensor h = src.final_norm(x[i]);
        if (observer) observer->observe(HookPoint::kFinalNorm, -1, p0 + b, h);
        torch::Tensor nll = window_nll(h, windows.narrow(0, p0 + b, n),
                                       [&](const torch::Tensor& t) { return src.lm_head(t); });
        for (int64_t k = 0; k < n; ++k) r.nll.push_back(nll[k].item<double>());
      }
      src.release_edges();
      r.scored_tokens += pn * (T - 1);
    }
    if (observer) observer->end_pass();
  }
  if (progress) progress->finish();
  r.seconds = timer.seconds();
  return r;
}

}  // namespace llmprune
