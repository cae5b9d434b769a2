// Layer-by-layer recomputed gradients (see gradients.h).
#include "calib/gradients.h"

#include <map>

#include "util/error.h"
#include "util/log.h"
#include "util/timer.h"

namespace llmprune {
namespace {
// Positions whose logits are formed at once in the loss (bounds [b, chunk, vocab]).
constexpr int64_t kLossChunk = 256;
}  // namespace

GradientResult run_gradients(LayerSource& src, const torch::Tensor& windows,
                             const GradientOptions& opts,
                             const std::function<void(const LayerGradients&)>& on_layer) {
  const ModelSpec& spec = src.spec();
  LLMPRUNE_ASSERT(windows.dim() == 2 && windows.size(1) >= 2 && opts.batch_size >= 1,
                  "bad gradient windows");
  Timer timer;
  const int64_t N = windows.size(0), T = windows.size(1), L = spec.n_layers();
  std::vector<torch::Tensor> ids;
  for (int64_t b = 0; b < N; b += opts.batch_size)
    ids.push_back(windows.narrow(0, b, std::min(opts.batch_size, N - b)));
  const int64_t nb = static_cast<int64_t>(ids.size());
  std::unique_ptr<Progress> progress;
  if (opts.progress) progress = std::make_unique<Progress>("gradients", 2 * (L + 1), "layer");
  auto rope_of = [&](int64_t l) -> const RopeTable* {
    const auto& a = spec.layers[static_cast<size_t>(l)].attn;
    return a ? &src.rope(a->head_dim, T) : nullptr;
  };

  auto fetch = [&](int64_t l) -> const DecoderLayerImpl& {
    const DecoderLayerImpl& layer = src.layer(l);
    if (opts.on_fetch) opts.on_fetch(l, layer);
    return layer;
  };
  std::vector<torch::Tensor> masks;  // per batch, [b, T - 1] fp, scored targets
  if (opts.mask.defined()) {
    LLMPRUNE_ASSERT(opts.mask.sizes() == windows.sizes(), "gradient mask shape");
    for (int64_t b = 0; b < N; b += opts.batch_size)
      masks.push_back(opts.mask.narrow(0, b, std::min(opts.batch_size, N - b))
                          .narrow(1, 1, T - 1)
                          .to(src.device(), src.dtype() == torch::kFloat64 ? torch::kFloat64
                                                                          : torch::kFloat32));
  }

  // Forward without autograd, keeping every layer's input: xs[l][b].
  std::vector<std::vector<torch::Tensor>> xs(static_cast<size_t>(L + 1));
  {
    torch::NoGradGuard no_grad;
    for (const auto& t : ids) xs[0].push_back(src.embed(t));
    src.release_edges();
    if (progress) progress->advance(1, 1);
    for (int64_t l = 0; l < L; ++l) {
      const DecoderLayerImpl& layer = fetch(l);
      for (size_t b = 0; b < xs[static_cast<size_t>(l)].size(); ++b) {
        if (opts.before_forward) opts.before_forward(l, static_cast<int64_t>(b));
        xs[static_cast<size_t>(l + 1)].push_back(
            layer.forward(xs[static_cast<size_t>(l)][b], rope_of(l), nullptr, nullptr));
      }
      src.release_layer(l);
      if (progress) progress->advance(1, 1);
    }
  }
  // dL_b/d(output of the last layer), through the final norm and lm_head.
  const torch::ScalarType acc =
      src.dtype() == torch::kFloat64 ? torch::kFloat64 : torch::kFloat32;
  const TensorNaming& names = src.family().naming();
  const std::string embed_name = names.model + "." + names.embed + "." + names.weight;
  struct Acc {
    torch::Tensor w, g, sq;
  };
  std::map<std::string, Acc> edge;
  std::vector<std::pair<std::string, torch::Tensor>> head_params;
  std::vector<torch::Tensor> tied_batch(static_cast<size_t>(nb));  // tied head, per batch
  if (opts.edges) {
    LLMPRUNE_CHECK(spec.positions == PositionKind::kRope && spec.embed_dim == 0,
                   "[gradients] embedding gradients need RoPE and no embedding projections");
    torch::NoGradGuard ng;
    src.lm_head(src.final_norm(xs[static_cast<size_t>(L)][0].narrow(1, 0, 1)));  // load them
    head_params = src.head_parameters();
    for (auto& [name, p] : head_params) {
      p.requires_grad_(true);
      edge[name] = {p.detach(), torch::zeros(p.sizes(), p.options().dtype(acc)), torch::Tensor()};
      if (opts.fisher) edge[name].sq = torch::zeros_like(edge[name].g);
    }
  }
  auto add_batch = [&](Acc& a, const torch::Tensor& gb) {
    a.g.add_(gb, 1.0 / static_cast<double>(nb));
    if (opts.fisher) a.sq.add_(gb * gb, 1.0 / static_cast<double>(nb));
  };
  GradientResult r;
  std::vector<torch::Tensor> g(static_cast<size_t>(nb));
  for (int64_t b = 0; b < nb; ++b) {
    torch::Tensor h = xs[static_cast<size_t>(L)][static_cast<size_t>(b)].detach().requires_grad_(true);
    const torch::Tensor& t = ids[static_cast<size_t>(b)];
    const torch::Tensor m = masks.empty() ? torch::Tensor() : masks[static_cast<size_t>(b)];
    const int64_t n_scored = m.defined() ? static_cast<int64_t>(m.sum().item<double>())
                                         : t.size(0) * (T - 1);
    r.scored += n_scored;
    const double scored = static_cast<double>(std::max<int64_t>(n_scored, 1));
    auto targets = t.narrow(1, 1, T - 1).to(h.device());
    double loss = 0;
    for (int64_t s = 0; s < T - 1 && n_scored > 0; s += kLossChunk) {
      const int64_t n = std::min(kLossChunk, T - 1 - s);
      torch::Tensor logits = src.lm_head(src.final_norm(h.narrow(1, s, n)));
      if (logits.scalar_type() != torch::kFloat64) logits = logits.to(torch::kFloat);
      torch::Tensor tok = -torch::log_softmax(logits, -1)
                               .gather(-1, targets.narrow(1, s, n).unsqueeze(-1))
                               .squeeze(-1);
      if (m.defined()) tok = tok * m.narrow(1, s, n);
      torch::Tensor nll = tok.sum() / scored;
      nll.backward();
      loss += nll.item<double>();
    }
    g[static_cast<size_t>(b)] = h.grad().defined() ? h.grad() : torch::zeros_like(h);
    r.mean_loss += loss / static_cast<double>(nb);
    torch::NoGradGuard ng;
    for (auto& [name, p] : head_params) {
      torch::Tensor gb = p.mutable_grad().to(acc);
      p.mutable_grad() = torch::Tensor();
      // A tied head's batch gradient joins the embedding's (known after layer 0) first.
      if (name == embed_name && opts.fisher)
        tied_batch[static_cast<size_t>(b)] = gb;
      else
        add_batch(edge.at(name), gb);
    }
  }
  for (auto& [name, p] : head_params) p.requires_grad_(false);
  xs[static_cast<size_t>(L)].clear();
  src.release_edges();
  if (progress) progress->advance(1, 1);

  for (int64_t l = L - 1; l >= 0; --l) {
    const DecoderLayerImpl& layer = fetch(l);
    LayerGradients lg;
    lg.layer = l;
    std::vector<torch::Tensor> params;
    std::vector<std::pair<std::string, torch::Tensor>> named;
    if (opts.trainable) {
      named = opts.trainable(l, layer);
    } else {
      for (const auto& item : layer.named_parameters(/*recurse=*/true))
        named.emplace_back(src.family().naming().layer_prefix(l) + item.key(), item.value());
    }
    for (const auto& [name, p] : named) {
      lg.names.push_back(name);
      params.push_back(p);
      p.requires_grad_(true);
      const auto dt = p.scalar_type() == torch::kFloat64 ? torch::kFloat64 : acc;
      lg.grad.push_back(torch::zeros(p.sizes(), p.options().dtype(dt)));
      if (opts.fisher) lg.grad_sq.push_back(torch::zeros_like(lg.grad.back()));
    }
    for (int64_t b = 0; b < nb; ++b) {
      auto& x_in = xs[static_cast<size_t>(l)][static_cast<size_t>(b)];
      if (opts.before_forward) opts.before_forward(l, b);
      torch::Tensor x = x_in.detach().requires_grad_(true);
      torch::Tensor y = layer.forward(x, rope_of(l), nullptr, nullptr);
      y.backward(g[static_cast<size_t>(b)]);
      g[static_cast<size_t>(b)] = x.grad();
      x_in = torch::Tensor();  // the stored input is no longer needed
      torch::NoGradGuard no_grad;
      for (size_t i = 0; i < params.size(); ++i) {
        torch::Tensor& pg = params[i].mutable_grad();
        if (!pg.defined()) continue;  // a parameter the loss does not reach
        torch::Tensor gb = pg.to(acc);
        lg.grad[i].add_(gb, 1.0 / static_cast<double>(nb));
        if (opts.fisher) lg.grad_sq[i].add_(gb * gb, 1.0 / static_cast<double>(nb));
        pg = torch::Tensor();
      }
    }
    for (auto& p : params) {
      p.requires_grad_(false);
      lg.weight.push_back(p.detach());
    }
    on_layer(lg);
    src.release_layer(l);
    if (progress) progress->advance(1, 1);
  }
  if (opts.edges) {
    // The embedding is a row lookup: its gradient is dL_b/d(layer 0 input) added into the
    // rows of the batch's token ids.
    torch::NoGradGuard ng;
    const int64_t H = spec.hidden_size;
    Acc& e = edge[embed_name];
    if (!e.w.defined()) {
      e.w = src.store().load(embed_name).to(src.device(), src.dtype());
      e.g = torch::zeros(e.w.sizes(), e.w.options().dtype(acc));
      if (opts.fisher) e.sq = torch::zeros_like(e.g);
    }
    for (int64_t b = 0; b < nb; ++b) {
      torch::Tensor gb = torch::zeros(e.w.sizes(), e.g.options());
      gb.index_add_(0, ids[static_cast<size_t>(b)].reshape(-1).to(gb.device()),
                    g[static_cast<size_t>(b)].reshape({-1, H}).to(acc));
      if (tied_batch[static_cast<size_t>(b)].defined()) gb += tied_batch[static_cast<size_t>(b)];
      add_batch(e, gb);
    }
    LayerGradients lg;
    lg.layer = -1;
    for (auto& [name, a] : edge) {
      lg.names.push_back(name);
      lg.weight.push_back(a.w);
      lg.grad.push_back(a.g);
      if (opts.fisher) lg.grad_sq.push_back(a.sq);
    }
    on_layer(lg);
    src.release_edges();
  }
  if (progress) progress->finish();
  r.batches = nb;
  r.seconds = timer.seconds();
  return r;
}

}  // namespace llmprune
