// Shared staged-model options (see staged_options.h).
#include "staged_options.h"

#include <fstream>
#include <tuple>

#include "runtime.h"
#include "serve/staged_generate.h"
#include "util/error.h"
#include "util/log.h"

namespace llmprune::cli {

void add_staged_options(CLI::App* cmd, StagedCliOptions& o, bool with_generation) {
  add_model_option(cmd, o.model);
  cmd->add_option("--bundles-dir", o.bundles_dir,
                  "BUNDLES folder written by `prune depth` (B, C): stages AB and FULL")
      ->type_name("DIR");
  auto* g = "Routing";
  cmd->add_option("--thresholds", o.thresholds,
                  "LOW,HIGH entropy thresholds in nats: A below LOW, AB below HIGH, else FULL")
      ->capture_default_str()
      ->group(g);
  cmd->add_option("--calibrate", o.calibrate,
                  "prompt file (one per line): set the thresholds so --fractions of it go to "
                  "each stage")
      ->type_name("FILE")
      ->group(g);
  cmd->add_option("--fractions", o.fractions, "a,b,c: fractions for A, AB, FULL with --calibrate")
      ->capture_default_str()
      ->group(g);
  cmd->add_option("--force-stage", o.force_stage, "answer every prompt on this stage (A, AB, FULL)")
      ->group(g);
  cmd->add_flag("--escalate", o.escalate,
                "move to the next deeper stage when the mean entropy of the last "
                "--escalate-window tokens reaches HIGH")
      ->group(g);
  cmd->add_option("--escalate-window", o.escalate_window, "tokens averaged by --escalate")
      ->check(CLI::PositiveNumber)
      ->capture_default_str()
      ->group(g);
  cmd->add_option("--speculative", o.speculative,
                  "K: stage A drafts K tokens, the chosen deeper stage verifies them in one pass. "
                  "Greedy: exactly the text without it; --temperature > 0: speculative sampling "
                  "(same distribution of text as without, not the same tokens); 0 = off")
      ->check(CLI::Range(0, 64))
      ->capture_default_str()
      ->group(g);
  if (with_generation) {
    cmd->add_option("-n,--max-new-tokens", o.gen.max_new_tokens, "tokens to generate at most")
        ->check(CLI::NonNegativeNumber)
        ->capture_default_str();
    cmd->add_option("--temperature", o.gen.sampling.temperature, "0 = greedy")
        ->check(CLI::NonNegativeNumber)
        ->capture_default_str();
    cmd->add_option("--top-k", o.gen.sampling.top_k, "keep the k most likely tokens (0 = all)")
        ->check(CLI::NonNegativeNumber)
        ->capture_default_str();
    cmd->add_option("--top-p", o.gen.sampling.top_p, "nucleus: keep the smallest set with mass p")
        ->check(CLI::Range(0.0, 1.0))
        ->capture_default_str();
    cmd->add_flag("--ignore-eos", o.ignore_eos, "keep generating after an end-of-sequence token");
  }
  add_runtime_options(cmd, o.runtime);
  // Serving and routing decode many tokens per load: the weights are read once per token.
  o.runtime.huge_pages = "on";
  add_weight_options(cmd, o.runtime);
}

json stages_json(const StagedModel& m) {
  json out = json::array();
  for (int i = 0; i < m.n_stages(); ++i) {
    const StageInfo& s = m.info(i);
    out.push_back({{"name", s.name},
                   {"layers", s.spec.n_layers()},
                   {"original_layers", s.original_layers},
                   {"bundles", s.bundles}});
  }
  return out;
}

StagedSetup setup_staged(const StagedCliOptions& o) {
  StagedSetup s;
  // Options first: a mistake costs no model load.
  auto [low, high] = parse_thresholds(o.thresholds);
  s.policy.low = low;
  s.policy.high = high;
  s.policy.escalate = o.escalate;
  s.policy.escalate_window = o.escalate_window;
  s.policy.speculative = o.speculative;
  std::vector<double> fractions;
  std::vector<std::string> cal_prompts;
  if (!o.calibrate.empty()) {
    fractions = parse_fractions(o.fractions);
    std::ifstream in(o.calibrate);
    LLMPRUNE_CHECK(in.good(), "--calibrate ", o.calibrate, ": cannot read the file");
    for (std::string line; std::getline(in, line);)
      if (!line.empty()) cal_prompts.push_back(line);
    LLMPRUNE_CHECK(!cal_prompts.empty(), "--calibrate ", o.calibrate, ": no prompts in it");
  }
  RuntimeOptions runtime = o.runtime;
  apply_runtime(runtime);
  s.tokenizer = Tokenizer::from_dir(o.model);
  s.model = StagedModel::load(o.model, o.bundles_dir, load_options(runtime));
  if (!o.force_stage.empty()) s.policy.force_stage = s.model->stage_index(o.force_stage);
  if (!cal_prompts.empty()) {
    std::vector<double> h;
    for (const auto& p : cal_prompts) {
      auto ids = s.tokenizer->encode(p, true);
      h.push_back(prompt_entropy(*s.model, std::vector<int64_t>(ids.begin(), ids.end())));
    }
    std::tie(s.policy.low, s.policy.high) = calibrate_thresholds(h, fractions);
    std::vector<int64_t> counts(static_cast<size_t>(s.model->n_stages()), 0);
    RoutePolicy p = s.policy;
    p.force_stage = -1;
    for (double e : h) ++counts[static_cast<size_t>(stage_for_entropy(e, p, s.model->n_stages()))];
    s.calibration = {{"file", o.calibrate},    {"prompts", cal_prompts.size()},
                     {"fractions", fractions}, {"entropies", h},
                     {"low", s.policy.low},    {"high", s.policy.high},
                     {"counts", counts}};
    log_info("calibrated on ", cal_prompts.size(), " prompts: thresholds ", s.policy.low, ", ",
             s.policy.high, " nats");
  }
  return s;
}

}  // namespace llmprune::cli
