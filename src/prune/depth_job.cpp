// `prune depth` pipeline (see depth_job.h).
#include "prune/depth_job.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "apply/depth_apply.h"
#include "calib/hidden_stats.h"
#include "calib/runner.h"
#include "export/depth_analysis.h"
#include "export/depth_export.h"
#include "importance/depth_scores.h"
#include "model/layer_source.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/timer.h"

namespace llmprune {
namespace {

uint64_t mem_available_bytes() {
  std::ifstream in("/proc/meminfo");
  std::string key;
  uint64_t kb = 0;
  std::string unit;
  while (in >> key >> kb >> unit)
    if (key == "MemAvailable:") return kb * 1024;
  return 0;
}

TokenPos parse_pos(const std::string& s, TokenPos fallback) {
  if (s == "last") return TokenPos::kLast;
  if (s == "all") return TokenPos::kAll;
  LLMPRUNE_CHECK(s == "auto", "--token-pos must be auto, last or all, got '", s, "'");
  return fallback;
}

Schedule schedule_of(const ModelSpec& spec, const DepthState& s) {
  Schedule out;
  for (int64_t l = 0; l < spec.n_layers(); ++l)
    out.push_back({s.attn[static_cast<size_t>(l)], s.mlp[static_cast<size_t>(l)]});
  return out;
}

json unit_list(const PrunePlan& plan) {
  json out = json::array();
  for (const auto& u : plan.units)
    out.push_back({{"kind", unit_kind_name(u.kind)}, {"layer", u.layer}, {"bundle", u.bundle}});
  return out;
}

}  // namespace

bool decide_stream(const std::string& mode, uint64_t weight_bytes, uint64_t activation_bytes,
                   std::string* why) {
  LLMPRUNE_CHECK(mode == "auto" || mode == "on" || mode == "off",
                 "--stream must be auto, on or off, got '", mode, "'");
  const double gib = 1024.0 * 1024.0 * 1024.0;
  if (mode != "auto") {
    *why = "--stream " + mode;
    return mode == "on";
  }
  const uint64_t avail = mem_available_bytes();
  const bool stream = avail > 0 && weight_bytes + activation_bytes > avail / 2;
  char buf[200];
  std::snprintf(buf, sizeof buf,
                "auto: weights %.2f GiB + activations %.2f GiB %s half of the "
                "%.2f GiB available",
                weight_bytes / gib, activation_bytes / gib, stream ? "exceed" : "fit in",
                avail / gib);
  *why = buf;
  return stream;
}

json run_depth_job(const DepthJobOptions& o) {
  Timer total;
  LLMPRUNE_CHECK(o.dry_run || (!o.out.empty() && !o.bundles_dir.empty()),
                 "prune depth needs --out and --bundles-dir (or --dry-run)");
  // Cheap checks first: nothing is computed before the outputs are known to be writable.
  const CheckpointConfig cc = read_checkpoint_config(o.model);
  if (!o.dry_run) {
    check_output_paths(o.model, {o.out, o.bundles_dir});
    for (const auto& out : {o.out, o.bundles_dir})
      LLMPRUNE_CHECK(o.overwrite || !path_exists(out), "output ", out,
                     " already exists (pass --overwrite to replace it)");
  }
  DepthRequest req = o.request;
  const int64_t L = cc.spec.n_layers();
  if (o.drop_frac >= 0) {
    LLMPRUNE_CHECK(req.n_drop < 0, "give --drop-frac or --n-drop, not both");
    LLMPRUNE_CHECK(o.drop_frac <= 1, "--drop-frac must be in [0, 1], got ", o.drop_frac);
    req.n_drop = static_cast<int64_t>(std::floor(o.drop_frac * static_cast<double>(L) + 0.5));
  } else if (req.n_drop < 0) {
    req.n_drop = static_cast<int64_t>(std::floor(0.25 * static_cast<double>(L) + 0.5));
  }
  if (o.plan_file.empty()) check_depth_request(cc.spec, req);         // before any work
  const TokenPos pair_pos = parse_pos(o.token_pos, TokenPos::kLast);  // Gromov et al.
  const TokenPos layer_pos = parse_pos(o.token_pos, TokenPos::kAll);  // ShortGPT, LLM-Drop

  const uint64_t act =
      static_cast<uint64_t>(o.calib.n_used()) * o.calib.seqlen * cc.spec.hidden_size * 4 * 3;
  LayerSource src(o.model, o.load, /*resident=*/true);
  std::string stream_why;
  const bool stream = decide_stream(o.stream, src.weight_bytes(), act, &stream_why);
  src.set_resident(!stream);
  log_info(
      "calibration memory: ", stream ? "streaming one layer at a time" : "whole model in memory",
      " (", stream_why, ")");
  const ModelSpec& spec = src.spec();

  PrunePlan plan;
  DepthAnalysis analysis;
  analysis.n_layers = L;
  json params = {{"method", req.method},
                 {"n_drop", req.n_drop},
                 {"drop_frac", o.drop_frac >= 0 ? json(o.drop_frac) : json(nullptr)},
                 {"keep_first_layer", req.keep_first},
                 {"keep_last_layer", req.keep_last},
                 {"iterative", req.iterative},
                 {"unit", req.sleb_unit},
                 {"split_ratio", req.split_ratio},
                 {"token_pos", o.token_pos},
                 {"stream", stream},
                 {"dtype", o.load.dtype}};
  if (!o.plan_file.empty()) {
    plan = PrunePlan::from_json(read_json_file(o.plan_file), o.plan_file);
    LLMPRUNE_CHECK(plan.kind == "depth", "[plan] ", o.plan_file, ": a ", plan.kind,
                   " plan; prune depth applies depth plans (use prune ", plan.kind, ")");
    plan.validate(spec, o.plan_file);
    log_info("applying plan ", o.plan_file, " (", plan.method, ", ", plan.units.size(),
             " units) without calibrating");
  } else {
    params["calibration"] = {
        {"dataset", o.calib.dataset},         {"nsamples", o.calib.nsamples},
        {"seqlen", o.calib.seqlen},           {"batch_size", o.calib.batch_size},
        {"max_batches", o.calib.max_batches}, {"seed", o.calib.seed}};
    auto tokenizer = Tokenizer::from_dir(o.model);
    const CalibSet calib = make_calib_set(*tokenizer, o.calib, spec.max_position_embeddings);
    analysis.calibration = calib.to_json(o.calib);
    analysis.pair_pos = token_pos_name(pair_pos);
    analysis.layer_pos = token_pos_name(layer_pos);
    RunOptions ro;
    ro.batch_size = o.calib.batch_size;
    ro.nll = true;
    ro.label = "calibration";
    HiddenStatsObserver obs(L, pair_pos, layer_pos, /*pairwise=*/true);
    const RunResult base = run_calibration(src, calib.windows, full_schedule(spec), &obs, ro);
    analysis.calibration_ppl_before = calibration_ppl(base.mean_nll());
    log_info("calibration PPL of the unpruned model: ", analysis.calibration_ppl_before, " (",
             base.seconds, " s)");
    DepthScores sc;
    analysis.angular = sc.angular = angular_distance(obs.stats());
    analysis.block_influence = sc.block_influence = block_influence(obs.stats());
    analysis.attn_redundancy = sc.attn_redundancy = attn_redundancy(obs.stats());
    analysis.mlp_redundancy = sc.mlp_redundancy = mlp_redundancy(obs.stats());
    int64_t step = 0;
    sc.rescore_block_influence = [&](const DepthState& s) {
      HiddenStatsObserver o2(L, pair_pos, layer_pos, /*pairwise=*/false);
      RunOptions r2 = ro;
      r2.nll = false;
      r2.label = "re-scoring " + std::to_string(++step);
      run_calibration(src, calib.windows, schedule_of(spec, s), &o2, r2);
      return block_influence(o2.stats());
    };
    sc.calibration_nll = [&](const DepthState& s) {
      RunOptions r2 = ro;
      r2.progress = false;
      return run_calibration(src, calib.windows, schedule_of(spec, s), nullptr, r2).mean_nll();
    };
    plan = plan_depth(spec, req, sc, &analysis.steps);
    plan.params = params;
    if (o.pruned_ppl) {
      RunOptions r3 = ro;
      r3.label = "pruned model, calibration";
      analysis.calibration_ppl_after = calibration_ppl(
          run_calibration(src, calib.windows, schedule_of(spec, plan.result(spec)), nullptr, r3)
              .mean_nll());
      log_info("calibration PPL: ", analysis.calibration_ppl_before, " -> ",
               analysis.calibration_ppl_after, " after removing ", plan.units.size(), " units");
    }
  }
  for (const auto& u : plan.units)
    log_info("remove ",
             u.kind == UnitKind::kLayer ? "" : std::string(unit_kind_name(u.kind)) + " of ",
             "layer ", u.layer, " -> bundle ", u.bundle, " (score ", u.score, ": ", u.why, ")");
  if (!o.save_plan.empty()) write_json_file(o.save_plan, plan.to_json());

  json report = {{"command", "prune depth"},
                 {"model", o.model},
                 {"family", spec.family},
                 {"source_layers", L},
                 {"plan", plan.to_json()},
                 {"removed", unit_list(plan)},
                 {"stream", stream},
                 {"stream_reason", stream_why},
                 {"analysis", analysis_json(analysis, plan)}};
  if (o.dry_run) {
    std::cout << plan.to_json().dump(2) << std::endl;
    report["dry_run"] = true;
    report["seconds"] = total.seconds();
    return report;
  }
  const DepthLayout layout = apply_depth(src.family(), spec, plan, src.store().names());
  DepthExport ex;
  ex.out_dir = o.out;
  ex.bundles_dir = o.bundles_dir;
  ex.overwrite = o.overwrite;
  ex.manifest_extra = {{"command_line", o.command_line},
                       {"params", plan.params},
                       {"calibration", analysis.calibration},
                       {"calibration_ppl_before", analysis.calibration_ppl_before},
                       {"calibration_ppl_after", analysis.calibration_ppl_after}};
  const bool have_scores = o.plan_file.empty();
  ex.extra = [&](const std::string& tmp) {
    if (!have_scores) return;
    const std::string dir = join_path(tmp, "analysis");
    std::filesystem::create_directories(dir);
    write_analysis(dir, analysis, plan);
  };
  report["manifest"] = export_depth(cc, src.store(), layout, plan, ex);
  report["out"] = o.out;
  report["bundles_dir"] = o.bundles_dir;
  report["n_layers"] = layout.spec.n_layers();
  report["seconds"] = total.seconds();
  return report;
}

}  // namespace llmprune
