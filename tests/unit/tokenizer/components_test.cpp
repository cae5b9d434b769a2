// Unit tests for each normalizer, pre-tokenizer and decoder on hand-derived cases. Each
// expected value is derived by applying the component's rule (as documented in Hugging Face
// tokenizers' source, normalizers/ pre_tokenizers/ decoders/) by hand to the input.
#include <gtest/gtest.h>

#include "tokenizer/components.h"
#include "util/error.h"

namespace llmprune::tok {
namespace {

const char* kMeta = "\xE2\x96\x81";  // "▁" U+2581

std::string norm(const char* cfg, const std::string& in, bool* at_origin = nullptr) {
  auto n = make_normalizer(json::parse(cfg), "test.json");
  Piece p{in, true};
  n->normalize(p);
  if (at_origin) *at_origin = p.at_origin;
  return p.text;
}

std::vector<std::string> pretok(const char* cfg, const std::string& in, bool at_origin = true) {
  auto pt = make_pre_tokenizer(json::parse(cfg), "test.json");
  std::vector<Piece> pieces{{in, at_origin}};
  pt->pre_tokenize(pieces);
  std::vector<std::string> out;
  for (const auto& p : pieces) out.push_back(p.text);
  return out;
}

std::string dec(const char* cfg, std::vector<std::string> tokens) {
  auto d = make_decoder(json::parse(cfg), "test.json");
  d->decode_chain(tokens);
  std::string out;
  for (const auto& t : tokens) out += t;
  return out;
}

using V = std::vector<std::string>;

// ---- normalizers --------------------------------------------------------------------

TEST(Normalizers, PrependOnlyNonEmpty) {
  // Prepend adds its string before any non-empty text; empty text stays empty.
  EXPECT_EQ(norm(R"({"type":"Prepend","prepend":"▁"})", "Hi"), std::string(kMeta) + "Hi");
  EXPECT_EQ(norm(R"({"type":"Prepend","prepend":"▁"})", ""), "");
}

TEST(Normalizers, ReplaceStringAndRegex) {
  // Every " " becomes "▁" (SentencePiece-style); the regex form collapses runs of spaces.
  EXPECT_EQ(norm(R"({"type":"Replace","pattern":{"String":" "},"content":"▁"})", "a b  c"),
            std::string("a") + kMeta + "b" + kMeta + kMeta + "c");
  EXPECT_EQ(norm(R"({"type":"Replace","pattern":{"Regex":" {2,}"},"content":" "})", "a   b c"),
            "a b c");
}

TEST(Normalizers, SequenceIsSentencePieceStyle) {
  // stories260K / Llama-2: Prepend "▁" then Replace " " -> "▁": "a b" -> "▁a▁b".
  const char* cfg = R"({"type":"Sequence","normalizers":[{"type":"Prepend","prepend":"▁"},
      {"type":"Replace","pattern":{"String":" "},"content":"▁"}]})";
  EXPECT_EQ(norm(cfg, "a b"), std::string(kMeta) + "a" + kMeta + "b");
}

TEST(Normalizers, UnicodeForms) {
  // "e" + U+0301 (combining acute) composes to U+00E9 under NFC; NFKC also maps the
  // "ﬁ" ligature (U+FB01) to "fi", which NFC leaves alone.
  EXPECT_EQ(norm(R"({"type":"NFC"})", "e\xCC\x81"), "\xC3\xA9");
  EXPECT_EQ(norm(R"({"type":"NFC"})", "\xEF\xAC\x81"), "\xEF\xAC\x81");
  EXPECT_EQ(norm(R"({"type":"NFKC"})", "\xEF\xAC\x81"), "fi");
  EXPECT_EQ(norm(R"({"type":"NFD"})", "\xC3\xA9"), "e\xCC\x81");
}

TEST(Normalizers, LowercaseAndStrip) {
  // Lowercase is Unicode-aware: "ÄB" -> "äb". Strip removes Unicode whitespace at the
  // ends (U+3000 ideographic space included) and then no longer starts at byte 0.
  EXPECT_EQ(norm(R"({"type":"Lowercase"})", "\xC3\x84" "B"), "\xC3\xA4" "b");
  bool at_origin = true;
  EXPECT_EQ(norm(R"({"type":"Strip","strip_left":true,"strip_right":true})",
                 " \t\xE3\x80\x80x y \n", &at_origin),
            "x y");
  EXPECT_FALSE(at_origin);
  EXPECT_EQ(norm(R"({"type":"Strip","strip_left":false,"strip_right":true})", "  x  "), "  x");
}

TEST(Normalizers, UnknownTypeIsAnError) {
  try {
    make_normalizer(json::parse(R"({"type":"Precompiled"})"), "dir/tokenizer.json");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()),
              "[tokenizer] unsupported normalizer type 'Precompiled' in dir/tokenizer.json");
    EXPECT_EQ(e.exit_code(), 2);
  }
}

// ---- pre-tokenizers -----------------------------------------------------------------

TEST(PreTokenizers, ByteLevelWithRegex) {
  // GPT-2 regex pieces: "Hello", " world", "'s", "!!"; then each byte maps to its stand-in:
  // space (0x20) -> "Ġ" (U+0120).
  EXPECT_EQ(pretok(R"({"type":"ByteLevel","add_prefix_space":false,"use_regex":true})",
                   "Hello world's!!"),
            (V{"Hello", "\xC4\xA0world", "'s", "!!"}));
  // add_prefix_space puts " " before a piece that does not start with one.
  EXPECT_EQ(pretok(R"({"type":"ByteLevel","add_prefix_space":true,"use_regex":true})", "Hi"),
            (V{"\xC4\xA0Hi"}));
  // Without the regex the piece stays whole; "\n" (0x0A) -> "Ċ" (U+010A).
  EXPECT_EQ(pretok(R"({"type":"ByteLevel","add_prefix_space":false,"use_regex":false})", "a b\n"),
            (V{"a\xC4\xA0" "b\xC4\x8A"}));
}

TEST(PreTokenizers, SplitBehaviours) {
  // Pattern "-" over "a-b--c": spans a | - | b | - | - | c.
  auto split = [](const char* behavior, bool invert = false) {
    std::string cfg = std::string(R"({"type":"Split","pattern":{"String":"-"},"behavior":")") +
                      behavior + R"(","invert":)" + (invert ? "true" : "false") + "}";
    return pretok(cfg.c_str(), "a-b--c");
  };
  EXPECT_EQ(split("Removed"), (V{"a", "b", "c"}));
  EXPECT_EQ(split("Isolated"), (V{"a", "-", "b", "-", "-", "c"}));
  EXPECT_EQ(split("MergedWithPrevious"), (V{"a-", "b-", "-", "c"}));
  EXPECT_EQ(split("MergedWithNext"), (V{"a", "-b", "-", "-c"}));
  EXPECT_EQ(split("Contiguous"), (V{"a", "-", "b", "--", "c"}));
  // Inverted: the letters are the delimiters and get removed; each "-" match stays a
  // piece of its own (adjacent matches are not joined).
  EXPECT_EQ(split("Removed", true), (V{"-", "-", "-"}));
}

TEST(PreTokenizers, SplitLlama3Regex) {
  // Llama-3 pattern: numbers in groups of at most 3 digits, contractions case-insensitive,
  // a letter run may take one leading non-letter ("'" is not a letter: "'S" matches the
  // contraction branch first).
  const char* cfg = R"({"type":"Split","pattern":{"Regex":"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"},"behavior":"Isolated","invert":false})";
  EXPECT_EQ(pretok(cfg, "IT'S 12345 ünï"), (V{"IT", "'S", " ", "123", "45", " ünï"}));
}

TEST(PreTokenizers, MetaspaceSchemes) {
  std::string m(kMeta);
  // always + split: spaces -> "▁", a "▁" in front, split before each "▁".
  EXPECT_EQ(pretok(R"({"type":"Metaspace","replacement":"▁","prepend_scheme":"always","split":true})",
                   "Hey friend"),
            (V{m + "Hey", m + "friend"}));
  // first: only a piece that starts the original text gets the prefix.
  EXPECT_EQ(pretok(R"({"type":"Metaspace","replacement":"▁","prepend_scheme":"first","split":false})",
                   "a b", /*at_origin=*/false),
            (V{"a" + m + "b"}));
  EXPECT_EQ(pretok(R"({"type":"Metaspace","replacement":"▁","prepend_scheme":"first","split":false})",
                   "a b", /*at_origin=*/true),
            (V{m + "a" + m + "b"}));
  // A text that already starts with a space gets no second "▁" (Mistral's HF file).
  EXPECT_EQ(pretok(R"({"type":"Metaspace","replacement":"▁","prepend_scheme":"first","split":false})",
                   " a"),
            (V{m + "a"}));
  // never
  EXPECT_EQ(pretok(R"({"type":"Metaspace","replacement":"▁","prepend_scheme":"never","split":false})",
                   "a"),
            (V{"a"}));
}

TEST(PreTokenizers, DigitsAndSequence) {
  // individual_digits isolates each digit; otherwise digit runs stay together.
  EXPECT_EQ(pretok(R"({"type":"Digits","individual_digits":true})", "ab123c"),
            (V{"ab", "1", "2", "3", "c"}));
  EXPECT_EQ(pretok(R"({"type":"Digits","individual_digits":false})", "ab123c"),
            (V{"ab", "123", "c"}));
  // SmolLM2: Digits then ByteLevel(regex): "x 42" -> "x", " " + ... digits split first.
  EXPECT_EQ(pretok(R"({"type":"Sequence","pretokenizers":[{"type":"Digits","individual_digits":true},
      {"type":"ByteLevel","add_prefix_space":false,"use_regex":true}]})",
                   "x 42"),
            (V{"x", "\xC4\xA0", "4", "2"}));
}

TEST(PreTokenizers, WhitespaceFamilies) {
  // Whitespace keeps \w+ and runs of other non-space chars; WhitespaceSplit only splits.
  EXPECT_EQ(pretok(R"({"type":"Whitespace"})", "Hi, you!"), (V{"Hi", ",", "you", "!"}));
  EXPECT_EQ(pretok(R"({"type":"WhitespaceSplit"})", "Hi, you!"), (V{"Hi,", "you!"}));
  EXPECT_EQ(pretok(R"({"type":"Punctuation"})", "a,b"), (V{"a", ",", "b"}));
}

TEST(PreTokenizers, UnknownTypeIsAnError) {
  try {
    make_pre_tokenizer(json::parse(R"({"type":"X"})"), "tokenizer.json");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), "[tokenizer] unsupported pre_tokenizer type 'X' in tokenizer.json");
  }
}

// ---- decoders -----------------------------------------------------------------------

TEST(Decoders, ByteLevel) {
  // "Ġ" -> 0x20; "Ã©" are the stand-ins of bytes C3 A9 = "é"; a lone C3 is invalid UTF-8
  // and becomes U+FFFD.
  EXPECT_EQ(dec(R"({"type":"ByteLevel"})", {"Hi", "\xC4\xA0" "caf", "\xC3\x83\xC2\xA9"}), "Hi caf\xC3\xA9");
  EXPECT_EQ(dec(R"({"type":"ByteLevel"})", {"a", "\xC3\x83"}), "a\xEF\xBF\xBD");
}

TEST(Decoders, ByteFallback) {
  // <0xE2><0x96><0x81> is "▁" (valid UTF-8, joined); a lone <0xE2> is one U+FFFD per byte.
  EXPECT_EQ(dec(R"({"type":"ByteFallback"})", {"a", "<0xE2>", "<0x96>", "<0x81>", "b"}),
            std::string("a") + kMeta + "b");
  EXPECT_EQ(dec(R"({"type":"ByteFallback"})", {"<0xE2>", "<0x96>", "x"}),
            "\xEF\xBF\xBD\xEF\xBF\xBDx");
}

TEST(Decoders, MetaspaceReplaceFuseStrip) {
  std::string m(kMeta);
  // Metaspace: "▁" -> " ", dropped in the first token when a prefix was prepended.
  EXPECT_EQ(dec(R"({"type":"Metaspace","replacement":"▁","prepend_scheme":"always"})",
                {m + "Hey", m + "friend"}),
            "Hey friend");
  EXPECT_EQ(dec(R"({"type":"Metaspace","replacement":"▁","prepend_scheme":"never"})", {m + "Hey"}),
            " Hey");
  // Mistral / stories260K chain: Replace, ByteFallback, Fuse, Strip(" ", 1, 0).
  const char* chain = R"({"type":"Sequence","decoders":[
      {"type":"Replace","pattern":{"String":"▁"},"content":" "},{"type":"ByteFallback"},
      {"type":"Fuse"},{"type":"Strip","content":" ","start":1,"stop":0}]})";
  EXPECT_EQ(dec(chain, {m + "Hello", m + "w", "<0x6F>", "rld"}), "Hello world");
  EXPECT_EQ(dec(chain, {m + m + "x"}), " x");  // Strip removes at most one space
  // Strip per token, both ends.
  EXPECT_EQ(dec(R"({"type":"Strip","content":"H","start":1,"stop":1})", {"HHeyH", "Ho"}), "Heyo");  // "HHeyH" -> "Hey", "Ho" -> "o"
}

TEST(Decoders, UnknownTypeIsAnError) {
  EXPECT_THROW(make_decoder(json::parse(R"({"type":"CTC"})"), "t.json"), Error);
}

}  // namespace
}  // namespace llmprune::tok
