// tokenizer/byte_tokenizer: the synthetic models' tokenizer.json encodes every byte as its
// own id (hand-derived: ids are the UTF-8 bytes) with <|endoftext|> (256) as BOS.
#include <gtest/gtest.h>

#include "support/assets.h"
#include "tokenizer/byte_tokenizer.h"
#include "tokenizer/tokenizer.h"
#include "util/fs.h"

namespace llmprune {
namespace {

TEST(ByteTokenizer, IdsAreUtf8BytesAndRoundTrip) {
  std::string dir = test::temp_dir("bytetok");
  write_file_atomic(dir + "/tokenizer.json", byte_level_tokenizer_json());
  auto tok = Tokenizer::from_dir(dir);
  EXPECT_EQ(tok->vocab_size(), 257);
  // "hé!" is the bytes 0x68, 0xC3 0xA9, 0x21.
  std::vector<TokenId> expected{256, 0x68, 0xC3, 0xA9, 0x21};
  EXPECT_EQ(tok->encode("h\xC3\xA9!", true), expected);
  EXPECT_EQ(tok->encode("h\xC3\xA9!", false),
            std::vector<TokenId>(expected.begin() + 1, expected.end()));
  const std::string text = "Once upon a time,\n  two spaces\tand a tab.";
  EXPECT_EQ(tok->decode(tok->encode(text, true), /*skip_special_tokens=*/true), text);
}

}  // namespace
}  // namespace llmprune
