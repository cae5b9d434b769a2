// The healing option group and job (see heal_options.h).
#include "heal_options.h"

#include <cstdio>
#include <fstream>
#include <sstream>

#include "eval/perplexity.h"
#include "export/model_files.h"
#include "io/checkpoint.h"
#include "io/dataset.h"
#include "model/causal_lm.h"
#include "model/layer_source.h"
#include "tokenizer/tokenizer.h"
#include "train/peft_io.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/svg_plot.h"

namespace llmprune::cli {
namespace {

std::vector<std::string> split_commas(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  std::string x;
  while (std::getline(in, x, ','))
    if (!x.empty()) out.push_back(x);
  return out;
}

std::string loss_curve_svg(const TrainResult& r) {
  LineChartSpec spec;
  spec.title = "healing loss";
  spec.x_label = "step";
  spec.y_label = "loss (mean NLL)";
  LineSeries train{"train", {}, {}}, val{"validation", {}, {}};
  for (const auto& s : r.log) {
    train.x.push_back(static_cast<double>(s.step));
    train.y.push_back(s.loss);
    if (std::isfinite(s.val_loss)) {
      val.x.push_back(static_cast<double>(s.step));
      val.y.push_back(s.val_loss);
    }
  }
  if (std::isfinite(r.val_before)) {
    val.x.insert(val.x.begin(), 0.0);
    val.y.insert(val.y.begin(), r.val_before);
  }
  if (std::isfinite(r.val_after) && (val.x.empty() || val.x.back() != r.steps)) {
    val.x.push_back(static_cast<double>(r.steps));
    val.y.push_back(r.val_after);
  }
  spec.series.push_back(train);
  if (!val.x.empty()) {
    spec.series.push_back(val);
    spec.markers = true;
  }
  return svg_line_chart(spec);
}

}  // namespace

void add_heal_options(CLI::App* cmd, HealCliOptions& o, const std::string& prefix) {
  const std::string g = "Healing";
  auto name = [&](const char* n) { return "--" + prefix + n; };
  auto* d = cmd->add_option(name("data"), o.data,
                            "training data: alpaca .json/.jsonl (instruction/input/output), "
                            "jsonl/json \"text\", or a plain text file")
                ->group(g);
  if (prefix.empty()) d->required();
  cmd->add_option(name("tokenizer"), o.tokenizer,
                  "folder with the tokenizer files (default: the model folder)")
      ->group(g);
  cmd->add_option(name("val-data"), o.val_data, "validation data (same formats)")->group(g);
  cmd->add_option(name("val-fraction"), o.val_fraction,
                  "hold out the last fraction F of the training examples for validation")
      ->check(CLI::Range(0.0, 0.9))
      ->group(g);
  cmd->add_option(name("method"), o.train.method, "lora | full")->capture_default_str()->group(g);
  cmd->add_option(name("preset"), o.preset,
                  "gromov-llama2 (lr 3e-4, r 2, alpha 2, gate/up/down), gromov-mistral (lr 3e-6, "
                  "r 4, alpha 4, gate/up/down), llm-pruner (r 8, alpha 16, dropout 0.05, lr 3e-4, "
                  "2 epochs, all linear maps); flags given override it")
      ->group(g);
  cmd->add_option(name("targets"), o.targets,
                  "comma-separated HF module names (q_proj,v_proj,gate_proj,...) or attn, mlp, all")
      ->capture_default_str()
      ->group(g);
  cmd->add_option(name("lora-r"), o.train.lora.r, "LoRA rank")->capture_default_str()->group(g);
  cmd->add_option(name("lora-alpha"), o.train.lora.alpha, "LoRA alpha (scaling alpha / r)")
      ->capture_default_str()
      ->group(g);
  cmd->add_option(name("lora-dropout"), o.train.lora.dropout, "dropout on the LoRA input")
      ->capture_default_str()
      ->group(g);
  cmd->add_flag(name("train-on-inputs"), o.train_on_inputs,
                "alpaca data: score the prompt too (default: the response only)")
      ->group(g);
  cmd->add_option(name("lr"), o.train.lr, "peak learning rate")->capture_default_str()->group(g);
  cmd->add_option(name("warmup-steps"), o.train.warmup_steps, "linear warm-up steps")
      ->capture_default_str()
      ->group(g);
  cmd->add_option(name("scheduler"), o.train.scheduler, "cosine | linear | constant")
      ->capture_default_str()
      ->group(g);
  cmd->add_option(name("weight-decay"), o.train.weight_decay, "AdamW decoupled weight decay")
      ->capture_default_str()
      ->group(g);
  cmd->add_option(name("max-grad-norm"), o.train.max_grad_norm,
                  "clip the global gradient norm (0 = off)")
      ->capture_default_str()
      ->group(g);
  cmd->add_option(name("epochs"), o.train.epochs, "passes over the data")
      ->capture_default_str()
      ->group(g);
  cmd->add_option(name("max-steps"), o.train.max_steps, "optimizer steps (overrides --epochs)")
      ->group(g);
  cmd->add_option(name("batch-size"), o.train.batch_size, "windows per micro-batch")
      ->check(CLI::PositiveNumber)
      ->capture_default_str()
      ->group(g);
  cmd->add_option(name("grad-accum"), o.train.grad_accum, "micro-batches per optimizer step")
      ->check(CLI::PositiveNumber)
      ->capture_default_str()
      ->group(g);
  cmd->add_option(name("seq-len"), o.seq_len, "tokens per window (at most max_position_embeddings)")
      ->capture_default_str()
      ->group(g);
  cmd->add_option(name("save-every"), o.train.save_every,
                  "write a resumable checkpoint every N steps to --checkpoint-dir")
      ->group(g);
  cmd->add_option(name("checkpoint-dir"), o.train.checkpoint_dir,
                  "checkpoint folder (default: <out>.checkpoint)")
      ->group(g);
  cmd->add_option(name("resume"), o.train.resume, "continue from a checkpoint folder")->group(g);
  cmd->add_flag(name("stream"), o.stream,
                "LoRA: hold one layer's weights at a time (fetched twice per step) instead of "
                "the whole model")
      ->group(g);
  cmd->add_option(name("eval-every"), o.train.eval_every, "validation loss every N steps")
      ->group(g);
  cmd->add_option(name("out"), o.out,
                  "output adapter folder (PEFT format; --method full: a model folder)")
      ->group(g);
  cmd->add_option(name("merged-out"), o.merged_out, "also write the merged model here (LoRA)")
      ->group(g);
  cmd->add_option(name("log"), o.log, "also write the JSON-lines training log here")->group(g);
  cmd->add_option(name("loss-svg"), o.loss_svg, "also write the SVG loss curve here")->group(g);
  if (!prefix.empty()) return;  // prune: its --overwrite and --seed serve both
  cmd->add_flag("--overwrite", o.overwrite, "replace existing outputs")->group(g);
  cmd->add_option("--stop-after", o.train.stop_after,
                  "stop after N steps as if killed (testing --resume)")
      ->group("");
}

void apply_heal_preset(CLI::App* cmd, HealCliOptions& o, const std::string& prefix) {
  if (o.preset.empty()) return;
  auto unset = [&](const char* opt) { return cmd->count("--" + prefix + (opt + 2)) == 0; };
  double lr = 0, alpha = 0, dropout = -1;
  int64_t r = 0, epochs = 0;
  std::string targets;
  if (o.preset == "gromov-llama2" || o.preset == "gromov-mistral") {
    const bool m = o.preset == "gromov-mistral";
    lr = m ? 3e-6 : 3e-4;
    r = m ? 4 : 2;
    alpha = m ? 4 : 2;
    targets = "gate_proj,up_proj,down_proj";
  } else if (o.preset == "llm-pruner") {
    lr = 3e-4, r = 8, alpha = 16, dropout = 0.05, epochs = 2, targets = "all";
  } else {
    throw bad_input("[heal] unknown --preset '", o.preset,
                    "' (gromov-llama2, gromov-mistral, llm-pruner)");
  }
  if (unset("--lr")) o.train.lr = lr;
  if (unset("--lora-r")) o.train.lora.r = r;
  if (unset("--lora-alpha")) o.train.lora.alpha = alpha;
  if (unset("--targets")) o.targets = targets;
  if (dropout >= 0 && unset("--lora-dropout")) o.train.lora.dropout = dropout;
  if (epochs > 0 && unset("--epochs")) o.train.epochs = epochs;
}

json run_heal_job(const std::string& model_dir, const HealCliOptions& o0, const std::string& device,
                  const std::string& dtype) {
  HealCliOptions o = o0;
  LLMPRUNE_CHECK(!o.out.empty(), "[heal] no output folder given");
  std::vector<std::string> outs = {o.out};
  if (!o.merged_out.empty()) outs.push_back(o.merged_out);
  check_output_paths(model_dir, outs);
  for (const auto& p : outs)
    LLMPRUNE_CHECK(o.overwrite || !path_exists(p), "[heal] ", p,
                   " exists (use --overwrite to replace it)");
  LLMPRUNE_CHECK(o.merged_out.empty() || o.train.method == "lora",
                 "[heal] --merged-out is for --method lora (full writes the model to --out)");
  o.train.lora.targets = split_commas(o.targets);
  if (o.train.checkpoint_dir.empty()) o.train.checkpoint_dir = o.out + ".checkpoint";
  o.train.base_model = model_dir;

  LoadOptions lo;
  lo.device = device;
  lo.dtype = dtype;
  LLMPRUNE_CHECK(!o.stream || o.train.method == "lora", "[heal] --stream is for --method lora");
  LayerSource src(model_dir, lo, /*resident=*/!o.stream);
  const ModelSpec& spec = src.spec();
  LLMPRUNE_CHECK(o.seq_len >= 2, "[heal] --seq-len must be at least 2, got ", o.seq_len);
  LLMPRUNE_CHECK(spec.max_position_embeddings <= 0 || o.seq_len <= spec.max_position_embeddings,
                 "[heal] --seq-len ", o.seq_len, " exceeds the model's max_position_embeddings ",
                 spec.max_position_embeddings, " (", model_dir, "/config.json)");
  auto tok = Tokenizer::from_dir(o.tokenizer.empty() ? model_dir : o.tokenizer);
  DataOptions dopt;
  dopt.seq_len = o.seq_len;
  dopt.train_on_inputs = o.train_on_inputs;
  TrainData train = load_train_data(o.data, *tok, dopt), val;
  if (!o.val_data.empty()) {
    val = load_train_data(o.val_data, *tok, dopt);
  } else if (o.val_fraction > 0) {
    const int64_t n = train.size(), nv = static_cast<int64_t>(n * o.val_fraction);
    LLMPRUNE_CHECK(nv >= 1 && nv < n, "[heal] --val-fraction ", o.val_fraction, " of ", n,
                   " examples leaves no validation or no training example");
    val = slice(train, n - nv, n);
    train = slice(train, 0, n - nv);
  }
  log_info("heal: ", train.format, " data, ", train.size(), " training windows of ", o.seq_len,
           " tokens", val.size() ? ", " + std::to_string(val.size()) + " validation" : "");

  Trainer trainer(src, train, val, o.train);
  std::unique_ptr<std::ofstream> log_file;
  if (!o.log.empty()) {
    log_file = std::make_unique<std::ofstream>(o.log, std::ios::trunc);
    LLMPRUNE_CHECK(log_file->good(), "[heal] cannot write ", o.log);
  }
  std::string log_lines;
  TrainResult r = trainer.run([&](const StepRecord& s) {
    const std::string line = s.to_json().dump() + "\n";
    log_lines += line;
    if (log_file) {
      *log_file << line;
      log_file->flush();
    }
  });
  if (o.train.stop_after > 0 && r.steps < r.total_steps) {
    log_info("heal: stopped after step ", r.steps, " (--stop-after); nothing written");
    return {{"stopped_after", r.steps}};
  }
  const std::string svg = loss_curve_svg(r);
  if (!o.loss_svg.empty()) write_file_atomic(o.loss_svg, svg);
  if (trainer.lora()) {
    save_adapter(o.out, *trainer.lora(), model_dir, o.overwrite,
                 {{"train_log.jsonl", log_lines}, {"loss_curve.svg", svg}});
    if (!o.merged_out.empty()) merge_adapter(model_dir, *trainer.lora(), o.merged_out, o.overwrite);
  } else {
    SaveOptions so;
    so.overwrite = o.overwrite;
    so.copy_tokenizer_from = model_dir;
    save_checkpoint(o.out, src.checkpoint().config, trainer.model_tensors(), so);
  }
  log_info("heal: ", r.steps, " steps in ", r.seconds, " s; validation loss ", r.val_before, " -> ",
           r.val_after);
  json j = {{"method", o.train.method},
            {"steps", r.steps},
            {"tokens", r.tokens},
            {"seconds", r.seconds},
            {"train_windows", train.size()},
            {"val_windows", val.size()},
            {"seq_len", o.seq_len},
            {"lr", o.train.lr},
            {"batch_size", o.train.batch_size},
            {"grad_accum", o.train.grad_accum},
            {"seed", o.train.seed},
            {"out", o.out}};
  j["val_loss_before"] = std::isfinite(r.val_before) ? json(r.val_before) : json(nullptr);
  j["val_loss_after"] = std::isfinite(r.val_after) ? json(r.val_after) : json(nullptr);
  j["final_train_loss"] = r.log.empty() ? json(nullptr) : json(r.log.back().loss);
  if (trainer.lora()) {
    j["lora"] = {{"r", o.train.lora.r},
                 {"alpha", o.train.lora.alpha},
                 {"dropout", o.train.lora.dropout},
                 {"targets", trainer.lora()->target_names()},
                 {"modules", trainer.lora()->modules().size()},
                 {"parameters", trainer.lora()->n_parameters()},
                 {"peft_format_version", kPeftFormatVersion}};
  }
  if (!o.merged_out.empty()) j["merged_out"] = o.merged_out;
  return j;
}

}  // namespace llmprune::cli

namespace llmprune::cli {

void add_prune_heal_options(CLI::App* cmd, PruneHealOptions& o) {
  cmd->add_flag("--heal", o.heal,
                "after pruning, heal the pruned model (LoRA unless --heal-method full) on "
                "--heal-data into --heal-out (default <out>-heal); with --eval, also the "
                "perplexity after healing")
      ->group("Healing");
  add_heal_options(cmd, o.opts, "heal-");
}

void check_prune_heal(const PruneHealOptions& o) {
  if (!o.heal) return;
  LLMPRUNE_CHECK(!o.opts.data.empty(), "[heal] --heal needs --heal-data FILE");
  LLMPRUNE_CHECK(path_exists(o.opts.data), "[heal] cannot read ", o.opts.data,
                 ": no such file (--heal-data)");
}

json prune_then_heal(CLI::App* cmd, PruneHealOptions& o, const std::string& pruned_dir,
                     bool overwrite, uint64_t seed, const std::string& device,
                     const std::string& dtype, const std::string& eval_dataset,
                     int64_t eval_seq_len) {
  check_prune_heal(o);
  apply_heal_preset(cmd, o.opts, "heal-");
  HealCliOptions h = o.opts;
  h.overwrite = overwrite;
  h.train.seed = seed;
  if (h.out.empty()) h.out = pruned_dir + "-heal";
  json j = run_heal_job(pruned_dir, h, device, dtype);
  if (eval_dataset.empty()) return j;
  LoadOptions lo;
  lo.device = device;
  lo.dtype = dtype;
  const bool full = h.train.method == "full";
  auto model = CausalLM::load(full ? h.out : pruned_dir, lo);
  if (!full) apply_adapter(*model, h.out);
  auto tok = Tokenizer::from_dir(pruned_dir);
  const std::string text = load_eval_text(eval_dataset, default_data_dir());
  std::vector<TokenId> ids32 = tok->encode(text, true);
  PerplexityOptions po;
  const int64_t maxpos = model->spec().max_position_embeddings;
  po.seq_len =
      eval_seq_len > 0 ? eval_seq_len : (maxpos > 0 ? std::min<int64_t>(2048, maxpos) : 2048);
  PerplexityResult r = perplexity(*model, std::vector<int64_t>(ids32.begin(), ids32.end()), po);
  log_info("after healing: ", eval_dataset, " PPL ", r.ppl);
  j["eval_after_heal"] = r.to_json();
  return j;
}

}  // namespace llmprune::cli
