// `llmprune restore`: bundles B / C back into a depth-pruned model (src/export/restore.h).
#include "command.h"
#include "export/restore.h"

namespace llmprune::cli {

LLMPRUNE_COMMAND("", 60) {
  auto o = std::make_shared<RestoreOptions>();
  auto report = std::make_shared<std::string>();
  CLI::App* cmd = app.add_subcommand(
      "restore", "put bundles removed by `prune depth` back: stage AB or FULL as a checkpoint");
  cmd->footer(
      "A + B gives stage AB, A + B + C (or AB + C) the full model, tensor for tensor equal to\n"
      "the source. Bundles made from another model (their manifest hash differs) and bundles\n"
      "already applied are refused.\n\n"
      "Example:\n  llmprune restore --model A --bundle BUNDLES/B --bundle BUNDLES/C --out FULL");
  add_model_option(cmd, o->model);
  cmd->add_option("--bundle", o->bundles, "a bundle folder (repeat for several)")->required();
  cmd->add_option("--out", o->out, "output folder")->required();
  cmd->add_flag("--overwrite", o->overwrite, "replace an existing output folder");
  add_report_option(cmd, *report);
  cmd->callback([o, report] { write_report(*report, restore_bundles(*o)); });
}

}  // namespace llmprune::cli
