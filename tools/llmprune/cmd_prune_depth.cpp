// `llmprune prune depth`: remove whole layers or attention / MLP sub-blocks chosen on
// calibration text, keep what was removed as restorable bundles (src/prune/depth_job.h).
#include <optional>

#include "command.h"
#include "heal_options.h"
#include "export/gguf_export.h"
#include "prune/depth_job.h"
#include "runtime.h"
#include "util/error.h"
#include "util/fs.h"

namespace llmprune::cli {
namespace {

struct PruneDepthCli {
  DepthJobOptions job;
  RuntimeOptions runtime;
  std::string report;
  int64_t n_drop = -1;
  std::string split_policy = "half";
  std::string export_spec;  // --export gguf[:TYPE]
  PruneHealOptions heal;  // --heal
};


}  // namespace

LLMPRUNE_COMMAND("prune", 10) {
  auto o = std::make_shared<PruneDepthCli>();
  CLI::App* cmd = app.add_subcommand(
      "depth", "remove layers or attention/MLP sub-blocks; keep them as restorable bundles");
  cmd->footer(
      "Methods (--method):\n"
      "  angular          the block of n consecutive layers whose input and output hidden states\n"
      "                   are closest: min over l of d(l, n) = mean arccos(cos(x_l, x_{l+n})) / "
      "pi\n"
      "                   (Gromov et al. 2024), x_l the hidden state entering layer l\n"
      "  block-influence  the n layers of lowest BI = 1 - mean cos(layer input, output) "
      "(ShortGPT);\n"
      "                   --iterative re-runs calibration after each removal\n"
      "  attn-drop, mlp-drop, joint   attention / MLP / both kinds of sub-block ranked by\n"
      "                   1 - mean cos(input, input + module(input)) (LLM-Drop); n counts "
      "sub-blocks\n"
      "  sleb             remove, one at a time, the layer (--unit block) or sub-block (--unit\n"
      "                   sub-block, BlockPruner) whose removal gives the lowest calibration "
      "PPL\n\n"
      "Token positions (--token-pos): auto = the papers' choices: the last token of each window\n"
      "for the angular distance, all tokens for BI and sub-block similarity; last or all force "
      "one.\n\n"
      "Calibration windows: the dataset text is tokenized once (BOS rule once at the start);\n"
      "offset i = draw i of mt19937_64(--seed) mod (tokens - seqlen + 1); windows may overlap;\n"
      "min(--nsamples, --batch-size x --max-batches) windows are used.\n\n"
      "Bundles: the removed units are split by restore priority (the unit's own importance:\n"
      "d(l, 1) for angular, BI, 1 - cos for sub-blocks, the calibration PPL its removal caused\n"
      "for sleb); B gets the round(R x n) most important (R = 0.5 for --split-policy half,\n"
      "--split-ratio otherwise) and is restored first (stage AB = A + B); C the rest (FULL).\n\n"
      "Outputs: OUT/ (config.json, weights, tokenizer, manifest.json, layers_map.json,\n"
      "prune_plan.json, original_config/, analysis/{analysis.json, analysis.csv,\n"
      "angular_distance.svg, scores.svg}) and BUNDLES/{B,C}/ (layer_NNN.safetensors,\n"
      "bundle_meta.json). Restore with `llmprune restore`.\n\n"
      "Example:\n"
      "  llmprune prune depth --model ../shared/assets/models/stories260K-hf --method angular \\\n"
      "    --n-drop 1 --dataset wikitext2 --seqlen 256 --nsamples 16 --out A --bundles-dir "
      "BUNDLES");
  add_model_option(cmd, o->job.model);
  cmd->add_option("--method", o->job.request.method,
                  "angular | block-influence | attn-drop | mlp-drop | joint | sleb")
      ->capture_default_str();
  cmd->add_option("--n-drop", o->n_drop,
                  "units to remove (layers, or sub-blocks for sub-block "
                  "methods)");
  cmd->add_option("--drop-frac", o->job.drop_frac,
                  "remove round(F x layers) units (default 0.25 when --n-drop is not given)");
  cmd->add_flag("--keep-last-layer,!--no-keep-last-layer", o->job.request.keep_last,
                "never remove the last layer or its sub-blocks (default on)")
      ->capture_default_str();
  cmd->add_flag("--keep-first-layer", o->job.request.keep_first,
                "never remove layer 0 or its sub-blocks");
  cmd->add_flag("--iterative", o->job.request.iterative,
                "block-influence: re-score after each removal");
  cmd->add_option("--unit", o->job.request.sleb_unit, "sleb: block | sub-block")
      ->capture_default_str();
  cmd->add_option("--token-pos", o->job.token_pos, "auto | last | all")->capture_default_str();
  auto* split = cmd->add_option_group("Bundles");
  split->add_option("--split-policy", o->split_policy, "half | ratio")->capture_default_str();
  split->add_option("--split-ratio", o->job.request.split_ratio,
                    "fraction of the removed units that goes to bundle B (with --split-policy "
                    "ratio)");
  add_calibration_options(cmd, o->job.calib);
  cmd->add_option("--stream", o->job.stream,
                  "auto | on | off: run calibration one layer at a time from the mapped "
                  "checkpoint (auto: when the model would not fit in half the free memory)")
      ->capture_default_str();
  cmd->add_option("--out", o->job.out, "folder for the pruned model A");
  cmd->add_option("--bundles-dir", o->job.bundles_dir, "folder for the bundles B and C");
  cmd->add_option("--plan", o->job.plan_file, "apply a plan written earlier (no calibration)");
  cmd->add_option("--save-plan", o->job.save_plan, "also write the plan (JSON) to FILE");
  cmd->add_flag("--dry-run", o->job.dry_run, "print (and --save-plan) the plan; write no model");
  cmd->add_flag("--overwrite", o->job.overwrite, "replace existing output folders");
  cmd->add_option("--export", o->export_spec,
                  "also write the pruned model as GGUF beside --out (OUT.gguf): gguf or "
                  "gguf:f32|f16|bf16|q8_0 (see `llmprune export`)");
  cmd->add_flag("!--no-pruned-ppl", o->job.pruned_ppl,
                "skip the calibration perplexity of the pruned model (saves one calibration pass)");
  add_prune_heal_options(cmd, o->heal);
  add_runtime_options(cmd, o->runtime);
  add_report_option(cmd, o->report);
  cmd->callback([o, cmd] {
    check_prune_heal(o->heal);
    LLMPRUNE_CHECK(o->split_policy == "half" || o->split_policy == "ratio",
                   "--split-policy must be half or ratio, got '", o->split_policy, "'");
    if (o->split_policy == "half") o->job.request.split_ratio = 0.5;
    apply_runtime(o->runtime);
    o->job.calib.seed = o->runtime.seed;
    o->job.request.n_drop = o->n_drop;
    o->job.load = load_options(o->runtime);
    o->job.command_line = command_line();
    const std::optional<GgufExportOptions> gguf =
        gguf_export_beside(o->export_spec, o->job.out, o->job.dry_run, o->job.overwrite);
    json report = run_depth_job(o->job);
    if (gguf) report["gguf"] = export_gguf(*gguf);
    if (o->heal.heal && !o->job.dry_run)
      report["heal"] = prune_then_heal(cmd, o->heal, o->job.out, o->job.overwrite, o->runtime.seed,
                                       o->runtime.device, o->runtime.dtype, "", 0);
    write_report(o->report, report);
  });
}

}  // namespace llmprune::cli
