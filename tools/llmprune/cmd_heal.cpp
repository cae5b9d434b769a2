// `llmprune heal`: LoRA or full fine-tuning of a (pruned) checkpoint on a data file, writing a
// PEFT adapter folder (or the fine-tuned model), a JSON-lines log and an SVG loss curve.
#include "command.h"
#include "heal_options.h"
#include "runtime.h"

namespace llmprune::cli {
namespace {

struct HealCmdOptions {
  std::string model, report;
  HealCliOptions heal;
  RuntimeOptions runtime;
};

}  // namespace

LLMPRUNE_COMMAND("", 55) {
  auto o = std::make_shared<HealCmdOptions>();
  CLI::App* cmd =
      app.add_subcommand("heal", "recover a pruned model with LoRA or full fine-tuning");
  cmd->footer(
      "Writes a PEFT adapter folder (adapter_config.json + adapter_model.safetensors, loadable\n"
      "by PeftModel.from_pretrained and vLLM) with train_log.jsonl and loss_curve.svg inside.\n"
      "Base weights stay frozen in the compute dtype; adapters and AdamW state are fp32.\n"
      "Memory stays about one layer's activations (layers are recomputed in the backward).\n"
      "The same --seed gives the same adapter bytes on CPU; --save-every N + --resume DIR\n"
      "continue a killed run to the same result.\n\n"
      "Example:\n  llmprune heal --model pruned/ --data alpaca.json --out adapter/ --preset "
      "llm-pruner --max-steps 200 --merged-out healed/");
  add_model_option(cmd, o->model);
  add_heal_options(cmd, o->heal);
  cmd->get_option("--out")->required();
  add_runtime_options(cmd, o->runtime);
  add_report_option(cmd, o->report);
  cmd->callback([o, cmd] {
    apply_runtime(o->runtime);
    apply_heal_preset(cmd, o->heal);
    o->heal.train.seed = o->runtime.seed;
    json report = run_heal_job(o->model, o->heal, o->runtime.device, o->runtime.dtype);
    report["command"] = "heal";
    report["model"] = o->model;
    report["dtype"] = o->runtime.dtype;
    write_report(o->report, report);
  });
}

}  // namespace llmprune::cli
