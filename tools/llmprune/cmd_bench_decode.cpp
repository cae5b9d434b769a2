// `llmprune bench decode`: token-by-token decoding speed vs the memory read bandwidth,
// in interleaved rounds (medians printed, every round in the report).
#include <cstdio>
#include <string>

#include "command.h"
#include "eval/bench_decode.h"
#include "runtime.h"

namespace llmprune::cli {
namespace {

struct BenchDecodeCli {
  DecodeBenchOptions bench;
  RuntimeOptions runtime;
  std::string report;
};

// "87%", or "?" when unknown (negative).
std::string percent(double fraction) {
  if (fraction < 0) return "?";
  char buf[16];
  std::snprintf(buf, sizeof buf, "%.0f%%", 100 * fraction);
  return buf;
}

void run_bench_decode(BenchDecodeCli o) {
  apply_runtime(o.runtime);
  LLMPRUNE_CHECK(o.runtime.device == "cpu", "bench decode measures the CPU kernels: --device cpu");
  o.bench.dtype = o.runtime.dtype;
  o.bench.seed = o.runtime.seed;
  o.bench.huge_pages = o.runtime.huge_pages == "on";
  DecodeBenchResult r = bench_decode(o.bench);
  std::printf("decode  %s  dtype %s  threads %d  prompt %lld  tokens %lld  rounds %lld\n",
              o.bench.model.c_str(), o.bench.dtype.c_str(), r.threads,
              (long long)o.bench.prompt_tokens, (long long)o.bench.tokens,
              (long long)o.bench.rounds);
  std::printf("cpu: %s; read bandwidth %.1f GB/s median (%lld MiB buffer, %s on huge pages)\n",
              r.cpu.c_str(), r.read_gbps, (long long)o.bench.bandwidth_mib,
              percent(r.probe_huge_page_fraction).c_str());
  std::printf("transparent huge pages: %s\n", r.huge_pages.c_str());
  std::printf("medians over the rounds; 'of bw' against the probes either side of each run\n");
  std::printf("%-8s %-12s %7s %5s %12s %11s %9s %7s %7s %12s  %s\n", "weights", "kernel", "load s",
              "huge", "prefill t/s", "decode t/s", "MB/token", "GB/s", "of bw", "min-max",
              "speed-up");
  for (const auto& row : r.rows) {
    std::string speedup;
    if (row.speedup_median > 0) {
      char buf[64];
      std::snprintf(buf, sizeof buf, "%.2fx %s", row.speedup_median, row.speedup_vs.c_str());
      speedup = buf;
    }
    std::printf("%-8s %-12s %7.2f %5s %12.1f %11.2f %9.1f %7.1f %6.1f%% %5.1f-%5.1f%%  %s\n",
                row.weights.c_str(), row.kernel.c_str(), row.load_seconds,
                percent(row.huge_page_fraction).c_str(), row.prefill_tokens_per_second,
                row.decode_tokens_per_second, row.bytes_per_token / 1e6, row.effective_gbps,
                100 * row.fraction_of_bandwidth, 100 * row.fraction_min, 100 * row.fraction_max,
                speedup.c_str());
  }
  for (size_t k = 0; k < r.rounds.size(); ++k) {
    std::printf("round %zu: read %.1f GB/s", k + 1, r.rounds[k].read_gbps);
    for (size_t i = 0; i < r.rows.size(); ++i) {
      const DecodeBenchSample& s = r.rounds[k].rows[i];
      std::printf(" | %s%s %.2f t/s %.1f%% of %.1f", r.rows[i].weights.c_str(),
                  r.rows[i].kernel == "libtorch" ? " libtorch" : "", s.decode_tokens_per_second,
                  100 * s.fraction_of_bandwidth, s.read_gbps);
      if (s.speedup > 0) std::printf(" %.2fx", s.speedup);
    }
    std::printf("\n");
  }
  json report = r.to_json();
  report["command"] = "bench decode";
  report["dtype_reason"] = o.runtime.dtype_reason;
  write_report(o.report, report);
}

}  // namespace

LLMPRUNE_COMMAND("bench", 20) {
  auto o = std::make_shared<BenchDecodeCli>();
  o->runtime.dtype = "auto";
  CLI::App* cmd = app.add_subcommand(
      "decode", "token-by-token decoding speed of a checkpoint vs the memory read bandwidth");
  cmd->footer(
      "Loads one model per row (each --weights form, plus the LibTorch row with --libtorch)\n"
      "and holds them ALL in memory at once: with --huge-pages on (the default, as serve\n"
      "loads) every row's large weights are copies on huge pages; with off, weights\n"
      "kept in the stored dtype are the mapped file's pages (shared). Q8_0 weights are\n"
      "copies on huge pages either way. The probe's buffer is on huge pages too, so 'of bw'\n"
      "compares with the fastest reads the machine offers ('huge' column: the share of the\n"
      "row's decode weights Linux put on huge pages).\n"
      "Warms each up once, then runs --rounds rounds: each times every row once, in the same\n"
      "order, generating --tokens tokens greedily after a random --prompt-tokens prompt, and\n"
      "measures the read bandwidth (a multi-threaded sum over --bandwidth-mib MiB with the\n"
      "widest vector loads the CPU has) before every row and after the last.\n"
      "Per row and round: tokens/s and the effective bandwidth, bytes read per token (every\n"
      "weight decoding multiplies by, as stored for decoding, plus the mean KV cache) x\n"
      "tokens/s, as a fraction of the mean of the two probes on either side of THAT run ('of\n"
      "bw'; decoding cannot beat the read bandwidth, so it says how close to the machine's\n"
      "limit it runs). Speed-ups over the first native/bf16 GEMV row are taken within each\n"
      "round.\n\n"
      "The table shows medians over the rounds (and the range of 'of bw'); one line per\n"
      "round follows, and the --report JSON keeps every round. Why rounds: on a shared host\n"
      "the memory bandwidth drifts (here 30-49 GB/s within minutes), so one probe at the\n"
      "start compared with runs made minutes later, or two weight forms timed at different\n"
      "moments, mix two states of the machine.\n\n"
      "Example (TinyLlama-1.1B shape, random bf16 weights):\n"
      "  llmprune make-test-model -o tl --layers 22 --hidden 2048 --heads 32 --kv-heads 4 \\\n"
      "      --intermediate 5632 --vocab 32000 --dtype bf16\n"
      "  llmprune bench decode --model tl --threads 2 --report decode.json");
  add_model_option(cmd, o->bench.model);
  cmd->add_option("--weights", o->bench.weights, "weight forms to time: native, bf16, q8_0")
      ->check(CLI::IsMember({"native", "bf16", "q8_0"}))
      ->capture_default_str();
  cmd->add_flag("--libtorch", o->bench.libtorch_row,
                "also time the native weights through LibTorch's matmul (no GEMV kernels)");
  cmd->add_option("--kernels", o->bench.kernels,
                  "widest instruction set the kernels may use: native (all the CPU has), avx2, "
                  "scalar")
      ->check(CLI::IsMember({"native", "avx2", "scalar"}))
      ->capture_default_str();
  cmd->add_option("--prompt-tokens", o->bench.prompt_tokens, "random prompt length")
      ->capture_default_str();
  cmd->add_option("--tokens", o->bench.tokens, "tokens generated per timed run")
      ->capture_default_str();
  cmd->add_option("--rounds", o->bench.rounds,
                  "rounds of (bandwidth probe, every row once); medians are reported (>= 1)")
      ->capture_default_str();
  cmd->add_option("--bandwidth-mib", o->bench.bandwidth_mib,
                  "buffer of the read-bandwidth probe (much larger than the caches)")
      ->capture_default_str();
  add_runtime_options(cmd, o->runtime);
  o->runtime.huge_pages = "on";
  add_huge_pages_option(cmd, o->runtime.huge_pages);
  add_report_option(cmd, o->report);
  cmd->callback([o] { run_bench_decode(*o); });
}

}  // namespace llmprune::cli
