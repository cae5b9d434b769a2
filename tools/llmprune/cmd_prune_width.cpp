// `llmprune prune width`: remove KV head groups, query heads and MLP channels chosen by an
// importance score and a selection rule; write a loadable, self-consistent model
// (src/prune/width_job.h).
#include "command.h"
#include "heal_options.h"
#include "export/gguf_export.h"
#include "prune/width_job.h"
#include "runtime.h"
#include "util/error.h"

namespace llmprune::cli {
namespace {

struct PruneWidthCli {
  WidthJobOptions job;
  RuntimeOptions runtime;
  std::string report, aggregate = "sum", targets = "all";
  std::string attn_layers, mlp_layers;
  std::string export_spec;  // --export gguf[:TYPE]
  PruneHealOptions heal;  // --heal
};

// "A-B" (inclusive) -> first, last; "" leaves both at -1 (every layer).
void parse_range(const std::string& s, const char* flag, int64_t* first, int64_t* last) {
  if (s.empty()) return;
  const auto dash = s.find('-');
  try {
    LLMPRUNE_CHECK(dash != std::string::npos, "");
    size_t used = 0;
    *first = std::stoll(s.substr(0, dash), &used);
    LLMPRUNE_CHECK(used == dash, "");
    *last = std::stoll(s.substr(dash + 1), &used);
    LLMPRUNE_CHECK(used == s.size() - dash - 1 && *first >= 0 && *last >= *first, "");
  } catch (const std::exception&) {
    throw bad_input(flag, " must be A-B with 0 <= A <= B, got '", s, "'");
  }
}

}  // namespace

LLMPRUNE_COMMAND("prune", 20) {
  auto o = std::make_shared<PruneWidthCli>();
  CLI::App* cmd = app.add_subcommand(
      "width", "remove attention head groups, query heads and MLP channels (GQA-aware)");
  cmd->footer(
      "Groups (--unit for attention):\n"
      "  kv-group  one KV head: its k_proj/v_proj rows, its query heads' q_proj rows (biases\n"
      "            too) and their o_proj columns; a layer keeps at least one\n"
      "  q-head    one query head inside a group (q rows, o columns); a layer always keeps the\n"
      "            same number of query heads in every KV group and at least one\n"
      "  MLP channel i: gate_proj and up_proj row i (phi3: gate_up rows i and I + i), down_proj\n"
      "            column i; a layer keeps at least --round-to channels\n"
      "  hidden    (--prune-hidden) residual channel i: embedding and lm_head column i, element\n"
      "            i of every norm, column i of every projection reading the stream, row i of\n"
      "            o_proj / down_proj; the same round(R x hidden_size) lowest-scored channels go\n"
      "            in every layer, whatever the selection. Norm weights are scaled by\n"
      "            sqrt(H / H') and rms_norm_eps by H / H', so the result computes exactly the\n"
      "            source with those channels zeroed.\n\n"
      "Importance (--importance, per weight, then --aggregate over each group's weights):\n"
      "  magnitude  |W| (--norm l1) or W^2 with the square root of the aggregate (--norm l2)\n"
      "  wanda      |W_ij| x ||X_j||_2, X the input of that linear on the calibration windows\n"
      "             (q/k/v, gate/up rows: the normed layer input; o_proj, down_proj columns:\n"
      "             their own inputs); a bias counts as a weight on a constant input 1\n"
      "  taylor     |W * g|, g the gradient of the mean next-token loss of each gradient batch\n"
      "             (--gradient-batch-size windows), averaged over the batches\n"
      "  taylor2    |W * g| + 0.5 W^2 F, F = mean over batches of the squared batch gradient\n"
      "             (diagonal Fisher in place of the Hessian)\n"
      "  Gradients are recomputed layer by layer (one no-grad forward keeps each layer's input):\n"
      "  memory is one layer's weights and gradients plus those inputs, not the whole model's.\n\n"
      "Selection (--selection):\n"
      "  uniform  each layer in --attn-layers / --mlp-layers loses round(R x its groups) of its\n"
      "           lowest-scored groups (MLP: kept channels rounded to --round-to)\n"
      "  global   fractional knapsack: score = importance / parameters of the group, lowest\n"
      "           first over every group of every unfrozen layer, until R of the prunable\n"
      "           parameters are removed (within one step of the target)\n"
      "  hgsp     global with score x M, M = ln(1 + prior)^T (--temperature T, 0 = global):\n"
      "           prior = the layer's block influence 1 - cos(layer input, output) when it is\n"
      "           below --tau (auto: its 25th percentile over the layers; 0: never; inf: always),\n"
      "           else the sub-block's own 1 - cos(input, output); afterwards a sub-block left\n"
      "           with less than --epsilon of its groups is removed whole\n"
      "  Prunable parameters: the weights and biases of the groups in play (KV groups or query\n"
      "  heads, and MLP channels) of the unfrozen layers; embeddings, norms, lm_head and the\n"
      "  o_proj / down_proj biases never count.\n\n"
      "Output: OUT/ with config.json (stock keys when every layer has the same shape, e.g. with\n"
      "--uniform-shape; the \"llmprune\" per-layer block otherwise), weights sliced from the\n"
      "source (same dtype and sharding), tokenizer files, prune_plan.json, manifest.json,\n"
      "original_config/, analysis/{pruning_analysis.json, global_group_table.csv,\n"
      "kept_fraction.svg, group_scores.svg}, logs/ (run report; eval.json with --eval).\n\n"
      "Example:\n"
      "  llmprune prune width --model ../shared/assets/models/stories260K-hf --ratio 0.2 \\\n"
      "    --importance taylor --selection global --dataset wikitext2 --nsamples 16 --seqlen 128 \\\n"
      "    --out pruned --eval wikitext2 --eval-seq-len 256");
  add_model_option(cmd, o->job.model);
  cmd->add_option("--ratio", o->job.request.ratio,
                  "fraction of the prunable parameters (uniform: of each layer's groups)")
      ->capture_default_str();
  cmd->add_option("--importance", o->job.importance.method, "magnitude | wanda | taylor | taylor2")
      ->capture_default_str();
  cmd->add_option("--norm", o->job.importance.norm, "magnitude: l1 | l2")->capture_default_str();
  cmd->add_option("--aggregate", o->aggregate, "sum | mean | max over a group's weights")
      ->capture_default_str();
  cmd->add_option("--gradient-batch-size", o->job.importance.gradient_batch_size,
                  "taylor: windows per gradient batch")
      ->capture_default_str();
  cmd->add_option("--selection", o->job.request.selection, "uniform | global | hgsp")
      ->capture_default_str();
  cmd->add_option("--unit", o->job.request.unit, "attention unit: kv-group | q-head")
      ->capture_default_str();
  cmd->add_option("--targets", o->targets, "which sub-blocks lose groups: all | attn | mlp")
      ->capture_default_str();
  auto* c = cmd->add_option_group("Constraints");
  c->add_option("--attn-layers", o->attn_layers, "uniform: A-B, layers whose attention is pruned");
  c->add_option("--mlp-layers", o->mlp_layers, "uniform: A-B, layers whose MLP is pruned");
  c->add_option("--freeze-first-n-layers", o->job.request.freeze_first, "never prune these")
      ->capture_default_str();
  c->add_option("--freeze-last-n-layers", o->job.request.freeze_last, "never prune these")
      ->capture_default_str();
  c->add_option("--round-to", o->job.request.round_to,
                "kept MLP channel counts are multiples of K")
      ->capture_default_str();
  c->add_flag("--uniform-shape", o->job.request.uniform_shape,
              "every layer keeps the same head and channel counts (stock config)");
  c->add_flag("--prune-hidden", o->job.request.hidden,
              "also remove round(R x hidden_size) residual-stream channels (the same in every "
              "layer; RMSNorm models)");
  auto* h = cmd->add_option_group("H-GSP");
  h->add_option("--temperature", o->job.request.temperature, "T in M = ln(1 + prior)^T")
      ->capture_default_str();
  h->add_option("--tau", o->job.request.tau, "a number, auto or inf")->capture_default_str();
  h->add_option("--epsilon", o->job.request.epsilon,
                "remove a sub-block whole when it keeps less than this fraction of its groups")
      ->capture_default_str();
  add_calibration_options(cmd, o->job.calib);
  auto* ev = cmd->add_option_group("Evaluation");
  ev->add_option("--eval", o->job.eval_dataset,
                 "perplexity before and after on wikitext2, ptb, c4 or a file (eval's protocol)");
  ev->add_option("--eval-seq-len", o->job.eval_seq_len,
                 "window length for --eval (default min(2048, max_position_embeddings))");
  ev->add_option("--eval-max-windows", o->job.eval_max_windows, "0 = all windows")
      ->capture_default_str();
  cmd->add_option("--stream", o->job.stream,
                  "auto | on | off: hold one layer's weights at a time (auto: when the model "
                  "would not fit in half the free memory)")
      ->capture_default_str();
  cmd->add_option("--out", o->job.out, "folder for the pruned model");
  cmd->add_option("--plan", o->job.plan_file, "apply a width plan written earlier (no scoring)");
  cmd->add_option("--save-plan", o->job.save_plan, "also write the plan (JSON) to FILE");
  cmd->add_flag("--dry-run", o->job.dry_run, "print (and --save-plan) the plan; write no model");
  cmd->add_flag("--overwrite", o->job.overwrite, "replace an existing output folder");
  cmd->add_option("--export", o->export_spec,
                  "also write the pruned model as GGUF beside --out (OUT.gguf; per-layer shapes "
                  "as llama.cpp's deci): gguf or gguf:f32|f16|bf16|q8_0 (see `llmprune export`)");
  add_prune_heal_options(cmd, o->heal);
  add_runtime_options(cmd, o->runtime);
  add_report_option(cmd, o->report);
  cmd->callback([o, cmd] {
    check_prune_heal(o->heal);
    LLMPRUNE_CHECK(o->targets == "all" || o->targets == "attn" || o->targets == "mlp",
                   "--targets must be all, attn or mlp, got '", o->targets, "'");
    o->job.request.attn = o->targets != "mlp";
    o->job.request.mlp = o->targets != "attn";
    parse_range(o->attn_layers, "--attn-layers", &o->job.request.attn_first,
                &o->job.request.attn_last);
    parse_range(o->mlp_layers, "--mlp-layers", &o->job.request.mlp_first,
                &o->job.request.mlp_last);
    o->job.importance.aggregate = parse_aggregate(o->aggregate);
    apply_runtime(o->runtime);
    o->job.calib.seed = o->runtime.seed;
    o->job.load = load_options(o->runtime);
    o->job.command_line = command_line();
    const std::optional<GgufExportOptions> gguf =
        gguf_export_beside(o->export_spec, o->job.out, o->job.dry_run, o->job.overwrite);
    json report = run_width_job(o->job);
    if (gguf) report["gguf"] = export_gguf(*gguf);
    if (o->heal.heal && !o->job.dry_run)
      report["heal"] = prune_then_heal(cmd, o->heal, o->job.out, o->job.overwrite, o->runtime.seed,
                                       o->runtime.device, o->runtime.dtype, o->job.eval_dataset,
                                       o->job.eval_seq_len);
    write_report(o->report, report);
  });
}

}  // namespace llmprune::cli
