// `llmprune eval`: perplexity of a checkpoint on wikitext2 / ptb / c4 / a text file, with the
// protocol of docs/DESIGN.md, printed with everything needed to compare it.
#include "command.h"
#include "eval/perplexity.h"
#include "io/dataset.h"
#include "runtime.h"
#include "train/peft_io.h"
#include "tokenizer/tokenizer.h"
#include "util/log.h"
#include "util/timer.h"

namespace llmprune::cli {
namespace {

struct EvalOptions {
  std::string model, dataset = "wikitext2", data_dir, report, adapter;
  int64_t seq_len = 0, batch_size = 1, max_windows = 0;
  bool seq_len_given = false;  // an explicit --seq-len 0 is an error, not "the default"
  RuntimeOptions runtime;
};

void run_eval(EvalOptions o) {
  apply_runtime(o.runtime);
  Timer total;
  std::string data_dir = o.data_dir.empty() ? default_data_dir() : o.data_dir;
  std::string description;
  std::string text = load_eval_text(o.dataset, data_dir, &description);
  auto tokenizer = Tokenizer::from_dir(o.model);
  auto model = CausalLM::load(o.model, load_options(o.runtime));
  apply_adapter(*model, o.adapter);  // --adapter: LoRA beside the model, not merged
  const ModelSpec& spec = model->spec();

  PerplexityOptions popts;
  popts.seq_len = o.seq_len;
  if (!o.seq_len_given)
    popts.seq_len = spec.max_position_embeddings > 0
                        ? std::min<int64_t>(2048, spec.max_position_embeddings) : 2048;
  LLMPRUNE_CHECK(popts.seq_len >= 2, "--seq-len must be at least 2, got ", popts.seq_len);
  LLMPRUNE_CHECK(spec.max_position_embeddings <= 0 || popts.seq_len <= spec.max_position_embeddings,
                 "--seq-len ", popts.seq_len, " exceeds the model's max_position_embeddings ",
                 spec.max_position_embeddings, " (", o.model, "/config.json)");
  popts.batch_size = o.batch_size;
  popts.max_windows = o.max_windows;

  Timer tok_timer;
  std::vector<TokenId> ids32 = tokenizer->encode(text, /*add_special_tokens=*/true);
  std::vector<int64_t> ids(ids32.begin(), ids32.end());
  log_info("dataset: ", description, "; ", text.size(), " bytes -> ", ids.size(),
           " tokens (", tok_timer.seconds(), " s)");

  PerplexityResult r = perplexity(*model, ids, popts);
  std::printf("%s  seq-len %lld  windows %lld  scored %lld  nll %.4f  PPL %.6g\n",
              o.dataset.c_str(), (long long)r.seq_len, (long long)r.n_windows,
              (long long)r.n_scored, r.total_nll / r.n_scored, r.ppl);
  log_info("evaluated in ", r.seconds, " s (", r.tokens_per_second, " tokens/s, dtype ",
           o.runtime.dtype, ", device ", o.runtime.device, ")");

  json report = r.to_json();
  report["command"] = "eval";
  report["model"] = o.model;
  report["family"] = spec.family;
  report["dataset"] = o.dataset;
  if (!o.adapter.empty()) report["adapter"] = o.adapter;
  report["dataset_description"] = description;
  report["text_bytes"] = text.size();
  report["windows_available"] = r.n_tokens / r.seq_len;
  report["dtype"] = o.runtime.dtype;
  report["dtype_reason"] = o.runtime.dtype_reason;
  report["weights"] = o.runtime.weights;
  report["device"] = o.runtime.device;
  report["batch_size"] = o.batch_size;
  report["total_seconds"] = total.seconds();
  write_report(o.report, report);
}

}  // namespace

LLMPRUNE_COMMAND("", 40) {
  auto o = std::make_shared<EvalOptions>();
  CLI::App* cmd = app.add_subcommand("eval", "perplexity on wikitext2, ptb, c4 or a text file");
  cmd->footer(
      "Protocol: the dataset text is tokenized once (one BOS when the tokenizer adds one), cut\n"
      "into non-overlapping windows of --seq-len tokens (the short tail is dropped), each window\n"
      "scored alone on its tokens 1..L-1; PPL = exp(total NLL / scored tokens). Numbers at\n"
      "different --seq-len are not comparable.\n\n"
      "Datasets (under --data-dir): wikitext2 (WikiText-2 raw test, rows joined by \"\\n\\n\"),\n"
      "ptb (Penn Treebank test, lines stripped and joined by \" \"), c4 (C4 samples, documents\n"
      "joined by \"\\n\\n\"), or a path to a .txt, .jsonl or .json (\"text\" fields) file.\n\n"
      "Example:\n  llmprune eval --model ../shared/assets/models/stories260K-hf --dataset wikitext2 "
      "--seq-len 256 --report eval.json");
  add_model_option(cmd, o->model);
  cmd->add_option("--adapter", o->adapter, "a PEFT LoRA adapter folder applied without merging");
  cmd->add_option("-d,--dataset", o->dataset, "wikitext2, ptb, c4 or a file path")
      ->capture_default_str();
  cmd->add_option("--data-dir", o->data_dir,
                  "folder holding wikitext2/, ptb/, c4/ (default: ../shared/assets/data when it "
                  "exists, or $LLMPRUNE_DATA_DIR)");
  cmd->add_option("--seq-len", o->seq_len,
                  "window length in tokens (default: min(2048, max_position_embeddings); larger "
                  "than max_position_embeddings is an error)");
  cmd->add_option("--batch-size", o->batch_size, "windows per forward pass")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--max-windows", o->max_windows, "evaluate only the first K windows (0 = all)")
      ->check(CLI::NonNegativeNumber);
  add_runtime_options(cmd, o->runtime);
  add_weight_options(cmd, o->runtime);
  add_report_option(cmd, o->report);
  cmd->callback([o, cmd] {
    o->seq_len_given = cmd->count("--seq-len") > 0;
    run_eval(*o);
  });
}

}  // namespace llmprune::cli
