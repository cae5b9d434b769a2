// GGUF export of a Hugging Face checkpoint folder (`llmprune export --format gguf`): model
// metadata from the spec, tokenizer metadata, tensors renamed through src/arch/gguf_arch.h,
// q/k rows permuted where llama.cpp wants them, converted to F32 / F16 / BF16 / Q8_0 and
// streamed one at a time into an atomically written file.
#pragma once

#include <torch/torch.h>

#include <optional>
#include <string>

#include "arch/family.h"
#include "arch/model_spec.h"
#include "io/gguf.h"
#include "util/json.h"

namespace llmprune {

enum class GgufOutType { kF32, kF16, kBF16, kQ8_0 };
GgufOutType parse_gguf_out_type(const std::string& s);  // f32 | f16 | bf16 | q8_0
const char* gguf_out_type_name(GgufOutType t);

// The GGUF tensor type of a tensor of torch `shape` for the requested output type: 1-D
// tensors stay F32; with Q8_0, rows not a multiple of 32 fall back to F16 (llama.cpp's
// converter does the same).
GgmlType gguf_tensor_type(GgufOutType out, const std::vector<int64_t>& shape);

// general.* and <arch>.* keys. Uniform models get the family's architecture (gguf_arch.h);
// a heterogeneous one (layers without attention or MLP, or per-layer widths) is written as
// "deci" with per-layer head_count / head_count_kv / feed_forward_length arrays.
// `config` is the source config.json (head_dim stated, phi3's original context).
GgufMetadata gguf_model_metadata(const Family& family, const ModelSpec& spec, const json& config,
                                 const std::string& name, GgufOutType out);
// A deci layer with attention and no MLP is written with a zero FFN of width 1
// (feed_forward_length 1): llama.cpp would drop the attention of a layer whose FFN length is 0.
bool gguf_deci_zero_ffn(const LayerSpec& layer);
// general.architecture of `spec` (bad_input for a family llama.cpp has no architecture for).
std::string gguf_architecture(const Family& family, const ModelSpec& spec);

// llama3 RoPE scaling as llama.cpp takes it: rope_freqs.weight, one divisor per frequency
// (llama.cpp rotates by position x inv_freq[i] / factor[i]), as its converter computes them.
torch::Tensor gguf_llama3_rope_factors(const RopeSpec& rope, int64_t head_dim);

struct GgufExportOptions {
  std::string model;  // Hugging Face checkpoint folder
  std::string out;    // .gguf file
  std::string type = "f32";
  std::string name;  // general.name ("" = the model folder's name)
  bool overwrite = false;
};

// Export; returns the JSON report (file, architecture, tensor types, bytes, fallbacks).
json export_gguf(const GgufExportOptions& opts);

// `prune depth|width ... --export gguf[:f32|f16|bf16|q8_0]`: the export of the pruned folder
// `out_dir` to "<out_dir>.gguf" beside it (nullopt for an empty spec). Checked before the
// (long) pruning run: bad_input for another format or type, --dry-run or no --out, and an
// existing file without overwrite.
std::optional<GgufExportOptions> gguf_export_beside(const std::string& spec,
                                                    const std::string& out_dir, bool dry_run,
                                                    bool overwrite);

}  // namespace llmprune
