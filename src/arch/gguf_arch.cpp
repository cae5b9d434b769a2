// GGUF architecture and tensor-name table (see gguf_arch.h). Keyed by family name: a family
// missing here (opt: llama.cpp has no OPT architecture) cannot be exported to GGUF.
#include "arch/gguf_arch.h"

#include <vector>

#include "util/error.h"

namespace llmprune {
namespace {

const std::vector<GgufArch>& table() {
  // Per llama.cpp's convert_hf_to_gguf.py: LlamaModel (llama, mistral) permutes q/k and writes
  // vocab_size, rope.dimension_count and key/value lengths from a stated head_dim; Qwen2Model
  // writes none of these; Phi3MiniModel writes the rope dimension count, the original context
  // length and the sliding window.
  static const std::vector<GgufArch> t = {
      {"llama", "llama", true, true, true, false, false, true},
      {"mistral", "llama", true, true, true, false, false, true},
      {"qwen2", "qwen2", false, false, false, false, false, false},
      {"phi3", "phi3", false, false, true, true, true, false},
  };
  return t;
}

}  // namespace

std::string gguf_supported_families() {
  std::string s;
  for (const GgufArch& a : table()) s += (s.empty() ? "" : ", ") + a.family;
  return s;
}

const GgufArch& gguf_arch_for(const std::string& family) {
  for (const GgufArch& a : table())
    if (a.family == family) return a;
  throw bad_input("[gguf] unsupported family ", family,
                  ": llama.cpp has no GGUF architecture for it (GGUF export supports ",
                  gguf_supported_families(), ")");
}

std::string gguf_tensor_name(const TensorInfo& t) {
  const char* base = nullptr;
  switch (t.role) {
    case TensorRole::kEmbed:
      base = "token_embd";
      break;
    case TensorRole::kFinalNorm:
      base = "output_norm";
      break;
    case TensorRole::kLmHead:
      base = "output";
      break;
    case TensorRole::kAttnNorm:
      base = "attn_norm";
      break;
    case TensorRole::kMlpNorm:
      base = "ffn_norm";
      break;
    case TensorRole::kQ:
      base = "attn_q";
      break;
    case TensorRole::kK:
      base = "attn_k";
      break;
    case TensorRole::kV:
      base = "attn_v";
      break;
    case TensorRole::kQkv:
      base = "attn_qkv";
      break;
    case TensorRole::kO:
      base = "attn_output";
      break;
    case TensorRole::kGate:
      base = "ffn_gate";
      break;
    case TensorRole::kUp:
      base = "ffn_up";
      break;
    case TensorRole::kGateUp:
      base = "ffn_up";
      break;  // llama.cpp splits [gate | up] itself
    case TensorRole::kDown:
      base = "ffn_down";
      break;
    case TensorRole::kPositions:
    case TensorRole::kProjIn:
    case TensorRole::kProjOut:  // OPT only: refused before any tensor is named
      throw bad_input("[gguf] tensor ", t.name, " (", role_name(t.role),
                      ") has no GGUF name: llama.cpp has no architecture for it");
  }
  std::string name = t.layer >= 0 ? "blk." + std::to_string(t.layer) + "." + base : base;
  return name + (t.is_bias ? ".bias" : ".weight");
}

}  // namespace llmprune
