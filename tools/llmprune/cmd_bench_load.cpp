// `llmprune bench load`: model load time and peak RSS vs reading the weight files once.
#include <cstdio>

#include "command.h"
#include "eval/bench_decode.h"
#include "runtime.h"

namespace llmprune::cli {
namespace {

struct BenchLoadCli {
  std::string model;
  RuntimeOptions runtime;
  std::string report;
};

void run_bench_load(BenchLoadCli o) {
  apply_runtime(o.runtime);
  LoadBenchResult r = bench_load(o.model, o.runtime.dtype, o.runtime.huge_pages == "on");
  const double gib = 1024.0 * 1024.0 * 1024.0;
  std::printf("load  %s  dtype %s  huge pages %s\n", o.model.c_str(), r.dtype.c_str(),
              o.runtime.huge_pages.c_str());
  std::printf("read files once: %.3f s (%.2f GiB, warm cache)\n", r.read_seconds,
              r.file_bytes / gib);
  std::printf("load:            %.3f s (%.2fx the read)\n", r.load_seconds,
              r.read_seconds > 0 ? r.load_seconds / r.read_seconds : 0.0);
  std::printf(
      "peak RSS:        %.2f GiB (weights in memory %.2f GiB, + %.2f GiB; %.2f GiB "
      "before loading)\n",
      r.peak_rss_bytes / gib, r.weight_bytes / gib, (r.peak_rss_bytes - r.weight_bytes) / gib,
      r.rss_before_bytes / gib);
  json report = r.to_json();
  report["command"] = "bench load";
  report["dtype_reason"] = o.runtime.dtype_reason;
  write_report(o.report, report);
}

}  // namespace

LLMPRUNE_COMMAND("bench", 30) {
  auto o = std::make_shared<BenchLoadCli>();
  o->runtime.dtype = "auto";
  CLI::App* cmd =
      app.add_subcommand("load", "model load time and peak RSS vs reading the weight files once");
  cmd->footer(
      "Reads every .safetensors file of --model twice with read(2) (the first warms the page\n"
      "cache; the second is timed), then loads the model as every command does and reports\n"
      "the load time and the process's peak RSS next to the weights' size in memory.\n"
      "Run it in a fresh process: peak RSS is the process's.\n\n"
      "Example:\n  llmprune bench load --model tl --report load.json");
  add_model_option(cmd, o->model);
  add_runtime_options(cmd, o->runtime);
  add_huge_pages_option(cmd, o->runtime.huge_pages);
  add_report_option(cmd, o->report);
  cmd->callback([o] { run_bench_load(*o); });
}

}  // namespace llmprune::cli
