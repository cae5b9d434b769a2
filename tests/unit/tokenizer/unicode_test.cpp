// UTF-8 helpers and GPT-2's byte table, checked against hand-derived values (Unicode
// Table 3-7 for well-formedness, GPT-2's bytes_to_unicode() definition).
#include <gtest/gtest.h>

#include "tokenizer/unicode.h"

namespace llmprune::tok {
namespace {

TEST(Unicode, FindInvalid) {
  EXPECT_EQ(find_invalid_utf8("abc \xC3\xA9 \xF0\x9F\xA6\x99"), std::string::npos);  // é, 🦙
  EXPECT_EQ(find_invalid_utf8("ab\x80"), 2u);           // lone continuation byte
  EXPECT_EQ(find_invalid_utf8("\xED\xA0\x80"), 0u);     // UTF-16 surrogate D800
  EXPECT_EQ(find_invalid_utf8("x\xE0\x80\x80"), 1u);    // overlong 3-byte form
  EXPECT_EQ(find_invalid_utf8("\xF4\x90\x80\x80"), 0u); // above U+10FFFF
}

TEST(Unicode, LossyReplacesMaximalSubparts) {
  // "E2 96" is a truncated 3-byte sequence: one U+FFFD (Rust from_utf8_lossy); "FF" and
  // "80" are each one U+FFFD.
  EXPECT_EQ(utf8_lossy("a\xE2\x96" "b"), "a\xEF\xBF\xBD" "b");
  EXPECT_EQ(utf8_lossy("\xFF\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(utf8_lossy("ok"), "ok");
}

TEST(Unicode, CompletePrefixHoldsTruncatedTail) {
  EXPECT_EQ(complete_utf8_prefix("ab\xE2\x96"), 2u);  // "▁" missing its last byte
  EXPECT_EQ(complete_utf8_prefix("ab\xE2\x96\x81"), 5u);
  EXPECT_EQ(complete_utf8_prefix("ab\xFF"), 3u);  // invalid, not incomplete: kept
}

TEST(Unicode, ByteLevelTable) {
  // Printable bytes map to themselves; space 0x20 is the 33rd non-printable byte (0..32)
  // -> U+0100 + 32 = U+0120 "Ġ"; "\n" 0x0A -> U+010A "Ċ"; 0xAD -> U+0143 "Ń".
  const auto& t = byte_to_unicode();
  EXPECT_EQ(t['A'], "A");
  EXPECT_EQ(t[' '], "\xC4\xA0");
  EXPECT_EQ(t['\n'], "\xC4\x8A");
  EXPECT_EQ(t[0xAD], "\xC5\x83");
  for (int b = 0; b < 256; ++b) {
    size_t i = 0;
    EXPECT_EQ(unicode_to_byte(next_code_point(t[b], i)), b);
  }
  EXPECT_EQ(unicode_to_byte(0x4E00), -1);
}

TEST(Unicode, CharacterClasses) {
  EXPECT_TRUE(is_whitespace(0x3000));
  EXPECT_FALSE(is_whitespace(0x200B));  // zero width space is not White_Space
  EXPECT_TRUE(is_numeric(0x00BD));      // ½ is No
  EXPECT_TRUE(is_numeric(0x0663));      // Arabic-Indic three is Nd
  EXPECT_FALSE(is_numeric('a'));
  EXPECT_TRUE(is_punctuation(0x3002));  // 。 is Po
}

}  // namespace
}  // namespace llmprune::tok
