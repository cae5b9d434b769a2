// `llmprune bench decode`: token-by-token decoding speed vs the memory read bandwidth.
#include <cstdio>

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

void run_bench_decode(BenchDecodeCli o) {
  apply_runtime(o.runtime);
  LLMPRUNE_CHECK(o.runtime.device == "cpu", "bench decode measures the CPU kernels: --device cpu");
  o.bench.dtype = o.runtime.dtype;
  o.bench.seed = o.runtime.seed;
  DecodeBenchResult r = bench_decode(o.bench);
  std::printf("decode  %s  dtype %s  threads %d  prompt %lld  tokens %lld\n", o.bench.model.c_str(),
              o.bench.dtype.c_str(), r.threads, (long long)o.bench.prompt_tokens,
              (long long)o.bench.tokens);
  std::printf("cpu: %s; read bandwidth %.1f GB/s (%lld MiB buffer)\n", r.cpu.c_str(), r.read_gbps,
              (long long)o.bench.bandwidth_mib);
  std::printf("%-8s %-12s %8s %12s %12s %10s %9s %8s\n", "weights", "kernel", "load s",
              "prefill t/s", "decode t/s", "MB/token", "GB/s", "of bw");
  for (const auto& row : r.rows)
    std::printf("%-8s %-12s %8.2f %12.1f %12.2f %10.1f %9.1f %7.1f%%\n", row.weights.c_str(),
                row.kernel.c_str(), row.load_seconds, row.prefill_tokens_per_second,
                row.decode_tokens_per_second, row.bytes_per_token / 1e6, row.effective_gbps,
                100 * row.fraction_of_bandwidth);
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
      "Measures the read bandwidth first (a multi-threaded sum over --bandwidth-mib MiB), then\n"
      "for each --weights form loads the model, generates --tokens tokens greedily after a\n"
      "random --prompt-tokens prompt (one warm-up run first) and reports tokens/s and the\n"
      "effective bandwidth: bytes read per token (every weight decoding multiplies by, as\n"
      "stored for decoding, plus the mean KV cache) x tokens/s. Decoding cannot beat the read\n"
      "bandwidth, so 'of bw' is how close to the machine's limit it runs.\n\n"
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
  cmd->add_option("--bandwidth-mib", o->bench.bandwidth_mib,
                  "buffer of the read-bandwidth probe (much larger than the caches)")
      ->capture_default_str();
  add_runtime_options(cmd, o->runtime);
  add_report_option(cmd, o->report);
  cmd->callback([o] { run_bench_decode(*o); });
}

}  // namespace llmprune::cli
