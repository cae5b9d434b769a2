// Decode and load benchmarks (see bench_decode.h).
#include "eval/bench_decode.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
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
#include "util/huge_pages.h"
#include "util/log.h"
#include "util/timer.h"

namespace llmprune {

namespace {

std::string fixed(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

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

// One row of the table: its own model, loaded once and timed in every round.
struct Contender {
  DecodeBenchRow row;
  std::unique_ptr<CausalLM> model;
  bool libtorch = false;
};

// The process-wide switches a row runs under (GEMV path on/off, kernel instruction set),
// restored when it goes out of scope.
class RowSwitches {
 public:
  RowSwitches(bool libtorch, kernels::KernelLevel level)
      : gemv_(gemv_enabled()), limit_(kernels::kernel_limit()) {
    set_gemv_enabled(!libtorch);
    if (!libtorch) kernels::set_kernel_limit(level);  // LibTorch's matmul ignores it
  }
  ~RowSwitches() {
    set_gemv_enabled(gemv_);
    kernels::set_kernel_limit(limit_);
  }
  RowSwitches(const RowSwitches&) = delete;
  RowSwitches& operator=(const RowSwitches&) = delete;

 private:
  bool gemv_;
  kernels::KernelLevel limit_;
};

Contender load_row(const DecodeBenchOptions& o, const std::string& weights, bool libtorch,
                   kernels::KernelLevel level) {
  Contender c;
  c.libtorch = libtorch;
  c.row.weights = weights;
  LoadOptions lo;
  lo.dtype = o.dtype;
  lo.weights = weights;
  lo.huge_pages = o.huge_pages;
  const int64_t huge_before = anon_huge_page_bytes();
  Timer timer;
  c.model = CausalLM::load(o.model, lo);
  c.row.load_seconds = timer.seconds();
  const int64_t huge_after = anon_huge_page_bytes();
  const bool bf16 = c.model->dtype() == torch::kBFloat16;
  const auto kind = weights == "q8_0"           ? kernels::WeightKind::kQ8_0
                    : bf16 || weights == "bf16" ? kernels::WeightKind::kBF16
                                                : kernels::WeightKind::kF32;
  {
    RowSwitches on(libtorch, level);
    c.row.kernel = libtorch ? "libtorch" : kernels::gemv_kernel_name(kind, bf16);
  }
  c.row.bytes_per_token = bytes_per_token(*c.model, o.prompt_tokens + o.tokens / 2);
  if (huge_before >= 0 && huge_after >= 0) {
    const auto* lm = dynamic_cast<const DecoderLM*>(c.model.get());
    c.row.huge_page_fraction = std::clamp(static_cast<double>(huge_after - huge_before) /
                                              static_cast<double>(lm->decode_weight_bytes()),
                                          0.0, 1.0);
  }
  log_info("bench decode: loaded ", weights, " (", c.row.kernel, ") in ",
           fixed(c.row.load_seconds, 2), " s");
  return c;
}

// One timed generate() of `tokens` tokens (tokens/s of prefill and decode only).
DecodeBenchSample time_row(Contender& c, const std::vector<int64_t>& prompt, int64_t tokens,
                           kernels::KernelLevel level) {
  RowSwitches on(c.libtorch, level);
  GenerateOptions g;
  g.stop_at_eos = false;
  g.max_new_tokens = tokens;
  const GenerateResult r = generate(*c.model, prompt, g);
  LLMPRUNE_CHECK(static_cast<int64_t>(r.tokens.size()) == tokens,
                 "bench decode: generation stopped early (", r.stop_reason, ")");
  DecodeBenchSample s;
  s.prefill_tokens_per_second = static_cast<double>(prompt.size()) / r.prefill_seconds;
  s.decode_tokens_per_second = static_cast<double>(tokens - 1) / r.decode_seconds;
  s.effective_gbps = c.row.bytes_per_token * s.decode_tokens_per_second / 1e9;
  return s;
}

// Per-row medians, fraction range and speed-ups over `rounds`.
void summarize(DecodeBenchResult& r, int reference) {
  std::vector<double> probes;
  for (const auto& round : r.rounds) probes.push_back(round.read_gbps);
  r.read_gbps = bench_median(probes);
  for (size_t i = 0; i < r.rows.size(); ++i) {
    std::vector<double> prefill, decode, gbps, fraction, speedup;
    for (const auto& round : r.rounds) {
      const DecodeBenchSample& s = round.rows[i];
      prefill.push_back(s.prefill_tokens_per_second);
      decode.push_back(s.decode_tokens_per_second);
      gbps.push_back(s.effective_gbps);
      fraction.push_back(s.fraction_of_bandwidth);
      speedup.push_back(s.speedup);
    }
    DecodeBenchRow& row = r.rows[i];
    row.prefill_tokens_per_second = bench_median(prefill);
    row.decode_tokens_per_second = bench_median(decode);
    row.effective_gbps = bench_median(gbps);
    row.fraction_of_bandwidth = bench_median(fraction);
    row.fraction_min = *std::min_element(fraction.begin(), fraction.end());
    row.fraction_max = *std::max_element(fraction.begin(), fraction.end());
    if (reference >= 0 && static_cast<int>(i) != reference) {
      row.speedup_vs = r.rows[static_cast<size_t>(reference)].weights;
      row.speedup_median = bench_median(speedup);
    }
  }
}

std::string round_line(const DecodeBenchResult& r, size_t k) {
  const DecodeBenchRound& round = r.rounds[k];
  std::string line = "bench decode round " + std::to_string(k + 1) + "/" +
                     std::to_string(r.opts.rounds) + ": read " + fixed(round.read_gbps, 1) +
                     " GB/s";
  for (size_t i = 0; i < r.rows.size(); ++i) {
    const DecodeBenchSample& s = round.rows[i];
    line += " | " + r.rows[i].weights + (r.rows[i].kernel == "libtorch" ? " libtorch " : " ") +
            fixed(s.decode_tokens_per_second, 2) + " t/s " +
            fixed(100 * s.fraction_of_bandwidth, 1) + " % of " + fixed(s.read_gbps, 1);
    if (s.speedup > 0) line += " " + fixed(s.speedup, 2) + "x";
  }
  return line;
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

double bench_median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t m = v.size() / 2;
  return v.size() % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

json DecodeBenchResult::to_json() const {
  const auto or_null = [](double speedup) { return speedup > 0 ? json(speedup) : json(nullptr); };
  json rows_json = json::array();
  for (const auto& r : rows)
    rows_json.push_back({{"weights", r.weights},
                         {"kernel", r.kernel},
                         {"load_seconds", r.load_seconds},
                         {"prefill_tokens_per_second", r.prefill_tokens_per_second},
                         {"decode_tokens_per_second", r.decode_tokens_per_second},
                         {"bytes_per_token", r.bytes_per_token},
                         {"effective_gbps", r.effective_gbps},
                         {"fraction_of_read_bandwidth", r.fraction_of_bandwidth},
                         {"fraction_min", r.fraction_min},
                         {"fraction_max", r.fraction_max},
                         {"speedup_vs", r.speedup_vs.empty() ? json(nullptr) : json(r.speedup_vs)},
                         {"speedup_median", or_null(r.speedup_median)},
                         {"weights_on_huge_pages",
                          r.huge_page_fraction >= 0 ? json(r.huge_page_fraction) : json(nullptr)}});
  json rounds_json = json::array();
  double probe_min = 0, probe_max = 0;
  for (size_t k = 0; k < rounds.size(); ++k) {
    const DecodeBenchRound& round = rounds[k];
    probe_min = k == 0 ? round.read_gbps : std::min(probe_min, round.read_gbps);
    probe_max = std::max(probe_max, round.read_gbps);
    json samples = json::array();
    for (size_t i = 0; i < round.rows.size(); ++i) {
      const DecodeBenchSample& s = round.rows[i];
      samples.push_back({{"weights", rows[i].weights},
                         {"kernel", rows[i].kernel},
                         {"prefill_tokens_per_second", s.prefill_tokens_per_second},
                         {"decode_tokens_per_second", s.decode_tokens_per_second},
                         {"effective_gbps", s.effective_gbps},
                         {"read_bandwidth_gbps", s.read_gbps},
                         {"fraction_of_read_bandwidth", s.fraction_of_bandwidth},
                         {"speedup", or_null(s.speedup)}});
    }
    rounds_json.push_back(
        {{"round", k + 1}, {"read_bandwidth_gbps", round.read_gbps}, {"results", samples}});
  }
  return json{{"benchmark", "decode"},
              {"model", opts.model},
              {"dtype", opts.dtype},
              {"kernel_limit", opts.kernels},
              {"huge_pages", opts.huge_pages},
              {"prompt_tokens", opts.prompt_tokens},
              {"tokens", opts.tokens},
              {"threads", threads},
              {"cpu_features", cpu},
              {"read_bandwidth_gbps", read_gbps},
              {"read_bandwidth_gbps_min", probe_min},
              {"read_bandwidth_gbps_max", probe_max},
              {"bandwidth_buffer_mib", opts.bandwidth_mib},
              {"transparent_huge_pages", huge_pages},
              {"bandwidth_buffer_on_huge_pages",
               probe_huge_page_fraction >= 0 ? json(probe_huge_page_fraction) : json(nullptr)},
              {"medians_over_rounds", rounds.size()},
              {"results", rows_json},
              {"rounds", rounds_json}};
}

DecodeBenchResult bench_decode(const DecodeBenchOptions& o) {
  LLMPRUNE_CHECK(o.prompt_tokens >= 1 && o.tokens >= 2,
                 "bench decode: --prompt-tokens must be >= 1 and --tokens >= 2");
  LLMPRUNE_CHECK(o.rounds >= 1, "bench decode: --rounds must be >= 1, got ", o.rounds);
  LLMPRUNE_CHECK(!o.weights.empty() || o.libtorch_row, "bench decode: no --weights to time");
  LLMPRUNE_CHECK(o.bandwidth_mib >= 64,
                 "bench decode: --bandwidth-mib must be >= 64 (larger than the caches)");
  LLMPRUNE_CHECK(o.kernels == "native" || o.kernels == "avx2" || o.kernels == "scalar",
                 "bench decode: --kernels must be native, avx2 or scalar, got '", o.kernels, "'");
  const kernels::KernelLevel level = o.kernels == "avx2"     ? kernels::KernelLevel::kAvx2
                                     : o.kernels == "scalar" ? kernels::KernelLevel::kScalar
                                                             : kernels::kernel_limit();
  DecodeBenchResult result;
  result.opts = o;
  result.threads = at::get_num_threads();
  result.cpu = kernels::cpu_features().summary();
  result.huge_pages = huge_pages_mode();

  // Every row's model at once, so that each round times them all at one host moment.
  std::vector<Contender> rows;
  if (o.libtorch_row) rows.push_back(load_row(o, "native", /*libtorch=*/true, level));
  for (const auto& w : o.weights) rows.push_back(load_row(o, w, false, level));
  int reference = -1;  // the first native/bf16 GEMV row
  for (size_t i = 0; i < rows.size() && reference < 0; ++i)
    if (!rows[i].libtorch && (rows[i].row.weights == "native" || rows[i].row.weights == "bf16"))
      reference = static_cast<int>(i);
  for (const auto& c : rows) result.rows.push_back(c.row);

  torch::manual_seed(o.seed);
  const auto ids =
      torch::randint(rows.front().model->spec().vocab_size, {o.prompt_tokens}, torch::kLong);
  const std::vector<int64_t> prompt(ids.data_ptr<int64_t>(),
                                    ids.data_ptr<int64_t>() + o.prompt_tokens);
  for (auto& c : rows) time_row(c, prompt, 4, level);  // warm-up: first touches, thread pools

  for (int64_t k = 0; k < o.rounds; ++k) {
    // A probe before every row and after the last: each run is compared with the mean of
    // the probes on either side of it, the machine's state while it ran.
    DecodeBenchRound round;
    auto probe = [&] {
      const kernels::BandwidthResult b = kernels::measure_read_bandwidth(o.bandwidth_mib << 20);
      double& least = result.probe_huge_page_fraction;
      if (b.huge_page_fraction >= 0)
        least = least < 0 ? b.huge_page_fraction : std::min(least, b.huge_page_fraction);
      return b.best_gbps;
    };
    std::vector<double> probes{probe()};
    for (auto& c : rows) {
      DecodeBenchSample s = time_row(c, prompt, o.tokens, level);
      probes.push_back(probe());
      s.read_gbps = (probes[probes.size() - 2] + probes.back()) / 2;
      s.fraction_of_bandwidth = s.read_gbps > 0 ? s.effective_gbps / s.read_gbps : 0;
      round.rows.push_back(s);
    }
    round.read_gbps = bench_median(probes);
    if (reference >= 0)
      for (size_t i = 0; i < rows.size(); ++i)
        if (static_cast<int>(i) != reference)
          round.rows[i].speedup =
              round.rows[i].decode_tokens_per_second /
              round.rows[static_cast<size_t>(reference)].decode_tokens_per_second;
    result.rounds.push_back(std::move(round));
    log_info(round_line(result, result.rounds.size() - 1));
  }
  summarize(result, reference);
  return result;
}

json LoadBenchResult::to_json() const {
  return json{{"benchmark", "load"},
              {"model", model},
              {"dtype", dtype},
              {"huge_pages", huge_pages},
              {"read_seconds", read_seconds},
              {"load_seconds", load_seconds},
              {"load_over_read", read_seconds > 0 ? load_seconds / read_seconds : 0.0},
              {"file_bytes", file_bytes},
              {"weight_bytes", weight_bytes},
              {"rss_before_bytes", rss_before_bytes},
              {"peak_rss_bytes", peak_rss_bytes},
              {"peak_rss_over_weights_bytes", peak_rss_bytes - weight_bytes}};
}

LoadBenchResult bench_load(const std::string& model, const std::string& dtype, bool huge_pages) {
  LoadBenchResult r;
  r.model = model;
  r.dtype = dtype;
  r.huge_pages = huge_pages;
  const auto files = weight_files(model);
  read_files(files, &r.file_bytes);  // warms the page cache
  r.read_seconds = read_files(files, &r.file_bytes);
  r.rss_before_bytes = current_rss_bytes();
  LoadOptions lo;
  lo.dtype = dtype;
  lo.huge_pages = huge_pages;
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
