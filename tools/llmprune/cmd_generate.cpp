// `llmprune generate`: complete a prompt, streaming tokens to stdout as they are chosen.
#include <cstdio>

#include "command.h"
#include "runtime.h"
#include "serve/generate.h"
#include "tokenizer/tokenizer.h"
#include "train/peft_io.h"
#include "util/log.h"

namespace llmprune::cli {
namespace {

struct GenerateCliOptions {
  std::string model, prompt, report, adapter;
  GenerateOptions gen;
  bool ignore_eos = false, no_special = false;
  RuntimeOptions runtime;
};

void run_generate(GenerateCliOptions o) {
  apply_runtime(o.runtime);
  auto tokenizer = Tokenizer::from_dir(o.model);
  auto model = CausalLM::load(o.model, load_options(o.runtime));
  apply_adapter(*model, o.adapter);  // --adapter: LoRA beside the model, not merged
  std::vector<TokenId> ids32 = tokenizer->encode(o.prompt, !o.no_special);
  std::vector<int64_t> prompt(ids32.begin(), ids32.end());

  GenerateOptions gen = o.gen;
  gen.sampling.seed = o.runtime.seed;
  gen.stop_at_eos = !o.ignore_eos;
  StreamDecoder stream(*tokenizer);
  std::fputs(o.prompt.c_str(), stdout);
  std::fflush(stdout);
  GenerateResult r = generate(*model, prompt, gen, [&](int64_t id) {
    std::fputs(stream.push(static_cast<TokenId>(id)).c_str(), stdout);
    std::fflush(stdout);
  });
  std::fputs(stream.flush().c_str(), stdout);
  std::fputs("\n", stdout);

  double decode_rate =
      r.tokens.size() > 1 && r.decode_seconds > 0 ? (r.tokens.size() - 1) / r.decode_seconds : 0;
  log_info(r.tokens.size(), " tokens (stop: ", r.stop_reason, "); prompt ", prompt.size(),
           " tokens in ", r.prefill_seconds, " s; decode ", decode_rate, " tokens/s");
  std::vector<TokenId> out32(r.tokens.begin(), r.tokens.end());
  json report{{"command", "generate"},
              {"model", o.model},
              {"prompt", o.prompt},
              {"prompt_tokens", prompt},
              {"generated_tokens", r.tokens},
              {"generated_text", tokenizer->decode(out32, /*skip_special_tokens=*/true)},
              {"stop_reason", r.stop_reason},
              {"temperature", gen.sampling.temperature},
              {"top_k", gen.sampling.top_k},
              {"top_p", gen.sampling.top_p},
              {"seed", gen.sampling.seed},
              {"prefill_seconds", r.prefill_seconds},
              {"decode_seconds", r.decode_seconds},
              {"decode_tokens_per_second", decode_rate},
              {"dtype", o.runtime.dtype},
              {"dtype_reason", o.runtime.dtype_reason},
              {"weights", o.runtime.weights},
              {"device", o.runtime.device}};
  write_report(o.report, report);
}

}  // namespace

LLMPRUNE_COMMAND("", 50) {
  auto o = std::make_shared<GenerateCliOptions>();
  CLI::App* cmd = app.add_subcommand("generate", "complete a prompt, streaming tokens to stdout");
  cmd->footer(
      "Greedy by default (--temperature 0); with --temperature > 0 tokens are sampled after the\n"
      "top-k and top-p cuts, from a generator seeded by --seed (same seed, same text).\n\n"
      "Example:\n  llmprune generate --model ../shared/assets/models/stories260K-hf "
      "--prompt \"Once upon a time\" --max-new-tokens 40");
  add_model_option(cmd, o->model);
  cmd->add_option("--adapter", o->adapter, "a PEFT LoRA adapter folder applied without merging");
  cmd->add_option("-p,--prompt", o->prompt, "the prompt text")->required();
  cmd->add_option("-n,--max-new-tokens", o->gen.max_new_tokens, "tokens to generate at most")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option("--temperature", o->gen.sampling.temperature, "0 = greedy")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option("--top-k", o->gen.sampling.top_k, "keep the k most likely tokens (0 = all)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option("--top-p", o->gen.sampling.top_p, "nucleus: keep the smallest set with mass p")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  cmd->add_flag("--ignore-eos", o->ignore_eos, "keep generating after an end-of-sequence token");
  cmd->add_flag("--no-special", o->no_special, "do not add BOS/special tokens to the prompt");
  add_runtime_options(cmd, o->runtime);
  add_weight_options(cmd, o->runtime);
  add_report_option(cmd, o->report);
  cmd->callback([o] { run_generate(*o); });
}

}  // namespace llmprune::cli
