// The GGUF table of src/arch/gguf_arch.cpp: llama.cpp's tensor names for every role (as in
// llama.cpp's llama-arch.cpp LLM_TENSOR_NAMES) and the families GGUF export refuses.
#include "arch/gguf_arch.h"

#include <gtest/gtest.h>

#include "arch/registry.h"
#include "support/assets.h"

namespace llmprune {
namespace {

TEST(GgufArch, TensorNamesPerRole) {
  auto name = [](TensorRole r, int64_t layer, bool bias = false) {
    TensorInfo t;
    t.role = r;
    t.layer = layer;
    t.is_bias = bias;
    return gguf_tensor_name(t);
  };
  EXPECT_EQ(name(TensorRole::kEmbed, -1), "token_embd.weight");
  EXPECT_EQ(name(TensorRole::kFinalNorm, -1), "output_norm.weight");
  EXPECT_EQ(name(TensorRole::kLmHead, -1), "output.weight");
  EXPECT_EQ(name(TensorRole::kAttnNorm, 3), "blk.3.attn_norm.weight");
  EXPECT_EQ(name(TensorRole::kQ, 0, true), "blk.0.attn_q.bias");
  EXPECT_EQ(name(TensorRole::kK, 0), "blk.0.attn_k.weight");
  EXPECT_EQ(name(TensorRole::kV, 0), "blk.0.attn_v.weight");
  EXPECT_EQ(name(TensorRole::kQkv, 1), "blk.1.attn_qkv.weight");
  EXPECT_EQ(name(TensorRole::kO, 1), "blk.1.attn_output.weight");
  EXPECT_EQ(name(TensorRole::kMlpNorm, 2), "blk.2.ffn_norm.weight");
  EXPECT_EQ(name(TensorRole::kGate, 2), "blk.2.ffn_gate.weight");
  EXPECT_EQ(name(TensorRole::kUp, 2), "blk.2.ffn_up.weight");
  EXPECT_EQ(name(TensorRole::kGateUp, 2), "blk.2.ffn_up.weight");  // phi3: fused, as llama.cpp
  EXPECT_EQ(name(TensorRole::kDown, 10), "blk.10.ffn_down.weight");
}

TEST(GgufArch, EveryRegisteredFamilyOrAClearError) {
  EXPECT_EQ(gguf_arch_for("mistral").arch, "llama");
  EXPECT_TRUE(gguf_arch_for("llama").permute_qk);
  EXPECT_FALSE(gguf_arch_for("qwen2").permute_qk);
  EXPECT_EQ(gguf_arch_for("phi3").arch, "phi3");
  // OPT (llama.cpp has no OPT architecture) and any family added later without a GGUF entry.
  const std::string msg = test::bad_input_message([] { gguf_arch_for("opt"); });
  EXPECT_NE(msg.find("unsupported family opt"), std::string::npos) << msg;
  EXPECT_NE(msg.find("llama, mistral, qwen2, phi3"), std::string::npos) << msg;
  for (const Family* f : families()) {
    try {
      gguf_arch_for(f->name());
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(f->name()), std::string::npos);
    }
  }
}

}  // namespace
}  // namespace llmprune
