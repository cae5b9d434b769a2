// CLI tests for `llmprune tokenize` / `detokenize`: output formats, exit codes, and the
// SentencePiece shim working inside the LibTorch-linked binary (the protobuf clash).
#include <gtest/gtest.h>

#include <fstream>

#include "support/assets.h"
#include "util/json.h"

namespace llmprune {
namespace {

std::string ids_line(const json& ids) {
  std::string s;
  for (size_t k = 0; k < ids.size(); ++k) s += (k ? " " : "") + std::to_string(ids[k].get<int>());
  return s + "\n";
}

TEST(CliTokenize, Stories260KMatchesReference) {
  LLMPRUNE_REQUIRE_ASSET("reference/stories260K/tokenize.json");
  json ref = read_json_file(test::asset("reference/stories260K/tokenize.json"));
  const json& p = ref["prompts"][0];  // "Once upon a time, there was a little girl named Lily."
  std::string model = test::asset("models/stories260K-hf");
  std::string text = p["text"].get<std::string>();
  auto r = test::run_llmprune("tokenize --model " + model + " --text '" + text + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, ids_line(p["ids_with_bos"]));  // llama.cpp's ids, BOS first
  r = test::run_llmprune("tokenize --model " + model + " --no-special --json --text '" + text + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json j = json::parse(r.out);
  EXPECT_EQ(j["ids"], p["ids_no_bos"]);
  EXPECT_EQ(j["n_tokens"], p["ids_no_bos"].size());
  // detokenize restores the text from the printed ids (BOS skipped). The ids go through a
  // file: run_llmprune gives the command /dev/null as stdin.
  std::string tmp = test::temp_dir("cli"), ids_file = tmp + "/ids.txt";
  r = test::run_llmprune("tokenize --model " + model + " --text '" + text + "' --report " + tmp +
                         "/report.json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(read_json_file(tmp + "/report.json")["n_tokens"], p["ids_with_bos"].size());
  std::ofstream(ids_file) << r.out;
  r = test::run_llmprune("detokenize --model " + model + " --skip-special --ids \"$(cat " + ids_file + ")\"");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, text + "\n");
}

TEST(CliTokenize, SentencePieceInsideTheTorchBinary) {
  // phi3/ has only tokenizer.model: this goes through the dlopen'ed shim in a process that
  // also loads LibTorch. Reference ids: tokenizers/phi3/reference_ids.json ("Hello world"
  // with BOS, sentencepiece 0.1.97): [1, 15043, 3186].
  LLMPRUNE_REQUIRE_ASSET("tokenizers/phi3/tokenizer.model");
  auto r = test::run_llmprune("tokenize --model " + test::asset("tokenizers/phi3") +
                              " --text 'Hello world'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "1 15043 3186\n");
  r = test::run_llmprune("detokenize --model " + test::asset("tokenizers/phi3") +
                         " --ids '1 15043 3186' --skip-special --raw");
  EXPECT_EQ(r.out, "Hello world");
}

TEST(CliTokenize, BadInputExitsTwo) {
  auto r = test::run_llmprune("tokenize --model /nonexistent/dir --text hi");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("does not exist"), std::string::npos) << r.err;
  LLMPRUNE_REQUIRE_ASSET("models/stories260K-hf/tokenizer.json");
  std::string model = test::asset("models/stories260K-hf");
  r = test::run_llmprune("detokenize --model " + model + " --ids '1 x 2'");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("'x' is not a token id"), std::string::npos) << r.err;
  r = test::run_llmprune("detokenize --model " + model + " --ids '100000'");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("cannot decode token id 100000"), std::string::npos) << r.err;
  r = test::run_llmprune("tokenize --model " + model + " --text $(printf 'a\\377b')");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("not valid UTF-8: byte 0xff at offset 1"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace llmprune
