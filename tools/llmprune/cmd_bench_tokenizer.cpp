// `llmprune bench tokenizer`: load time and encoding throughput (MB/s, tokens/s) of a model
// folder's tokenizer on a text file. A benchmark, not a test: figures go to docs/benchmarks.md.
#include <algorithm>
#include <cstdio>
#include <iostream>

#include "command.h"
#include "tokenizer/load.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/timer.h"

namespace llmprune::cli {
namespace {

struct BenchTokenizerOpts {
  std::string model, file, source = "auto", report;
  int repeat = 5;
};

void run_bench_tokenizer(const BenchTokenizerOpts& o) {
  std::string text = read_file(o.file);
  Timer load_timer;
  auto tk = tok::load_tokenizer(o.model, tok::parse_tokenizer_source(o.source));
  double load_s = load_timer.seconds();
  log_info(tk->describe());
  // The first pass also fills the per-word cache; report it separately ("cold").
  std::vector<double> runs;
  size_t n_tokens = 0;
  Progress progress("encode", o.repeat + 1, "run");
  for (int r = 0; r <= o.repeat; ++r) {
    Timer t;
    n_tokens = tk->encode(text, true).size();
    runs.push_back(t.seconds());
    progress.advance();
  }
  progress.finish();
  double cold = runs[0];
  std::vector<double> warm(runs.begin() + 1, runs.end());
  std::sort(warm.begin(), warm.end());
  double best = warm.empty() ? cold : warm.front();
  double median = warm.empty() ? cold : warm[warm.size() / 2];
  double mb = text.size() / 1e6;
  char line[512];
  std::snprintf(line, sizeof line,
                "%s: %.2f MB, %zu tokens; load %.3f s; encode cold %.3f s (%.1f MB/s), warm "
                "median %.3f s (%.1f MB/s, %.0f tokens/s), best %.3f s",
                o.model.c_str(), mb, n_tokens, load_s, cold, mb / cold, median, mb / median,
                n_tokens / median, best);
  std::cout << line << "\n";
  write_report(o.report, {{"command", "bench tokenizer"},
                          {"model", o.model},
                          {"file", o.file},
                          {"tokenizer", tk->describe()},
                          {"bytes", text.size()},
                          {"tokens", n_tokens},
                          {"load_seconds", load_s},
                          {"cold_seconds", cold},
                          {"warm_seconds", warm},
                          {"median_mb_per_s", mb / median},
                          {"median_tokens_per_s", n_tokens / median}});
}

}  // namespace

LLMPRUNE_COMMAND("bench", 10) {
  auto o = std::make_shared<BenchTokenizerOpts>();
  CLI::App* cmd = app.add_subcommand("tokenizer", "tokenizer load time and encoding throughput");
  cmd->footer(
      "Encodes the whole file once cold (per-word cache empty), then --repeat times warm.\n\n"
      "Example:\n"
      "  llmprune bench tokenizer --model ../shared/assets/tokenizers/llama3 \\\n"
      "      --file ../shared/assets/data/wikitext2/wikitext2_test_hfjoin.txt --repeat 5");
  add_model_option(cmd, o->model);
  cmd->add_option("--file", o->file, "text file to encode (UTF-8)")->type_name("FILE")->required();
  cmd->add_option("--repeat", o->repeat, "warm repetitions")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  cmd->add_option("--tokenizer", o->source, "auto, json or spm (see 'llmprune tokenize --help')")
      ->check(CLI::IsMember({"auto", "json", "spm"}))
      ->capture_default_str();
  add_report_option(cmd, o->report);
  cmd->callback([o] { run_bench_tokenizer(*o); });
}

}  // namespace llmprune::cli
