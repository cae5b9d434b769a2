// Forward-pass benchmark (see bench_forward.h). FLOPs counted: 2 per multiply-add of every
// projection (q, k, v, o, gate, up, down) per token, plus attention's QK^T and PV over the
// causal half (query i attends to i+1 keys): 2 * 2 * n_heads * head_dim * T(T+1)/2 per layer.
// Embedding lookup, norms, RoPE and softmax are not counted (they are not FLOP-bound).
#include "eval/bench_forward.h"

#include <algorithm>

#include "eval/gemm_peak.h"
#include "model/causal_lm.h"
#include "util/error.h"
#include "util/log.h"
#include "util/timer.h"

namespace llmprune {

namespace {
ModelSpec bench_spec(const ForwardBenchOptions& o) {
  ModelSpec spec;
  spec.family = "llama";
  spec.model_type = "llama";
  spec.vocab_size = 256;  // tiny: the benchmark measures the layer stack, not lm_head
  spec.hidden_size = o.hidden;
  spec.max_position_embeddings = std::max<int64_t>(o.seq_len, 4096);
  spec.rms_norm_eps = 1e-5;
  spec.rope.theta = 500000.0;
  AttentionSpec attn;
  attn.n_heads = o.heads;
  attn.n_kv_heads = o.kv_heads;
  attn.head_dim = o.hidden / o.heads;
  MlpSpec mlp;
  mlp.intermediate_size = o.intermediate;
  spec.layers.assign(o.layers, LayerSpec{attn, mlp});
  return spec;
}

double flops_per_pass(const ForwardBenchOptions& o) {
  const double hd = static_cast<double>(o.hidden / o.heads), t = o.seq_len;
  double proj = o.hidden * (o.heads * hd * 2 + o.kv_heads * hd * 2) +
                3.0 * o.hidden * o.intermediate;
  double per_layer = 2 * proj * t + 2 * 2 * o.heads * hd * t * (t + 1) / 2;
  return per_layer * o.layers * o.batch;
}

void sync(const torch::Tensor& t) {
  if (t.is_cuda()) t.flatten()[0].item<double>();
}
}  // namespace

json ForwardBenchResult::to_json() const {
  json rows_json = json::array();
  for (const auto& r : rows)
    rows_json.push_back({{"dtype", r.dtype},
                         {"seconds", r.seconds},
                         {"tokens_per_second", r.tokens_per_second},
                         {"gflops", r.gflops},
                         {"peak_gflops", r.peak_gflops},
                         {"fraction_of_peak", r.fraction_of_peak}});
  return json{{"benchmark", "forward"},
              {"layers", opts.layers},
              {"hidden", opts.hidden},
              {"heads", opts.heads},
              {"kv_heads", opts.kv_heads},
              {"intermediate", opts.intermediate},
              {"seq_len", opts.seq_len},
              {"batch", opts.batch},
              {"device", opts.device},
              {"threads", torch::get_num_threads()},
              {"flops_per_pass", flops_per_pass},
              {"results", rows_json}};
}

ForwardBenchResult bench_forward(const ForwardBenchOptions& o) {
  LLMPRUNE_CHECK(o.layers >= 1 && o.seq_len >= 1 && o.batch >= 1 && o.repeats >= 1,
                 "bench forward: --layers, --seq-len, --batch and --repeats must be >= 1");
  LLMPRUNE_CHECK(o.heads >= 1 && o.hidden % o.heads == 0, "bench forward: --hidden ", o.hidden,
                 " is not a multiple of --heads ", o.heads);
  LLMPRUNE_CHECK(o.kv_heads >= 1 && o.heads % o.kv_heads == 0, "bench forward: --heads ",
                 o.heads, " is not a multiple of --kv-heads ", o.kv_heads);
  ForwardBenchResult result;
  result.opts = o;
  result.flops_per_pass = flops_per_pass(o);
  ModelSpec spec = bench_spec(o);
  torch::Device device(o.device);
  for (const std::string& dtype : o.dtypes) {
    LoadOptions lo;
    lo.device = o.device;
    lo.dtype = dtype;
    ForwardBenchRow row;
    row.dtype = dtype;
    {
      torch::NoGradGuard no_grad;
      auto model = CausalLM::create(spec, lo);
      for (auto& [name, p] : model->named_parameters()) {
        if (p.dim() == 1)
          p.fill_(1.0);  // norm weights
        else
          p.normal_(0.0, 0.02);
      }
      torch::InferenceMode guard;
      auto ids = torch::randint(spec.vocab_size, {o.batch, o.seq_len}, torch::kLong);
      log_info("bench forward ", dtype, ": ", o.layers, " layers, seq ", o.seq_len, ", warm-up");
      sync(model->forward_hidden(ids));
      double best = 1e30;
      for (int64_t r = 0; r < o.repeats; ++r) {
        Timer t;
        sync(model->forward_hidden(ids));
        best = std::min(best, t.seconds());
      }
      row.seconds = best;
    }
    row.tokens_per_second = o.batch * o.seq_len / row.seconds;
    row.gflops = result.flops_per_pass / row.seconds / 1e9;
    auto st = dtype == "bf16" ? torch::kBFloat16 : torch::kFloat;
    row.peak_gflops = measure_gemm_peak(st, device, 2048, 1.0).gflops;
    row.fraction_of_peak = row.gflops / row.peak_gflops;
    log_info("bench forward ", dtype, ": ", row.tokens_per_second, " tokens/s, ", row.gflops,
             " GFLOP/s = ", 100 * row.fraction_of_peak, " % of the ", row.peak_gflops,
             " GFLOP/s matmul peak");
    result.rows.push_back(row);
  }
  return result;
}

}  // namespace llmprune
