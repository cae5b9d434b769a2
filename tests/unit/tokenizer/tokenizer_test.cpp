// Tokenizer-level unit tests on small synthetic tokenizer.json files written here: BPE
// merges (both forms), byte fallback, unk fusing, ignore_merges, subword prefix, added
// tokens (lstrip/rstrip/single_word), post-processing, streaming, and bad input. Expected
// ids are derived by hand in the comments (vocab ids are listed in make_spm_style()).
#include <gtest/gtest.h>

#include <fstream>

#include "support/assets.h"
#include "tokenizer/load.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"
#include "util/json.h"

namespace llmprune {
namespace {

using Ids = std::vector<TokenId>;

// SentencePiece-style tokenizer.json: "▁"-prefix normalizer, byte fallback, fused unk.
//   <unk>=0 <s>=1 </s>=2 ▁=3 a=4 b=5 c=6 ab=7 ▁ab=8 abc=9 <0xC3>=10 <0xA9>=11
//   merges (rank order): "a b", "▁ ab"
json make_spm_style() {
  return json::parse(R"({
    "version": "1.0",
    "added_tokens": [
      {"id":0,"content":"<unk>","single_word":false,"lstrip":false,"rstrip":false,"normalized":false,"special":true},
      {"id":1,"content":"<s>","single_word":false,"lstrip":false,"rstrip":false,"normalized":false,"special":true},
      {"id":2,"content":"</s>","single_word":false,"lstrip":false,"rstrip":false,"normalized":false,"special":true}],
    "normalizer": {"type":"Sequence","normalizers":[{"type":"Prepend","prepend":"▁"},
                   {"type":"Replace","pattern":{"String":" "},"content":"▁"}]},
    "pre_tokenizer": null,
    "post_processor": {"type":"TemplateProcessing",
      "single":[{"SpecialToken":{"id":"<s>","type_id":0}},{"Sequence":{"id":"A","type_id":0}}],
      "pair":[], "special_tokens":{"<s>":{"id":"<s>","ids":[1],"tokens":["<s>"]}}},
    "decoder": {"type":"Sequence","decoders":[{"type":"Replace","pattern":{"String":"▁"},"content":" "},
                {"type":"ByteFallback"},{"type":"Fuse"},{"type":"Strip","content":" ","start":1,"stop":0}]},
    "model": {"type":"BPE","dropout":null,"unk_token":"<unk>","continuing_subword_prefix":null,
      "end_of_word_suffix":null,"fuse_unk":true,"byte_fallback":true,"ignore_merges":false,
      "vocab":{"<unk>":0,"<s>":1,"</s>":2,"▁":3,"a":4,"b":5,"c":6,"ab":7,"▁ab":8,"abc":9,"<0xC3>":10,"<0xA9>":11},
      "merges":["a b","▁ ab"]}
  })");
}

std::string write_dir(const std::string& tag, const json& tokenizer, const json& config = json()) {
  std::string dir = test::temp_dir(tag);
  std::ofstream(dir + "/tokenizer.json") << tokenizer.dump();
  if (!config.is_null()) std::ofstream(dir + "/tokenizer_config.json") << config.dump();
  return dir;
}

std::unique_ptr<Tokenizer> load(const json& tokenizer, const json& config = json()) {
  return Tokenizer::from_dir(write_dir("tok", tokenizer, config));
}


TEST(Tokenizer, BpeMergesAndTemplate) {
  auto tk = load(make_spm_style());
  // "ab ab" -> "▁ab▁ab" -> ▁ a b ▁ a b -> (a b) twice -> (▁ ab) twice -> [8, 8].
  EXPECT_EQ(tk->encode("ab ab", false), (Ids{8, 8}));
  EXPECT_EQ(tk->encode("ab ab", true), (Ids{1, 8, 8}));  // template: <s> $A
  // "abc" -> ▁ a b c -> ▁ ab c -> ▁ab c: [8, 6] ("abc" is in the vocab but no merge makes it).
  EXPECT_EQ(tk->encode("abc", false), (Ids{8, 6}));
  EXPECT_EQ(tk->encode("", true), (Ids{1}));  // empty text: nothing but the template
  EXPECT_EQ(tk->decode({1, 8, 8}, true), "ab ab");
  EXPECT_EQ(tk->decode({1, 8, 8}, false), "<s> ab ab");  // "<s>" "▁ab" "▁ab" -> strip 1 space
  EXPECT_EQ(tk->vocab_size(), 12);
  EXPECT_EQ(tk->bos_id(), std::nullopt);  // no tokenizer_config.json: transformers has none
  EXPECT_EQ(tk->token_to_id("▁ab"), 8);
  EXPECT_EQ(tk->token_to_id("zz"), std::nullopt);
  EXPECT_EQ(tk->id_to_token(7), "ab");
  EXPECT_TRUE(tk->is_special(1));
  EXPECT_FALSE(tk->is_special(8));
}

TEST(Tokenizer, MergesInPairForm) {
  json j = make_spm_style();
  j["model"]["merges"] = json::parse(R"([["a","b"],["▁","ab"]])");
  EXPECT_EQ(load(j)->encode("ab ab", false), (Ids{8, 8}));  // same as the string form
}

TEST(Tokenizer, ByteFallbackAndUnk) {
  json j = make_spm_style();
  auto tk = load(j);
  // "é" = C3 A9 is not in the vocab: byte tokens <0xC3> <0xA9> after "▁".
  EXPECT_EQ(tk->encode("\xC3\xA9", false), (Ids{3, 10, 11}));
  EXPECT_EQ(tk->decode({3, 10, 11}), "\xC3\xA9");
  // "dd": no "<0x64>" token, so unk; consecutive unks are fused into one.
  EXPECT_EQ(tk->encode("dd", false), (Ids{3, 0}));
  j["model"]["fuse_unk"] = false;
  EXPECT_EQ(load(j)->encode("dd", false), (Ids{3, 0, 0}));
}

TEST(Tokenizer, IgnoreMergesAndSubwordPrefix) {
  // No normalizer: "abc" -> a b c -> ab c = [7, 6]; with ignore_merges the whole word is
  // looked up first: [9].
  json j = make_spm_style();
  j["normalizer"] = nullptr;
  EXPECT_EQ(load(j)->encode("abc", false), (Ids{7, 6}));
  j["model"]["ignore_merges"] = true;
  EXPECT_EQ(load(j)->encode("abc", false), (Ids{9}));
  // continuing_subword_prefix "##" (HF's own test): a ##b ##c -> ab ##c -> abc.
  json w = json::parse(R"({"added_tokens":[],"normalizer":null,"pre_tokenizer":null,
    "post_processor":null,"decoder":null,
    "model":{"type":"BPE","unk_token":null,"continuing_subword_prefix":"##",
      "vocab":{"a":0,"##b":1,"##c":2,"ab":3,"abc":4},"merges":[["a","##b"],["ab","##c"]]}})");
  auto tk = load(w);
  EXPECT_EQ(tk->encode("abc"), (Ids{4}));
  EXPECT_EQ(tk->encode("ab"), (Ids{3}));
  EXPECT_EQ(tk->decode({3, 4}), "ab abc");  // no decoder: tokens joined with spaces
}

TEST(Tokenizer, AddedTokensSplitFirst) {
  json j = make_spm_style();
  j["model"]["vocab"]["<m>"] = 12;
  j["model"]["vocab"]["cc"] = 13;
  j["added_tokens"].push_back(json::parse(
      R"({"id":12,"content":"<m>","single_word":false,"lstrip":true,"rstrip":true,"normalized":false,"special":false})"));
  j["added_tokens"].push_back(json::parse(
      R"({"id":13,"content":"cc","single_word":true,"lstrip":false,"rstrip":false,"normalized":false,"special":false})"));
  auto tk = load(j);
  // "a<s>b": "a" | <s> | "b", each text part normalized alone: ▁a=[3,4], 1, ▁b=[3,5].
  EXPECT_EQ(tk->encode("a<s>b", false), (Ids{3, 4, 1, 3, 5}));
  // lstrip/rstrip: the spaces around "<m>" belong to it: "a" | " <m> " | "b".
  EXPECT_EQ(tk->encode("a <m> b", false), (Ids{3, 4, 12, 3, 5}));
  // single_word: "cc" at the start stands alone (matched); inside "acc" it does not, so
  // " acc" is normalized to "▁▁acc" = ▁ ▁ a c c.
  EXPECT_EQ(tk->encode("cc acc", false), (Ids{13, 3, 3, 4, 6, 6}));
  // Longest match wins at the leftmost position: "<s>" vs a longer "<s>x" token.
  j["model"]["vocab"]["<s>x"] = 14;
  j["added_tokens"].push_back(json::parse(
      R"({"id":14,"content":"<s>x","single_word":false,"lstrip":false,"rstrip":false,"normalized":false,"special":true})"));
  EXPECT_EQ(load(j)->encode("<s>x<s>", false), (Ids{14, 1}));
}

TEST(Tokenizer, ConfigRulesForLlamaClass) {
  // LlamaTokenizerFast rebuilds the template from add_bos_token / add_eos_token.
  json cfg = {{"tokenizer_class", "LlamaTokenizerFast"}, {"bos_token", "<s>"},
              {"eos_token", {{"content", "</s>"}, {"__type", "AddedToken"}}},
              {"add_bos_token", true}, {"add_eos_token", true}};
  auto tk = load(make_spm_style(), cfg);
  EXPECT_EQ(tk->encode("ab", true), (Ids{1, 8, 2}));
  EXPECT_EQ(tk->bos_id(), 1);
  EXPECT_EQ(tk->eos_id(), 2);
  EXPECT_NE(tk->describe().find("bos=1, eos=2"), std::string::npos) << tk->describe();
  cfg["add_bos_token"] = false;
  cfg["add_eos_token"] = false;
  EXPECT_EQ(load(make_spm_style(), cfg)->encode("ab", true), (Ids{8}));
  // Other classes keep tokenizer.json's own post_processor.
  cfg["tokenizer_class"] = "PreTrainedTokenizerFast";
  EXPECT_EQ(load(make_spm_style(), cfg)->encode("ab", true), (Ids{1, 8}));
}

TEST(Tokenizer, StreamDecoderHoldsIncompleteCharacters) {
  auto tk = load(make_spm_style());
  StreamDecoder sd(*tk);
  // ids of "ab é ab" with BOS: <s> ▁ab ▁ <0xC3> <0xA9> ▁ab
  Ids ids = tk->encode("ab \xC3\xA9 ab", true);
  ASSERT_EQ(ids, (Ids{1, 8, 3, 10, 11, 8}));
  std::vector<std::string> parts;
  for (TokenId id : ids) parts.push_back(sd.push(id));
  parts.push_back(sd.flush());
  EXPECT_EQ(parts[0], "");       // <s> is skipped
  EXPECT_EQ(parts[1], "ab");     // first token: leading space stripped
  EXPECT_EQ(parts[2], " ");      // "▁" after a token is a plain space
  EXPECT_EQ(parts[3], "");       // <0xC3> alone: incomplete UTF-8, held back
  EXPECT_EQ(parts[4], "\xC3\xA9");  // completed by <0xA9>
  EXPECT_EQ(parts[5], " ab");
  std::string all;
  for (const auto& p : parts) all += p;
  EXPECT_EQ(all, tk->decode(ids, true));
}

TEST(Tokenizer, InvalidUtf8InputIsAnErrorWithOffset) {
  auto tk = load(make_spm_style());
  EXPECT_EQ(test::bad_input_message([&] { tk->encode(std::string("ab\xFF") + "c"); }),
            "[tokenizer] input text is not valid UTF-8: byte 0xff at offset 2");
  // A truncated sequence at the end and an overlong encoding are invalid too.
  EXPECT_NE(test::bad_input_message([&] { tk->encode("a\xC3"); }).find("offset 1"), std::string::npos);
  EXPECT_NE(test::bad_input_message([&] { tk->encode("\xC0\xAF"); }).find("offset 0"), std::string::npos);
}

TEST(Tokenizer, BadIdsAreErrors) {
  auto tk = load(make_spm_style());
  EXPECT_NE(test::bad_input_message([&] { tk->decode({1, 99}); }).find("cannot decode token id 99"), std::string::npos);
  EXPECT_NE(test::bad_input_message([&] { tk->id_to_token(-1); }).find("token id -1 is out of range"), std::string::npos);
}

TEST(TokenizerBadInput, MissingFolderOrFiles) {
  EXPECT_NE(test::bad_input_message([] { Tokenizer::from_dir("/nonexistent/llmprune"); }).find("does not exist"),
            std::string::npos);
  std::string empty = test::temp_dir("empty");
  EXPECT_EQ(test::bad_input_message([&] { Tokenizer::from_dir(empty); }),
            "[tokenizer] " + empty + " has no tokenizer.json or tokenizer.model");
}

TEST(TokenizerBadInput, MalformedJson) {
  std::string dir = test::temp_dir("malformed");
  std::ofstream(dir + "/tokenizer.json") << R"({"model": {"type": "BPE", "vocab": {)";
  std::string err = test::bad_input_message([&] { Tokenizer::from_dir(dir); });
  EXPECT_NE(err.find("malformed JSON in " + dir + "/tokenizer.json"), std::string::npos) << err;
}

TEST(TokenizerBadInput, UnknownComponentTypesAreNamed) {
  json j = make_spm_style();
  j["pre_tokenizer"] = {{"type", "X"}};
  std::string dir = write_dir("unknown", j);
  EXPECT_EQ(test::bad_input_message([&] { Tokenizer::from_dir(dir); }),
            "[tokenizer] unsupported pre_tokenizer type 'X' in " + dir + "/tokenizer.json");
  j = make_spm_style();
  j["model"]["type"] = "Unigram";
  EXPECT_NE(test::bad_input_message([&] { load(j); }).find("unsupported model type 'Unigram'"), std::string::npos);
  j = make_spm_style();
  j["post_processor"] = {{"type", "Mystery"}};
  EXPECT_NE(test::bad_input_message([&] { load(j); }).find("unsupported post_processor type 'Mystery'"), std::string::npos);
}

TEST(TokenizerBadInput, BrokenModelFields) {
  json j = make_spm_style();
  j["model"]["merges"] = json::array({"a b c"});
  EXPECT_NE(test::bad_input_message([&] { load(j); }).find("merge 0 'a b c' is not two tokens"), std::string::npos);
  j["model"]["merges"] = json::array({"a z"});
  EXPECT_NE(test::bad_input_message([&] { load(j); }).find("uses a token missing from the vocab"), std::string::npos);
  j = make_spm_style();
  j["model"]["unk_token"] = "<nope>";
  EXPECT_NE(test::bad_input_message([&] { load(j); }).find("unk_token '<nope>' is not in the vocab"), std::string::npos);
}

TEST(TokenizerBadInput, NotASentencePieceModel) {
  // A tiktoken-style text file named tokenizer.model (as Llama-3 ships) is rejected clearly.
  std::string dir = test::temp_dir("tiktoken");
  std::ofstream(dir + "/tokenizer.model") << "IQ== 0\nIg== 1\n";
  std::string err = test::bad_input_message([&] { Tokenizer::from_dir(dir); });
  EXPECT_NE(err.find("is not a SentencePiece model"), std::string::npos) << err;
}

TEST(TokenizerSource, ExplicitChoiceNeedsTheFile) {
  std::string dir = write_dir("json-only", make_spm_style());
  EXPECT_NE(test::bad_input_message([&] { tok::load_tokenizer(dir, tok::TokenizerSource::kSentencePiece); })
                .find("tokenizer.model does not exist"),
            std::string::npos);
  EXPECT_NE(test::bad_input_message([] { tok::parse_tokenizer_source("xml"); }).find("unknown tokenizer source"),
            std::string::npos);
}

}  // namespace
}  // namespace llmprune
