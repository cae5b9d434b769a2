// `llmprune route`: answer prompts on a staged model (A + bundles), each on the stage its
// entropy chooses; a REPL on a terminal, one prompt per line otherwise.
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>

#include "command.h"
#include "model/runtime.h"
#include "serve/staged_generate.h"
#include "staged_options.h"
#include "util/error.h"
#include "util/log.h"

namespace llmprune::cli {
namespace {

struct RouteCliOptions {
  StagedCliOptions staged;
  std::string report, prompts;
};

void run_route(const RouteCliOptions& o) {
  StagedSetup s = setup_staged(o.staged);
  StagedModel& m = *s.model;
  GenerateOptions gen = o.staged.gen;
  gen.sampling.seed = o.staged.runtime.seed;
  gen.stop_at_eos = !o.staged.ignore_eos;
  std::ifstream file;
  if (!o.prompts.empty()) {
    file.open(o.prompts);
    LLMPRUNE_CHECK(file.good(), "--prompts ", o.prompts, ": cannot read the file");
  }
  std::istream& in = o.prompts.empty() ? std::cin : file;
  const bool tty = o.prompts.empty() && isatty(STDIN_FILENO) != 0;
  if (tty)
    std::fprintf(stderr, "stages %s; thresholds %g, %g nats. One prompt per line, Ctrl-D ends.\n",
                 m.stage_names().c_str(), s.policy.low, s.policy.high);
  json decisions = json::array();
  std::map<int, std::pair<int64_t, double>> per_stage;  // count, sum of tokens/s
  int64_t drafted = 0, accepted = 0;
  std::string line;
  while (true) {
    if (tty) std::fputs("> ", stderr);
    if (!std::getline(in, line)) break;
    if (line.empty()) continue;
    auto ids32 = s.tokenizer->encode(line, true);
    std::vector<int64_t> prompt(ids32.begin(), ids32.end());
    StreamDecoder stream(*s.tokenizer);
    StagedResult r = staged_generate(m, prompt, gen, s.policy, [&](int64_t id) {
      if (tty) {
        std::fputs(stream.push(static_cast<TokenId>(id)).c_str(), stdout);
        std::fflush(stdout);
      }
      return true;
    });
    std::vector<TokenId> out32(r.tokens.begin(), r.tokens.end());
    const std::string text = s.tokenizer->decode(out32, /*skip_special_tokens=*/true);
    if (tty) {
      std::fputs(stream.flush().c_str(), stdout);
      std::fputs("\n", stdout);
    } else {
      std::string one = text;
      for (char& c : one)
        if (c == '\n' || c == '\r') c = ' ';
      std::printf("%s\n", one.c_str());
    }
    std::fflush(stdout);
    const double tps = r.decode_tokens_per_second();
    std::fprintf(stderr, "[stage %s (entropy %.3f nats)%s, %zu tokens, %.1f tokens/s%s]\n",
                 m.info(r.stage).name.c_str(), r.entropy,
                 r.final_stage != r.stage ? (" -> " + m.info(r.final_stage).name).c_str() : "",
                 r.tokens.size(), tps,
                 r.drafted > 0 ? (", accepted " + std::to_string(r.accepted) + "/" +
                                  std::to_string(r.drafted) + " drafted")
                                     .c_str()
                               : "");
    auto& ps = per_stage[r.stage];
    ps.first += 1;
    ps.second += tps;
    drafted += r.drafted;
    accepted += r.accepted;
    json esc = json::array();
    for (const auto& e : r.escalations)
      esc.push_back({{"at_token", e.at_token},
                     {"from", m.info(e.from).name},
                     {"to", m.info(e.to).name},
                     {"mean_entropy", e.mean_entropy}});
    decisions.push_back({{"prompt", line},
                         {"prompt_tokens", prompt.size()},
                         {"entropy", r.entropy},
                         {"stage", m.info(r.stage).name},
                         {"final_stage", m.info(r.final_stage).name},
                         {"escalations", esc},
                         {"generated_tokens", r.tokens},
                         {"text", text},
                         {"stop_reason", r.stop_reason},
                         {"prefill_seconds", r.prefill_seconds},
                         {"decode_seconds", r.decode_seconds},
                         {"decode_tokens_per_second", tps},
                         {"drafted", r.drafted},
                         {"accepted", r.accepted}});
  }
  json summary = json::object();
  for (int i = 0; i < m.n_stages(); ++i) {
    auto it = per_stage.find(i);
    const int64_t n = it == per_stage.end() ? 0 : it->second.first;
    summary[m.info(i).name] = {{"prompts", n},
                               {"mean_decode_tokens_per_second",
                                n > 0 ? it->second.second / static_cast<double>(n) : 0.0}};
  }
  json report{{"command", "route"},
              {"model", o.staged.model},
              {"bundles_dir", o.staged.bundles_dir},
              {"stages", stages_json(m)},
              {"thresholds", {s.policy.low, s.policy.high}},
              {"entropy", "nats, stage A's next-token distribution after the last prompt token"},
              {"force_stage", o.staged.force_stage},
              {"escalate", s.policy.escalate},
              {"speculative", s.policy.speculative},
              {"calibration", s.calibration},
              {"decisions", decisions},
              {"summary", summary},
              {"drafted", drafted},
              {"accepted", accepted},
              {"acceptance_rate", drafted > 0 ? static_cast<double>(accepted) / drafted : 0.0},
              {"dtype", dtype_label(s.model->shared().dtype())},
              {"weights", o.staged.runtime.weights},
              {"device", o.staged.runtime.device}};
  log_info("answered ", decisions.size(), " prompts");
  write_report(o.report, report);
}

}  // namespace

LLMPRUNE_COMMAND("", 52) {
  auto o = std::make_shared<RouteCliOptions>();
  CLI::App* cmd = app.add_subcommand(
      "route", "answer prompts on a depth-pruned model's stages (A, AB, FULL) chosen by entropy");
  cmd->footer(
      "Each prompt is prefilled on A; the entropy H (nats) of A's next-token distribution after\n"
      "the last prompt token picks the stage: A when H < LOW, AB when H < HIGH, else FULL.\n"
      "Reads a prompt per line from stdin (a REPL on a terminal: stage, entropy and tokens/s\n"
      "after each answer); answers go to stdout, one line each when stdin is not a terminal.\n\n"
      "Example:\n  llmprune prune depth --model M --out A --bundles-dir BUNDLES --n-drop 2\n"
      "  echo \"Once upon a time\" | llmprune route --model A --bundles-dir BUNDLES "
      "--thresholds 1,3 --report route.json");
  add_staged_options(cmd, o->staged, /*with_generation=*/true);
  cmd->add_option("--prompts", o->prompts, "read the prompts from FILE (one per line), not stdin")
      ->type_name("FILE");
  add_report_option(cmd, o->report);
  cmd->callback([o] { run_route(*o); });
}

}  // namespace llmprune::cli
