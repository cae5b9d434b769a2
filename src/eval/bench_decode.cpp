// Decode and load benchmarks (see bench_decode.h).
#include "eval/bench_decode.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "kernels/bandwidth.h"
#include "kernels/cpu_features.h"
#include "kernels/gemv.h"
#include "model/causal_lm.h"
#include "model/decoder_lm.h"
#include "model/linear.h"
#include "model/runtime.h"
#include "serve/generate.h"
#include "util/error.h"
#include "util/log.h"
#include "util/timer.h"

namespace llmprune {

namespace {

// Bytes one decoding step reads: every weight the step multiplies by (as decoding stores
// it), one embedding row, and the KV cache at `context` tokens.
double bytes_per_token(CausalLM& model, int64_t context) {
  auto* lm = dynamic_cast<DecoderLM*>(&model);
  LLMPRUNE_ASSERT(lm, "bench decode needs a DecoderLM");
  double bytes = static_cast<double>(lm->decode_weight_bytes());
  const ModelSpec& spec = model.spec();
  const double elem = torch::elementSize(model.dtype());
  bytes += elem * static_cast<double>(spec.hidden_size);
  for (const auto& layer : spec.layers)
    if (layer.attn)
      bytes += 2.0 * elem * static_cast<double>(layer.attn->n_kv_heads * layer.attn->head_dim) *
               static_cast<double>(context);
  return bytes;
}

DecodeBenchRow run_row(const DecodeBenchOptions& o, const std::string& weights, bool libtorch,
                       double read_gbps) {
  DecodeBenchRow row;
  row.weights = weights;
  LoadOptions lo;
  lo.dtype = o.dtype;
  lo.weights = weights;
  Timer timer;
  auto model = CausalLM::load(o.model, lo);
  row.load_seconds = timer.seconds();
  const bool bf16 = model->dtype() == torch::kBFloat16;
  const auto kind = weights == "q8_0"                 ? kernels::WeightKind::kQ8_0
                    : bf16 || weights == "bf16"         ? kernels::WeightKind::kBF16
                                                        : kernels::WeightKind::kF32;
  row.kernel = libtorch ? "libtorch" : kernels::gemv_kernel_name(kind, bf16);
  set_gemv_enabled(!libtorch);
  torch::manual_seed(o.seed);
  const auto ids = torch::randint(model->spec().vocab_size, {o.prompt_tokens}, torch::kLong);
  const std::vector<int64_t> prompt(ids.data_ptr<int64_t>(), ids.data_ptr<int64_t>() + o.prompt_tokens);
  GenerateOptions g;
  g.stop_at_eos = false;
  g.max_new_tokens = 4;
  generate(*model, prompt, g);  // warm-up: first touches, thread pools
  g.max_new_tokens = o.tokens;
  const GenerateResult r = generate(*model, prompt, g);
  set_gemv_enabled(true);
  LLMPRUNE_CHECK(static_cast<int64_t>(r.tokens.size()) == o.tokens,
                 "bench decode: generation stopped early (", r.stop_reason, ")");
  row.prefill_tokens_per_second = static_cast<double>(o.prompt_tokens) / r.prefill_seconds;
  row.decode_tokens_per_second = static_cast<double>(o.tokens - 1) / r.decode_seconds;
  row.bytes_per_token = bytes_per_token(*model, o.prompt_tokens + o.tokens / 2);
  row.effective_gbps = row.bytes_per_token * row.decode_tokens_per_second / 1e9;
  row.fraction_of_bandwidth = read_gbps > 0 ? row.effective_gbps / read_gbps : 0;
  log_info("bench decode ", weights, " (", row.kernel, "): ", row.decode_tokens_per_second,
           " tokens/s, ", row.effective_gbps, " GB/s of weights");
  return row;
}

int64_t current_rss_bytes() {
  std::ifstream in("/proc/self/statm");
  int64_t pages = 0, resident = 0;
  in >> pages >> resident;
  return resident * static_cast<int64_t>(::sysconf(_SC_PAGESIZE));
}

std::vector<std::string> weight_files(const std::string& dir) {
  std::vector<std::string> files;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    if (e.path().extension() == ".safetensors") files.push_back(e.path().string());
  LLMPRUNE_CHECK(!files.empty(), "bench load: no .safetensors files in ", dir);
  return files;
}

// Seconds to read every file once with read(2) into a reused buffer.
double read_files(const std::vector<std::string>& files, int64_t* bytes) {
  std::vector<char> buf(size_t{64} << 20);
  Timer timer;
  *bytes = 0;
  for (const auto& f : files) {
    const int fd = ::open(f.c_str(), O_RDONLY | O_CLOEXEC);
    LLMPRUNE_CHECK(fd >= 0, "bench load: cannot open ", f);
    for (ssize_t n; (n = ::read(fd, buf.data(), buf.size())) > 0;) *bytes += n;
    ::close(fd);
  }
  return timer.seconds();
}

}  // namespace

json DecodeBenchResult::to_json() const {
  json rows_json = json::array();
  for (const auto& r : rows)
    rows_json.push_back({{"weights", r.weights},
                         {"kernel", r.kernel},
                         {"load_seconds", r.load_seconds},
                         {"prefill_tokens_per_second", r.prefill_tokens_per_second},
                         {"decode_tokens_per_second", r.decode_tokens_per_second},
                         {"bytes_per_token", r.bytes_per_token},
                         {"effective_gbps", r.effective_gbps},
                         {"fraction_of_read_bandwidth", r.fraction_of_bandwidth}});
  return json{{"benchmark", "decode"},
              {"model", opts.model},
              {"dtype", opts.dtype},
              {"kernel_limit", opts.kernels},
              {"prompt_tokens", opts.prompt_tokens},
              {"tokens", opts.tokens},
              {"threads", threads},
              {"cpu_features", cpu},
              {"read_bandwidth_gbps", read_gbps},
              {"bandwidth_buffer_mib", opts.bandwidth_mib},
              {"results", rows_json}};
}

DecodeBenchResult bench_decode(const DecodeBenchOptions& o) {
  LLMPRUNE_CHECK(o.prompt_tokens >= 1 && o.tokens >= 2, "bench decode: --prompt-tokens must be "
                 ">= 1 and --tokens >= 2");
  LLMPRUNE_CHECK(o.bandwidth_mib >= 64, "bench decode: --bandwidth-mib must be >= 64 (larger "
                 "than the caches)");
  LLMPRUNE_CHECK(o.kernels == "native" || o.kernels == "avx2" || o.kernels == "scalar",
                 "bench decode: --kernels must be native, avx2 or scalar, got '", o.kernels, "'");
  DecodeBenchResult result;
  result.opts = o;
  result.threads = at::get_num_threads();
  result.cpu = kernels::cpu_features().summary();
  const auto bw = kernels::measure_read_bandwidth(o.bandwidth_mib << 20);
  result.read_gbps = bw.best_gbps;
  log_info("read bandwidth: ", bw.best_gbps, " GB/s (", bw.threads, " threads, ",
           o.bandwidth_mib, " MiB)");
  if (o.libtorch_row) result.rows.push_back(run_row(o, "native", /*libtorch=*/true, bw.best_gbps));
  const kernels::KernelLevel all = kernels::kernel_limit();
  kernels::set_kernel_limit(o.kernels == "avx2"     ? kernels::KernelLevel::kAvx2
                            : o.kernels == "scalar" ? kernels::KernelLevel::kScalar
                                                    : all);
  for (const auto& w : o.weights) result.rows.push_back(run_row(o, w, false, bw.best_gbps));
  kernels::set_kernel_limit(all);
  return result;
}

json LoadBenchResult::to_json() const {
  return json{{"benchmark", "load"},
              {"model", model},
              {"dtype", dtype},
              {"read_seconds", read_seconds},
              {"load_seconds", load_seconds},
              {"load_over_read", read_seconds > 0 ? load_seconds / read_seconds : 0.0},
              {"file_bytes", file_bytes},
              {"weight_bytes", weight_bytes},
              {"rss_before_bytes", rss_before_bytes},
              {"peak_rss_bytes", peak_rss_bytes},
              {"peak_rss_over_weights_bytes", peak_rss_bytes - weight_bytes}};
}

LoadBenchResult bench_load(const std::string& model, const std::string& dtype) {
  LoadBenchResult r;
  r.model = model;
  r.dtype = dtype;
  const auto files = weight_files(model);
  read_files(files, &r.file_bytes);  // warms the page cache
  r.read_seconds = read_files(files, &r.file_bytes);
  r.rss_before_bytes = current_rss_bytes();
  LoadOptions lo;
  lo.dtype = dtype;
  Timer timer;
  auto m = CausalLM::load(model, lo);
  r.load_seconds = timer.seconds();
  for (const auto& [name, p] : m->named_parameters())
    r.weight_bytes += p.numel() * static_cast<int64_t>(p.element_size());
  struct rusage usage {};
  ::getrusage(RUSAGE_SELF, &usage);
  r.peak_rss_bytes = static_cast<int64_t>(usage.ru_maxrss) * 1024;
  return r;
}

}  // namespace llmprune
