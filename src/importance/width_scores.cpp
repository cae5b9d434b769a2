// The width-importance driver (see width_scores.h): runs what the method needs over the model,
// one layer at a time, and reduces each layer's element importance into its group sets.
#include "importance/width_scores.h"

#include "calib/gradients.h"
#include "util/error.h"
#include "util/log.h"
#include "util/timer.h"

namespace llmprune {
namespace {

// name -> TensorInfo of one layer's tensors.
std::map<std::string, TensorInfo> layer_tensors(const LayerSource& src, int64_t layer) {
  std::map<std::string, TensorInfo> out;
  for (const TensorInfo& t : src.family().tensors(src.spec()))
    if (t.layer == layer) out[t.name] = t;
  return out;
}

// Calls score(name, info, weight) for every parameter of layer l and reduces the result.
template <typename F>
std::vector<SetScores> reduce_layer(LayerSource& src, int64_t l, const WidthImportanceOptions& o,
                                    bool sqrt_after, GroupReducer* hidden, F score) {
  GroupReducer red(src.family().group_sets(src.spec(), l), o.aggregate, sqrt_after);
  const auto infos = layer_tensors(src, l);
  const std::string prefix = src.family().naming().layer_prefix(l);
  const DecoderLayerImpl& layer = src.layer(l);
  for (const auto& item : layer.named_parameters(/*recurse=*/true)) {
    const std::string name = prefix + item.key();
    torch::Tensor imp = score(name, infos.at(name), item.value());
    if (!imp.defined()) continue;
    red.add(name, imp);
    if (hidden) hidden->add(name, imp);
  }
  return red.finish();
}

}  // namespace

void check_width_importance(const WidthImportanceOptions& o) {
  LLMPRUNE_CHECK(o.method == "magnitude" || o.method == "wanda" || o.method == "taylor" ||
                     o.method == "taylor2",
                 "--importance must be magnitude, wanda, taylor or taylor2, got '", o.method, "'");
  LLMPRUNE_CHECK(o.norm == "l1" || o.norm == "l2", "--norm must be l1 or l2, got '", o.norm,
                 "'");
  LLMPRUNE_CHECK(o.gradient_batch_size >= 1 && o.batch_size >= 1,
                 "--gradient-batch-size and --batch-size must be at least 1");
}

std::vector<SetScores> score_width(LayerSource& src, const torch::Tensor& windows,
                                   const WidthImportanceOptions& o, json* info) {
  check_width_importance(o);
  Timer timer;
  const int64_t L = src.spec().n_layers();
  std::vector<std::vector<SetScores>> per_layer(static_cast<size_t>(L));
  json out = {{"method", o.method}, {"aggregate", aggregate_name(o.aggregate)}};
  std::unique_ptr<GroupReducer> hidden;
  if (o.hidden)
    hidden = std::make_unique<GroupReducer>(
        std::vector<GroupSet>{src.family().hidden_set(src.spec())}, o.aggregate,
        o.method == "magnitude" && o.norm == "l2");
  if (o.method == "magnitude") {
    out["norm"] = o.norm;
    std::unique_ptr<Progress> progress;
    if (o.progress) progress = std::make_unique<Progress>("magnitude", L, "layer");
    torch::NoGradGuard no_grad;
    for (int64_t l = 0; l < L; ++l) {
      per_layer[static_cast<size_t>(l)] =
          reduce_layer(src, l, o, o.norm == "l2", hidden.get(),
                       [&](const std::string&, const TensorInfo&, const torch::Tensor& w) {
                         return magnitude_importance(w, o.norm == "l2");
                       });
      src.release_layer(l);
      if (progress) progress->advance(1, 1);
    }
    if (progress) progress->finish();
    if (hidden)  // embedding, final norm, lm_head: straight from the checkpoint
      for (const TensorInfo& t : src.family().tensors(src.spec()))
        if (t.layer < 0) hidden->add(t.name, magnitude_importance(src.store().load(t.name), o.norm == "l2"));
  } else if (o.method == "wanda") {
    WandaObserver obs;
    RunOptions ro;
    ro.batch_size = o.batch_size;
    ro.label = "wanda: input norms";
    ro.progress = o.progress;
    run_calibration(src, windows, full_schedule(src.spec()), &obs, ro);
    torch::NoGradGuard no_grad;
    for (int64_t l = 0; l < L; ++l) {
      per_layer[static_cast<size_t>(l)] =
          reduce_layer(src, l, o, false, hidden.get(),
                       [&](const std::string&, const TensorInfo& t, const torch::Tensor& w) {
                         return wanda_importance(w, t, obs.stats());
                       });
      src.release_layer(l);
    }
    out["tokens"] = windows.numel();
  } else {
    GradientOptions go;
    go.batch_size = o.gradient_batch_size;
    go.fisher = o.method == "taylor2";
    go.edges = o.hidden;
    go.progress = o.progress;
    const GradientResult r = run_gradients(src, windows, go, [&](const LayerGradients& g) {
      const Family& f = src.family();
      std::unique_ptr<GroupReducer> red;
      if (g.layer >= 0) red = std::make_unique<GroupReducer>(f.group_sets(src.spec(), g.layer), o.aggregate);
      for (size_t i = 0; i < g.names.size(); ++i) {
        const torch::Tensor imp = taylor_importance(
            g.weight[i], g.grad[i], go.fisher ? g.grad_sq[i] : torch::Tensor());
        if (red) red->add(g.names[i], imp);
        if (hidden) hidden->add(g.names[i], imp);
      }
      if (red) per_layer[static_cast<size_t>(g.layer)] = red->finish();
    });
    out["calibration_loss"] = r.mean_loss;
    out["gradient_batches"] = r.batches;
    out["gradient_batch_size"] = o.gradient_batch_size;
  }
  out["seconds"] = timer.seconds();
  if (info) *info = out;
  std::vector<SetScores> all;
  for (auto& v : per_layer)
    for (auto& s : v) all.push_back(std::move(s));
  if (hidden) all.push_back(hidden->finish().front());
  return all;
}

}  // namespace llmprune
