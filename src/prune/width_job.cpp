// `prune width` pipeline (see width_job.h).
#include "prune/width_job.h"

#include <filesystem>
#include <iostream>

#include "apply/width_apply.h"
#include "arch/registry.h"
#include "calib/hidden_stats.h"
#include "eval/perplexity.h"
#include "export/model_files.h"
#include "export/width_analysis.h"
#include "export/width_export.h"
#include "importance/depth_scores.h"
#include "io/dataset.h"
#include "model/layer_source.h"
#include "prune/depth_job.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/timer.h"

namespace llmprune {
namespace {

json request_json(const WidthRequest& r, const WidthImportanceOptions& i) {
  return {{"importance", i.method},
          {"norm", i.norm},
          {"aggregate", aggregate_name(i.aggregate)},
          {"gradient_batch_size", i.gradient_batch_size},
          {"selection", r.selection},
          {"unit", r.unit},
          {"ratio", r.ratio},
          {"prune_attn", r.attn},
          {"prune_mlp", r.mlp},
          {"attn_layers", {r.attn_first, r.attn_last}},
          {"mlp_layers", {r.mlp_first, r.mlp_last}},
          {"freeze_first_n_layers", r.freeze_first},
          {"freeze_last_n_layers", r.freeze_last},
          {"round_to", r.round_to},
          {"uniform_shape", r.uniform_shape},
          {"prune_hidden", r.hidden},
          {"temperature", r.temperature},
          {"tau", r.tau},
          {"epsilon", r.epsilon}};
}

// Perplexity of the model folder `dir` on the evaluation set (the eval command's protocol).
json eval_ppl(const std::string& dir, const WidthJobOptions& o, const std::string& label) {
  const std::string data_dir = o.eval_data_dir.empty() ? default_data_dir() : o.eval_data_dir;
  std::string description;
  const std::string text = load_eval_text(o.eval_dataset, data_dir, &description);
  auto tokenizer = Tokenizer::from_dir(dir);
  auto model = CausalLM::load(dir, o.load);
  PerplexityOptions po;
  const int64_t max_pos = model->spec().max_position_embeddings;
  po.seq_len = o.eval_seq_len > 0 ? o.eval_seq_len
                                  : (max_pos > 0 ? std::min<int64_t>(2048, max_pos) : 2048);
  po.max_windows = o.eval_max_windows;
  const std::vector<TokenId> ids32 = tokenizer->encode(text, /*add_special_tokens=*/true);
  const std::vector<int64_t> ids(ids32.begin(), ids32.end());
  const PerplexityResult r = perplexity(*model, ids, po);
  log_info(label, ": ", o.eval_dataset, " seq-len ", r.seq_len, ", ", r.n_windows,
           " windows, PPL ", r.ppl);
  json j = r.to_json();
  j.erase("window_nll");
  j["dataset"] = o.eval_dataset;
  j["dataset_description"] = description;
  return j;
}

}  // namespace

json run_width_job(const WidthJobOptions& o) {
  Timer total;
  LLMPRUNE_CHECK(o.dry_run || !o.out.empty(), "prune width needs --out (or --dry-run)");
  const CheckpointConfig cc = read_checkpoint_config(o.model);
  if (!o.dry_run) {
    check_output_paths(o.model, {o.out});
    LLMPRUNE_CHECK(o.overwrite || !path_exists(o.out), "output ", o.out,
                   " already exists (pass --overwrite to replace it)");
  }
  const ModelSpec& spec0 = cc.spec;
  std::vector<GroupSet> sets;
  for (int64_t l = 0; l < spec0.n_layers(); ++l)
    for (auto& s : cc.family->group_sets(spec0, l)) sets.push_back(std::move(s));
  if (o.request.hidden && o.plan_file.empty()) sets.push_back(cc.family->hidden_set(spec0));
  if (o.plan_file.empty()) {  // cheap checks before any work
    check_width_request(spec0, sets, o.request);
    check_width_importance(o.importance);
    o.calib.validate();
  }

  const bool needs_data = o.importance.method != "magnitude" || o.request.selection == "hgsp";
  const uint64_t act = static_cast<uint64_t>(o.calib.n_used()) * o.calib.seqlen *
                       spec0.hidden_size * 4 * (spec0.n_layers() + 2);
  LayerSource src(o.model, o.load, /*resident=*/true);
  std::string stream_why;
  const bool stream = decide_stream(o.stream, src.weight_bytes(), act, &stream_why);
  src.set_resident(!stream);
  log_info("memory: ", stream ? "streaming one layer at a time" : "whole model in memory", " (",
           stream_why, ")");
  const ModelSpec& spec = src.spec();

  PrunePlan plan;
  WidthAnalysis analysis;
  analysis.before = spec;
  json run = json::object();
  if (!o.plan_file.empty()) {
    plan = PrunePlan::from_json(read_json_file(o.plan_file), o.plan_file);
    LLMPRUNE_CHECK(plan.kind == "width", "[plan] ", o.plan_file, ": a ", plan.kind,
                   " plan; prune width applies width plans (use prune ", plan.kind, ")");
    plan.validate(spec, o.plan_file);
    log_info("applying plan ", o.plan_file, " (", plan.method, ") without scoring");
  } else {
    torch::Tensor windows;
    if (needs_data) {
      auto tokenizer = Tokenizer::from_dir(o.model);
      const CalibSet calib = make_calib_set(*tokenizer, o.calib, spec.max_position_embeddings);
      windows = calib.windows;
      run["calibration"] = calib.to_json(o.calib);
    }
    WidthPriors priors;
    if (o.request.selection == "hgsp") {
      HiddenStatsObserver obs(spec.n_layers(), TokenPos::kLast, TokenPos::kAll, false);
      RunOptions ro;
      ro.batch_size = o.calib.batch_size;
      ro.label = "hgsp priors";
      run_calibration(src, windows, full_schedule(spec), &obs, ro);
      priors.layer = block_influence(obs.stats());
      for (double c : attn_redundancy(obs.stats())) priors.attn.push_back(1 - c);
      for (double c : mlp_redundancy(obs.stats())) priors.mlp.push_back(1 - c);
      run["priors"] = {{"layer_block_influence", priors.layer},
                       {"attn_one_minus_cos", priors.attn},
                       {"mlp_one_minus_cos", priors.mlp}};
    }
    WidthImportanceOptions io = o.importance;
    io.batch_size = o.calib.batch_size;
    io.hidden = o.request.hidden;
    json info;
    const std::vector<SetScores> scores = score_width(src, windows, io, &info);
    run["importance"] = info;
    plan = plan_width(spec, scores, o.request,
                      o.request.selection == "hgsp" ? &priors : nullptr, &analysis.selection);
    plan.method = o.importance.method + "/" + o.request.selection;
    plan.params = request_json(o.request, o.importance);
    if (needs_data)
      plan.params["calibration"] = {{"dataset", o.calib.dataset},
                                    {"nsamples", o.calib.nsamples},
                                    {"seqlen", o.calib.seqlen},
                                    {"seed", o.calib.seed}};
    log_info("removing ", analysis.selection.removed, " of ", analysis.selection.prunable,
             " prunable parameters (target ", analysis.selection.target, ")");
  }
  if (!o.save_plan.empty()) write_json_file(o.save_plan, plan.to_json());

  std::map<std::string, std::vector<int64_t>> shapes;
  for (const auto& name : src.store().names()) shapes[name] = src.store().entry(name).shape;
  const WidthLayout layout = width_layout(src.family(), spec, full_cut(spec, plan), shapes);
  analysis.after = layout.spec;
  analysis.run = run;
  if (is_uniform(layout.spec)) {
    const AttentionSpec& a = *layout.spec.layers.front().attn;
    if (layout.spec.hidden_size % a.n_heads != 0)
      log_warn("the pruned model keeps ", a.n_heads, " query heads with hidden_size ",
               layout.spec.hidden_size, ": its config is correct (head_dim ", a.head_dim,
               " is stated), but transformers 5 refuses any Llama-style config whose hidden_size "
               "is not a multiple of num_attention_heads (llmprune loads it)");
  }
  json report = {{"command", "prune width"},
                 {"model", o.model},
                 {"family", spec.family},
                 {"plan", plan.to_json()},
                 {"stream", stream},
                 {"stream_reason", stream_why},
                 {"analysis", width_analysis_json(analysis)}};
  if (o.dry_run) {
    std::cout << plan.to_json().dump(2) << std::endl;
    report["dry_run"] = true;
    report["seconds"] = total.seconds();
    return report;
  }
  if (!o.eval_dataset.empty()) report["ppl_before"] = eval_ppl(o.model, o, "source model");
  WidthExport ex;
  ex.out_dir = o.out;
  ex.overwrite = o.overwrite;
  ex.manifest_extra = {{"command_line", o.command_line}, {"params", plan.params}};
  const bool have_scores = o.plan_file.empty();
  ex.extra = [&](const std::string& tmp) {
    if (have_scores) {
      const std::string dir = join_path(tmp, "analysis");
      std::filesystem::create_directories(dir);
      write_width_analysis(dir, analysis);
    }
    std::filesystem::create_directories(join_path(tmp, "logs"));
    write_json_file(join_path(tmp, "logs/prune_width.json"), report);
  };
  report["manifest"] = export_width(cc, src.store(), layout, plan, ex);
  report["out"] = o.out;
  if (!o.eval_dataset.empty()) {
    report["ppl_after"] = eval_ppl(o.out, o, "pruned model");
    // Added after the folder is committed (the pruned model had to exist to be evaluated).
    write_json_file(join_path(o.out, "logs/eval.json"),
                    {{"before", report["ppl_before"]}, {"after", report["ppl_after"]}});
  }
  report["seconds"] = total.seconds();
  return report;
}

}  // namespace llmprune
