// `llmprune export`: write a checkpoint folder in another format: a GGUF file
// (src/export/gguf_export.h) or a Hugging Face folder, stock or nemotron-nas
// (src/export/hf_export.h).
#include "command.h"
#include "export/gguf_export.h"
#include "export/hf_export.h"
#include "util/error.h"

namespace llmprune::cli {

LLMPRUNE_COMMAND("", 65) {
  auto o = std::make_shared<GgufExportOptions>();
  auto format = std::make_shared<std::string>();
  auto dtype_out = std::make_shared<std::string>();
  auto report = std::make_shared<std::string>();
  CLI::App* cmd = app.add_subcommand(
      "export",
      "write a model folder as GGUF (llama.cpp, ollama, LM Studio) or as a Hugging Face folder "
      "(stock or nemotron-nas)");
  cmd->footer(
      "Formats:\n"
      "  gguf          one .gguf file. Architectures: llama (llama, mistral; q/k rows permuted\n"
      "                to llama.cpp's RoPE order), qwen2, phi3 (fused qkv / gate_up kept fused),\n"
      "                and deci for pruned models whose layers differ (per-layer head and FFN\n"
      "                counts, 0 for a removed sub-block). --type: 1-D tensors (norms, biases)\n"
      "                stay F32; with q8_0, matrices whose rows are not a multiple of 32 are\n"
      "                written as F16 (listed in the report). The tokenizer travels in the file.\n"
      "  hf            a Hugging Face folder with stock config keys (transformers, vLLM): the\n"
      "                source config.json with every key it does not change kept, tokenizer and\n"
      "                generation files, weights (sharded like the source). Only for models whose\n"
      "                layers all have the same shape; a pruned model whose layers differ is\n"
      "                refused, naming the first layer that differs.\n"
      "  nemotron-nas  the same folder with a DeciLM config (model_type nemotron-nas,\n"
      "                block_configs: per-layer KV heads and MLP widths, removed sub-blocks as\n"
      "                no_op) for heterogeneous llama/mistral models; every layer with attention\n"
      "                must keep the same number of query heads (it is global there).\n"
      "  --dtype-out f32|bf16|f16 converts the weights of hf / nemotron-nas output.\n\n"
      "Examples:\n"
      "  llmprune export --model PRUNED --format gguf --type q8_0 --out pruned-q8_0.gguf\n"
      "  llmprune export --model PRUNED --format hf --dtype-out bf16 --out pruned-hf\n"
      "  llmprune export --model PRUNED --format nemotron-nas --out pruned-nas");
  add_model_option(cmd, o->model);
  cmd->add_option("--format", *format, "output format: gguf, hf or nemotron-nas")
      ->required()
      ->check(CLI::IsMember({"gguf", "hf", "nemotron-nas"}));
  cmd->add_option("--out", o->out, "output .gguf file (gguf) or folder (hf, nemotron-nas)")
      ->required();
  auto* type =
      cmd->add_option("--type", o->type, "gguf tensor type: f32, f16, bf16 or q8_0 (default f32)")
          ->check(CLI::IsMember({"f32", "f16", "bf16", "q8_0"}));
  auto* dtype = cmd->add_option("--dtype-out", *dtype_out,
                                "hf / nemotron-nas weight dtype: f32, bf16 or f16 (default: "
                                "keep the source's)")
                    ->check(CLI::IsMember({"f32", "bf16", "f16"}));
  cmd->add_option("--name", o->name, "gguf general.name (default: the model folder's name)");
  cmd->add_flag("--overwrite", o->overwrite, "replace an existing output");
  add_report_option(cmd, *report);
  cmd->callback([o, format, dtype_out, report, type, dtype] {
    if (*format == "gguf") {
      LLMPRUNE_CHECK(dtype->count() == 0, "--dtype-out is for hf / nemotron-nas; gguf uses --type");
      write_report(*report, export_gguf(*o));
      return;
    }
    LLMPRUNE_CHECK(type->count() == 0 && o->name.empty(),
                   "--type and --name are for gguf; hf / nemotron-nas use --dtype-out");
    HfExportOptions h;
    h.model = o->model;
    h.out = o->out;
    h.format = *format;
    h.dtype_out = *dtype_out;
    h.overwrite = o->overwrite;
    write_report(*report, export_hf(h));
  });
}

}  // namespace llmprune::cli
