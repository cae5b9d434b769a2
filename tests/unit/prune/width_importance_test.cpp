// Width importance: the layer-by-layer recomputed gradients equal central finite differences
// of the loss (double precision); Wanda's input norms equal a direct computation from the
// residual stream; streamed and in-memory scoring agree; group reduction by hand.
#include <gtest/gtest.h>

#include "calib/gradients.h"
#include "importance/width_scores.h"
#include "model/causal_lm.h"
#include "prune_fixtures.h"

using namespace llmprune;

namespace {

LoadOptions f64() {
  LoadOptions o;
  o.dtype = "f64";
  return o;
}

torch::Tensor test_windows(int64_t n, int64_t T, int64_t vocab, uint64_t seed) {
  torch::manual_seed(seed);
  return torch::randint(vocab, {n, T}, torch::kLong);
}

// L = mean over gradient batches of (mean next-token NLL of the batch), computed with a plain
// full forward of the whole model (no layer recomputation, no hooks): the definition in
// calib/gradients.h.
double loss(const ModelSpec& spec, const NamedTensors& tensors, const torch::Tensor& windows,
            int64_t batch) {
  auto model = CausalLM::from_tensors(spec, tensors, f64());
  torch::NoGradGuard ng;
  double total = 0;
  int64_t nb = 0;
  for (int64_t b = 0; b < windows.size(0); b += batch, ++nb) {
    torch::Tensor ids = windows.narrow(0, b, std::min(batch, windows.size(0) - b));
    torch::Tensor logp = torch::log_softmax(model->forward(ids), -1);
    const int64_t T = ids.size(1);
    torch::Tensor nll = -logp.narrow(1, 0, T - 1).gather(-1, ids.narrow(1, 1, T - 1).unsqueeze(-1));
    total += nll.mean().item<double>();
  }
  return total / static_cast<double>(nb);
}

}  // namespace

class GradientFamilies : public ::testing::TestWithParam<const char*> {};

// Central differences with h = 1e-5 in double: truncation ~h^2 is far below the 1e-6 relative
// tolerance; rounding is ~eps x L / h ~ 1e-10 absolute (L ~ 5), hence the 1e-9 floor, which
// matters only for gradients that are exactly zero (a k_proj bias shifts every score of a
// query equally, and softmax ignores that).
TEST_P(GradientFamilies, MatchCentralFiniteDifferences) {
  const std::string param = GetParam();
  const bool tied = param == "llama-tied";  // lm_head is the embedding: gradients add up
  const std::string family = tied ? "llama" : param;
  const std::string root = test::temp_dir("grad_fd_" + param);
  std::string dir = root + "/m";
  SyntheticOptions so = test::prune_model_options(3);
  so.tie = tied;
  make_test_model(family, dir, so);
  const torch::Tensor windows = test_windows(3, 10, 257, 5);
  LayerSource src(dir, f64(), /*resident=*/true);
  std::map<std::string, std::pair<torch::Tensor, torch::Tensor>> got;  // name -> (grad, fisher)
  GradientOptions go;
  go.batch_size = 2;  // batches of 2 and 1 windows
  go.fisher = true;
  go.edges = family != "opt";  // embedding, final norm, lm_head (RoPE families)
  go.progress = false;
  std::vector<int64_t> order;
  const GradientResult r = run_gradients(src, windows, go, [&](const LayerGradients& g) {
    order.push_back(g.layer);
    for (size_t i = 0; i < g.names.size(); ++i) got[g.names[i]] = {g.grad[i], g.grad_sq[i]};
  });
  // Last layer first, then the edges (layer -1) when asked.
  EXPECT_EQ(order, go.edges ? (std::vector<int64_t>{2, 1, 0, -1}) : (std::vector<int64_t>{2, 1, 0}));
  EXPECT_EQ(r.batches, 2);

  const ModelSpec spec = src.spec();
  NamedTensors base = test::load_all(dir);
  for (auto& [n, t] : base) t = t.to(torch::kFloat64);
  EXPECT_NEAR(r.mean_loss, loss(spec, base, windows, 2), 1e-12);
  int checked = 0;
  for (auto& [name, t] : base) {
    ASSERT_TRUE(got.count(name) || !go.edges) << name;  // every parameter with edges
    if (!got.count(name)) continue;
    const torch::Tensor g = got.at(name).first;
    ASSERT_EQ(g.sizes(), t.sizes()) << name;
    // Three elements per tensor: the largest gradient and two fixed positions.
    std::vector<int64_t> flat = {g.abs().argmax().item<int64_t>(), 0, t.numel() / 2 + 1};
    for (int64_t i : flat) {
      const double h = 1e-5;
      torch::Tensor v = t.view(-1);
      const double w0 = v[i].item<double>();
      v[i] = w0 + h;
      const double up = loss(spec, base, windows, 2);
      v[i] = w0 - h;
      const double down = loss(spec, base, windows, 2);
      v[i] = w0;
      const double fd = (up - down) / (2 * h);
      const double an = g.view(-1)[i].item<double>();
      EXPECT_NEAR(an, fd, 1e-6 * std::abs(fd) + 1e-9) << name << "[" << i << "]";
      ++checked;
    }
  }
  EXPECT_GE(checked, 3 * 6 * 3);  // at least 6 tensors per layer (phi3 fuses), 3 layers
  // The Fisher term of a parameter is the mean of the squared batch gradients: at least the
  // square of their mean (Jensen), equal only when the batches agree.
  for (const auto& [name, gf] : got)
    EXPECT_TRUE((gf.second - gf.first * gf.first).min().item<double>() >= -1e-18) << name;
}

INSTANTIATE_TEST_SUITE_P(Families, GradientFamilies, ::testing::Values("llama", "qwen2", "phi3", "opt",
                                                                  "llama-tied"));

// The sums of squares Wanda uses, against a direct computation: the normed inputs are
// RMSNorm(x) of the captured residual stream with the checkpoint's norm weights (transformers'
// formula written out here), the MLP activation silu(gate(h)) * up(h) from the raw weights,
// and the attention context must reproduce the attention output through o_proj.
TEST(Wanda, InputNormsMatchDirectComputation) {
  const std::string root = test::temp_dir("wanda_direct");
  const std::string dir = test::make_prune_model("llama", root + "/m", 2);
  const torch::Tensor windows = test_windows(3, 16, 257, 9);
  LayerSource src(dir, LoadOptions{}, true);
  WandaObserver obs;
  std::map<std::pair<int64_t, HookPoint>, std::vector<torch::Tensor>> seen;
  struct Tee : CalibObserver {
    WandaObserver* w;
    std::map<std::pair<int64_t, HookPoint>, std::vector<torch::Tensor>>* seen;
    void observe(HookPoint p, int64_t l, int64_t first, const torch::Tensor& x) override {
      w->observe(p, l, first, x);
      (*seen)[{l, p}].push_back(x.clone());
    }
  } tee;
  tee.w = &obs;
  tee.seen = &seen;
  RunOptions ro;
  ro.batch_size = 2;
  ro.progress = false;
  run_calibration(src, windows, full_schedule(src.spec()), &tee, ro);
  const NamedTensors t = test::load_all(dir);
  std::map<std::string, torch::Tensor> w(t.begin(), t.end());
  const double eps = src.spec().rms_norm_eps;
  auto rms = [&](const torch::Tensor& x, const torch::Tensor& g) {
    return g * (x * torch::rsqrt(x.pow(2).mean(-1, true) + eps));
  };
  for (int64_t l = 0; l < 2; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    torch::Tensor attn_sq = torch::zeros({32}, torch::kDouble), act_sq = torch::zeros({48}, torch::kDouble);
    for (size_t b = 0; b < seen[{l, HookPoint::kAttnInput}].size(); ++b) {
      torch::Tensor x = seen[{l, HookPoint::kAttnInput}][b];
      torch::Tensor h = rms(x, w[p + "input_layernorm.weight"]);
      attn_sq += h.to(torch::kDouble).pow(2).sum(std::vector<int64_t>{0, 1});
      torch::Tensor m = rms(seen[{l, HookPoint::kMlpInput}][b], w[p + "post_attention_layernorm.weight"]);
      torch::Tensor act = torch::silu(torch::matmul(m, w[p + "mlp.gate_proj.weight"].t())) *
                          torch::matmul(m, w[p + "mlp.up_proj.weight"].t());
      act_sq += act.to(torch::kDouble).pow(2).sum(std::vector<int64_t>{0, 1});
      torch::Tensor ctx = seen[{l, HookPoint::kAttnContext}][b];
      torch::Tensor delta = seen[{l, HookPoint::kAttnOutput}][b] - x;
      EXPECT_LT((torch::matmul(ctx, w[p + "self_attn.o_proj.weight"].t()) - delta).abs().max().item<double>(), 1e-5);
    }
    EXPECT_LT(((obs.stats().attn_in.at(l) - attn_sq).abs() / attn_sq).max().item<double>(), 1e-5);
    EXPECT_LT(((obs.stats().act.at(l) - act_sq).abs() / act_sq).max().item<double>(), 1e-4);
    EXPECT_EQ(obs.stats().tokens.at(l), 3 * 16);
  }
}

// Scores from a streaming LayerSource (one layer's weights at a time, pages released) equal
// the in-memory ones for every method.
TEST(WidthScores, StreamedEqualsInMemory) {
  const std::string root = test::temp_dir("width_stream");
  const std::string dir = test::make_prune_model("qwen2", root + "/m", 3);
  const torch::Tensor windows = test_windows(4, 16, 257, 3);
  for (const char* method : {"magnitude", "wanda", "taylor", "taylor2"}) {
    WidthImportanceOptions o;
    o.method = method;
    o.gradient_batch_size = 2;
    o.progress = false;
    LayerSource mem(dir, LoadOptions{}, true), streamed(dir, LoadOptions{}, false);
    const auto a = score_width(mem, windows, o, nullptr);
    const auto b = score_width(streamed, windows, o, nullptr);
    ASSERT_EQ(a.size(), b.size());
    ASSERT_EQ(a.size(), 3u * 3u);  // KV groups, query heads, channels per layer
    for (size_t s = 0; s < a.size(); ++s)
      for (size_t g = 0; g < a[s].score.size(); ++g)
        EXPECT_NEAR(a[s].score[g], b[s].score[g], 1e-6 * std::abs(a[s].score[g]) + 1e-12)
            << method << " set " << s << " group " << g;
  }
}

// GroupReducer by hand: a 2-group KV set over a [4, 3] tensor (rows 0-1 group 0, rows 2-3
// group 1) and a [3, 4] tensor's columns.
TEST(GroupReducer, SumsMeansAndMaxesByHand) {
  GroupSet s{GroupKind::kKvGroup, 0, 2, {{"a", 0, 0, 2, 3}, {"b", 1, 0, 2, 3}}};
  torch::Tensor a = torch::arange(12, torch::kDouble).view({4, 3});  // group 0: 0..5, 1: 6..11
  torch::Tensor b = torch::ones({3, 4}, torch::kDouble);              // 6 ones per group
  for (Aggregate agg : {Aggregate::kSum, Aggregate::kMean, Aggregate::kMax}) {
    GroupReducer r({s}, agg);
    r.add("a", a);
    r.add("b", b);
    r.add("unrelated", torch::ones({2}));
    const auto out = r.finish();
    ASSERT_EQ(out.size(), 1u);
    const std::vector<double> want = agg == Aggregate::kSum    ? std::vector<double>{21, 57}
                                     : agg == Aggregate::kMean ? std::vector<double>{21.0 / 12, 57.0 / 12}
                                                               : std::vector<double>{5, 11};
    EXPECT_EQ(out[0].score, want) << aggregate_name(agg);
  }
  GroupReducer l2({s}, Aggregate::kSum, /*sqrt_after=*/true);
  l2.add("b", b);
  EXPECT_DOUBLE_EQ(l2.finish()[0].score[0], std::sqrt(6.0));
}
