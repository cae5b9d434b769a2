// The JSON entry point (issue 12): depth limit, every nlohmann exception mapped to a one-line
// bad_input naming the source, checked number -> integer conversions, duplicate keys.
// Expected limits and messages are the ones util/json.h documents.
#include <gtest/gtest.h>

#include "support/assets.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/json.h"

namespace llmprune {
namespace {

void expect_has(const std::string& msg, std::initializer_list<std::string> needles) {
  EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  for (const auto& n : needles) EXPECT_NE(msg.find(n), std::string::npos) << n << " in: " << msg;
}

TEST(JsonHardening, DepthLimit) {
  // 200k nested arrays crashed later recursive walks (dump()); the limit is kMaxJsonDepth.
  std::string deep = std::string(200000, '[') + std::string(200000, ']');
  expect_has(test::bad_input_message([&] { parse_json(deep, "X: "); }),
             {"X: nested deeper than 128 levels at byte 128"});
  std::string ok = std::string(kMaxJsonDepth, '[') + std::string(kMaxJsonDepth, ']');
  EXPECT_NO_THROW(parse_json(ok, "X: "));
  // Brackets inside strings (and escaped quotes) do not count.
  std::string in_string = "[\"" + std::string(1000, '[') + "\\\"\"]";
  EXPECT_EQ(parse_json(in_string, "X: ")[0].get<std::string>().size(), 1001u);
}

TEST(JsonHardening, NumberOverflowIsBadInputNamingTheFile) {
  // 1e400 threw json out_of_range, caught nowhere but main ("internal error", exit 1).
  std::string path = test::temp_dir("jsonhard") + "/config.json";
  write_file_atomic(path, "{\"rope_theta\": 1e400}");
  expect_has(test::bad_input_message([&] { read_json_file(path); }),
             {"malformed JSON in " + path, "number overflow", "1e400"});
}

TEST(JsonHardening, DuplicateKeysOnRequest) {
  EXPECT_EQ(parse_json(R"({"a":1,"a":2})", "X: ")["a"], 2);  // nlohmann/Python: last wins
  expect_has(test::bad_input_message([] { parse_json(R"({"a":1,"b":{"c":1,"c":1}})", "X: ", true); }),
             {"X: duplicate key \"c\""});
  // The same key in two different objects is not a duplicate.
  EXPECT_NO_THROW(parse_json(R"({"a":{"k":1},"b":{"k":1}})", "X: ", true));
}

TEST(JsonHardening, CheckedIntegers) {
  // Range and integrality, the key named; integral floats pass (transformers writes 32.0).
  EXPECT_EQ(json_int(json(32.0), "k"), 32);
  EXPECT_EQ(json_int(json(7), "k", 0, 7), 7);
  EXPECT_EQ(json_int(json(-3), "k"), -3);
  expect_has(test::bad_input_message([] { json_int(json(1e20), "cfg: key \"n\"", 0, 100); }),
             {"cfg: key \"n\" must be an integer in [0, 100], got 1e+20"});
  expect_has(test::bad_input_message([] { json_int(json(1.5), "k"); }), {"got 1.5"});
  expect_has(test::bad_input_message([] { json_int(json(9.3e18), "k"); }), {"k must be"});
  expect_has(test::bad_input_message([] { json_int(json(18446744073709551615ull), "k"); }),
             {"got 18446744073709551615"});
  expect_has(test::bad_input_message([] { json_int(json("3"), "k"); }), {"got \"3\""});
  expect_has(test::bad_input_message([] { json_int(json(8), "k", 0, 7); }), {"got 8"});
  expect_has(test::bad_input_message([] { json_int(json(-1), "k", 0, 7); }), {"got -1"});
}

TEST(JsonHardening, TypeErrorsMapToBadInput) {
  json j = {{"a", 1}};
  expect_has(test::bad_input_message([&] {
               with_json_errors("[x] f.json", [&] { return j.at("a").get<std::string>(); });
             }),
             {"[x] f.json: ", "type must be string"});
  expect_has(test::bad_input_message([&] {
               with_json_errors("[x] f.json", [&] { return j.at("missing").get<int>(); });
             }),
             {"[x] f.json: ", "missing"});
}

TEST(JsonHardening, ReportWithInvalidUtf8IsWritten) {
  // A model path that is not UTF-8 made dump() throw while writing the report.
  std::string path = test::temp_dir("jsonhard") + "/r.json";
  write_json_file(path, {{"model", std::string("/tmp/m\xff")}});
  EXPECT_EQ(read_json_file(path)["model"], "/tmp/m\xEF\xBF\xBD");  // U+FFFD replaces the byte
}

}  // namespace
}  // namespace llmprune

// Strings from binary files (GGUF metadata) may hold invalid UTF-8, which nlohmann::json
// refuses to dump: utf8_for_json turns each invalid byte into U+FFFD (EF BF BD) and keeps
// valid text as is. The input is the one gguf_fuzz found (fuzz/regressions/gguf_fuzz/).
TEST(JsonHardening, InvalidUtf8BecomesReplacementCharacters) {
  EXPECT_EQ(llmprune::utf8_for_json("ab\x8f" "c"), "ab\xEF\xBF\xBD" "c");
  EXPECT_EQ(llmprune::utf8_for_json("caf\xC3\xA9"), "caf\xC3\xA9");
  EXPECT_NO_THROW(llmprune::json(llmprune::utf8_for_json("\xff\xfe")).dump());
}
