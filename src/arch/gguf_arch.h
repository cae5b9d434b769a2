// What llama.cpp calls each family and tensor: the GGUF architecture of a family (with the
// conventions of llama.cpp's converter for it) and the one table from tensor role to GGUF
// tensor name ("blk.3.attn_q.weight").
#pragma once

#include <string>

#include "arch/family.h"

namespace llmprune {

struct GgufArch {
  std::string family;  // llmprune family name
  std::string arch;    // general.architecture
  // q_proj / k_proj rows go from Hugging Face's rotate_half order to llama.cpp's interleaved
  // pairs (llama.cpp runs these architectures with "normal" RoPE, the others with NEOX RoPE).
  bool permute_qk = false;
  // Keys llama.cpp's converter writes for this architecture (absent ones default the same).
  bool vocab_size = false;            // <arch>.vocab_size
  bool rope_dimension_count = false;  // <arch>.rope.dimension_count
  bool original_context = false;      // <arch>.rope.scaling.original_context_length
  bool sliding_window = false;        // <arch>.attention.sliding_window
  // attention.key_length / value_length whenever config.json states head_dim (always when
  // head_dim != hidden_size / heads, which llama.cpp could not infer).
  bool stated_head_dim = false;
};

// The GGUF architecture of `family` for a model whose layers are all alike; bad_input
// naming the family (and those GGUF export supports) when llama.cpp has no architecture for it.
const GgufArch& gguf_arch_for(const std::string& family);
// "llama, mistral, qwen2, phi3"
std::string gguf_supported_families();

// The GGUF name of a checkpoint tensor ("token_embd.weight", "blk.0.attn_qkv.bias").
std::string gguf_tensor_name(const TensorInfo& t);

// llama.cpp's generated tensor of per-frequency RoPE factors (llama3 rope scaling).
inline constexpr char kGgufRopeFreqs[] = "rope_freqs.weight";

}  // namespace llmprune
