// `llmprune export`: write a checkpoint folder in another format (src/export/gguf_export.h).
#include "command.h"
#include "export/gguf_export.h"
#include "util/error.h"

namespace llmprune::cli {

LLMPRUNE_COMMAND("", 65) {
  auto o = std::make_shared<GgufExportOptions>();
  auto format = std::make_shared<std::string>();
  auto report = std::make_shared<std::string>();
  CLI::App* cmd = app.add_subcommand(
      "export", "write a model folder as a GGUF file for llama.cpp, ollama, LM Studio");
  cmd->footer(
      "GGUF architectures: llama (llama, mistral; q/k rows permuted to llama.cpp's RoPE\n"
      "order), qwen2, phi3 (fused qkv / gate_up kept fused), and deci for pruned models whose\n"
      "layers differ (per-layer head and FFN counts, 0 for a removed sub-block).\n"
      "Tensor types: 1-D tensors (norms, biases) stay F32; with q8_0, matrices whose rows are\n"
      "not a multiple of 32 are written as F16 (listed in the report). The tokenizer\n"
      "(tokenizer.json or tokenizer.model) travels in the file.\n\n"
      "Example:\n  llmprune export --model PRUNED --format gguf --type q8_0 --out "
      "pruned-q8_0.gguf");
  add_model_option(cmd, o->model);
  cmd->add_option("--format", *format, "output format (gguf)")
      ->required()
      ->check(CLI::IsMember({"gguf"}));
  cmd->add_option("--out", o->out, "output .gguf file")->required();
  cmd->add_option("--type", o->type, "tensor type: f32, f16, bf16 or q8_0 (default f32)")
      ->check(CLI::IsMember({"f32", "f16", "bf16", "q8_0"}));
  cmd->add_option("--name", o->name, "general.name (default: the model folder's name)");
  cmd->add_flag("--overwrite", o->overwrite, "replace an existing output file");
  add_report_option(cmd, *report);
  cmd->callback([o, format, report] { write_report(*report, export_gguf(*o)); });
}

}  // namespace llmprune::cli
