// Tokenizer metadata for GGUF from the real tokenizer files in ../shared/assets/tokenizers:
// byte-level BPE gets llama.cpp's pre-tokenizer name from the declared pre_tokenizer, a
// SentencePiece tokenizer.model gives its pieces, scores and types. (llama.cpp itself
// tokenizes every reference text of these files identically from our exports:
// check_llamacpp_tokenizers.py, results in docs/export.md.)
#include "export/gguf_tokenizer.h"

#include <gtest/gtest.h>

#include "support/assets.h"
#include "util/json.h"

namespace llmprune {
namespace {

int64_t n_tokens(const std::string& dir) {
  const json tj = read_json_file(dir + "/tokenizer.json");
  int64_t n = 0;
  for (const auto& [k, v] : tj["model"]["vocab"].items()) n = std::max(n, v.get<int64_t>() + 1);
  for (const json& a : tj["added_tokens"]) n = std::max(n, a["id"].get<int64_t>() + 1);
  return n;
}

const GgufValue& key(const GgufMetadata& md, const std::string& k) {
  for (const auto& [name, v] : md)
    if (name == k) return v;
  throw std::runtime_error("missing " + k);
}

bool has(const GgufMetadata& md, const std::string& k) {
  for (const auto& [name, v] : md)
    if (name == k) return true;
  return false;
}

TEST(GgufTokenizer, ByteLevelPreTokenizerNames) {
  // Expected names: llama.cpp's LLAMA_VOCAB_PRE_TYPE for each model (llama-vocab.cpp).
  const std::pair<const char*, const char*> cases[] = {
      {"gpt2", "gpt-2"}, {"qwen2", "qwen2"}, {"llama3", "llama-bpe"}, {"smollm2", "smollm"}};
  for (const auto& [dir_name, pre] : cases) {
    SCOPED_TRACE(dir_name);
    const std::string rel = std::string("tokenizers/") + dir_name;
    LLMPRUNE_REQUIRE_ASSET(rel + "/tokenizer.json");
    const std::string dir = test::asset(rel);
    const int64_t n = n_tokens(dir);
    const GgufMetadata md = gguf_tokenizer_metadata(dir, n, json::object());
    EXPECT_EQ(key(md, "tokenizer.ggml.model").s, "gpt2");
    EXPECT_EQ(key(md, "tokenizer.ggml.pre").s, pre);
    EXPECT_EQ(key(md, "tokenizer.ggml.tokens").items.size(), static_cast<size_t>(n));
    EXPECT_FALSE(has(md, "tokenizer.ggml.scores"));
    EXPECT_GT(key(md, "tokenizer.ggml.merges").items.size(), 40000u);
    EXPECT_NE(key(md, "tokenizer.ggml.merges").items[0].s.find(' '), std::string::npos);
  }
  // GPT-2: "Ġ t" is its first merge; <|endoftext|> (50256) is a control token.
  const GgufMetadata g =
      gguf_tokenizer_metadata(test::asset("tokenizers/gpt2"), 50257, json::object());
  EXPECT_EQ(key(g, "tokenizer.ggml.merges").items[0].s, "\xC4\xA0 t");
  EXPECT_EQ(key(g, "tokenizer.ggml.token_type").items[50256].i, 3);
  EXPECT_EQ(key(g, "tokenizer.ggml.token_type").items[100].i, 1);
}

TEST(GgufTokenizer, SentencePieceModel) {
  LLMPRUNE_REQUIRE_ASSET("tokenizers/phi3/tokenizer.model");
  // The Llama-2 SentencePiece model: 32000 BPE pieces, <unk> <s> </s>, 256 byte pieces.
  const GgufMetadata md =
      gguf_tokenizer_metadata(test::asset("tokenizers/phi3"), 32000, json::object());
  EXPECT_EQ(key(md, "tokenizer.ggml.model").s, "llama");
  const auto& tokens = key(md, "tokenizer.ggml.tokens").items;
  const auto& types = key(md, "tokenizer.ggml.token_type").items;
  const auto& scores = key(md, "tokenizer.ggml.scores").items;
  ASSERT_EQ(tokens.size(), 32000u);
  EXPECT_EQ(tokens[1].s, "<s>");
  EXPECT_EQ(types[0].i, 2);  // UNKNOWN
  EXPECT_EQ(types[2].i, 3);  // CONTROL
  EXPECT_EQ(tokens[3].s, "<0x00>");
  EXPECT_EQ(types[3].i, 6);    // BYTE
  EXPECT_EQ(types[259].i, 1);  // "▁▁", the first merge
  EXPECT_GT(scores[300].f, scores[31999].f);  // pieces are numbered by merge order
  EXPECT_EQ(key(md, "tokenizer.ggml.unknown_token_id").u, 0u);
  EXPECT_TRUE(key(md, "tokenizer.ggml.add_bos_token").as_bool("b"));
  // Mistral v0.1 holds both files: tokenizer.model is used, and its tokens and types are those
  // its tokenizer.json lists.
  LLMPRUNE_REQUIRE_ASSET("tokenizers/mistral/v0.1/tokenizer.model");
  const std::string m = test::asset("tokenizers/mistral/v0.1");
  const GgufMetadata a = gguf_tokenizer_metadata(m, 32000, json::object());
  const json tj = read_json_file(m + "/tokenizer.json");
  const auto& at = key(a, "tokenizer.ggml.tokens").items;
  for (const auto& [piece, id] : tj["model"]["vocab"].items())
    ASSERT_EQ(at[id.get<size_t>()].s, piece) << id;
  EXPECT_EQ(key(a, "tokenizer.ggml.bos_token_id").u, 1u);
  EXPECT_EQ(key(a, "tokenizer.ggml.eos_token_id").u, 2u);
}

}  // namespace
}  // namespace llmprune
