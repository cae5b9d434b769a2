// Evaluation texts: each loader on small temp files with hand-derived expected strings,
// the error cases, and (with the shared assets) the real wikitext2 / ptb / c4 strings.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "io/dataset.h"
#include "io_test_util.h"
#include "support/assets.h"

namespace llmprune {
namespace {
namespace fs = std::filesystem;

std::string make_file(const std::string& dir, const std::string& rel, const std::string& text) {
  std::string path = dir + "/" + rel;
  fs::create_directories(fs::path(path).parent_path());
  test::write_bytes(path, text);
  return path;
}

TEST(Dataset, PythonStrip) {
  EXPECT_EQ(python_strip(" \t a b \r\n\v\f"), "a b");
  EXPECT_EQ(python_strip("\x1c" "x\x1f"), "x");  // \x1c-\x1f are str.isspace() in Python
  // U+00A0 (c2 a0), U+3000 (e3 80 80), U+2028 (e2 80 a8), U+0085 (c2 85) are whitespace.
  EXPECT_EQ(python_strip("\xc2\xa0g\xe3\x80\x80\xe2\x80\xa8\xc2\x85"), "g");
  // é (c3 a9) and U+200B zero width space (e2 80 8b) are not.
  EXPECT_EQ(python_strip(" h\xc3\xa9 "), "h\xc3\xa9");
  EXPECT_EQ(python_strip("\xe2\x80\x8bz\xe2\x80\x8b"), "\xe2\x80\x8bz\xe2\x80\x8b");
  EXPECT_EQ(python_strip("   "), "");
  EXPECT_EQ(python_strip(""), "");
}

TEST(Dataset, Wikitext2IsTheFileAsIs) {
  std::string dir = test::temp_dir("data");
  make_file(dir, "wikitext2/wikitext2_test_hfjoin.txt", "\n\n = T = \r\n x\n");
  std::string desc;
  EXPECT_EQ(load_eval_text("wikitext2", dir, &desc), "\n\n = T = \r\n x\n");
  EXPECT_NE(desc.find("wikitext2"), std::string::npos) << desc;
}

TEST(Dataset, PtbStripsLinesAndJoinsWithSpace) {
  std::string dir = test::temp_dir("data");
  // Lines as Python's text-mode iteration gives them (\n, \r\n and \r all end a line):
  // " a b ", "  c\t", "", " d ", " e", " f" -> stripped and " ".join -> "a b c  d e f"
  // (the empty line keeps its row: two spaces between c and d).
  make_file(dir, "ptb/ptb.test.txt", " a b \n  c\t\n\n d \r\n e\r f");
  std::string desc;
  EXPECT_EQ(load_eval_text("ptb", dir, &desc), "a b c  d e f");
  EXPECT_NE(desc.find("6 lines stripped and joined with \" \""), std::string::npos) << desc;
  // A trailing newline ends the last line; it does not add an empty row.
  make_file(dir, "ptb/ptb.test.txt", " x \n y \n");
  EXPECT_EQ(load_eval_text("ptb", dir), "x y");
}

TEST(Dataset, C4JoinsTextFields) {
  std::string dir = test::temp_dir("data");
  make_file(dir, "c4/redpajama_sample_c4-rp1.jsonl",
            "{\"text\": \"A\\nB\", \"meta\": {\"source\": \"c4\"}}\n{\"text\": \"C\"}\n");
  std::string desc;
  EXPECT_EQ(load_eval_text("c4", dir, &desc), "A\nB\n\nC");
  EXPECT_NE(desc.find("C4 samples (2 documents of redpajama_sample_c4-rp1.jsonl), not the C4 "
                      "validation set"),
            std::string::npos)
      << desc;
}

TEST(Dataset, FilePaths) {
  std::string dir = test::temp_dir("data");
  EXPECT_EQ(load_eval_text(make_file(dir, "a.txt", "as is\n\n"), ""), "as is\n\n");
  // Blank lines in JSONL are skipped; a final line without newline still counts.
  EXPECT_EQ(load_eval_text(make_file(dir, "b.jsonl", "{\"text\":\"x\"}\n\n  \n{\"text\":\"y\"}"), ""),
            "x\n\ny");
  EXPECT_EQ(load_eval_text(make_file(dir, "c.json", "[{\"text\":\"p\"},{\"text\":\"q\",\"id\":2}]"), ""),
            "p\n\nq");
  EXPECT_EQ(load_eval_text(make_file(dir, "d.json", "[\"s\", \"t\"]"), ""), "s\n\nt");
}

TEST(Dataset, Errors) {
  std::string dir = test::temp_dir("data");
  test::expect_bad_input([&] { load_eval_text("wikitext3", dir); },
                         {"unknown dataset \"wikitext3\"", "wikitext2, ptb, c4"});
  test::expect_bad_input([&] { load_eval_text("wikitext2", dir); },
                         {dir + "/wikitext2/wikitext2_test_hfjoin.txt", "does not exist",
                          "--data-dir"});
  test::expect_bad_input([&] { load_eval_text("ptb", ""); }, {"no data folder", "--data-dir"});
  std::string empty = make_file(dir, "empty.txt", "");
  test::expect_bad_input([&] { load_eval_text(empty, ""); }, {empty, "empty"});
  std::string blank = make_file(dir, "blank.jsonl", "\n\n");
  test::expect_bad_input([&] { load_eval_text(blank, ""); }, {blank, "empty"});
  std::string bad = make_file(dir, "bad.jsonl", "{\"text\":\"a\"}\n\n{\"text\": oops}\n");
  test::expect_bad_input([&] { load_eval_text(bad, ""); }, {bad + ":3: ", "not valid JSON"});
  std::string notext = make_file(dir, "notext.jsonl", "{\"body\":\"a\"}\n");
  test::expect_bad_input([&] { load_eval_text(notext, ""); }, {notext + ":1: ", "\"text\""});
  std::string badjson = make_file(dir, "bad.json", "{\"text\": \"a\"}");
  test::expect_bad_input([&] { load_eval_text(badjson, ""); }, {badjson, "expected a JSON list"});
  std::string baditem = make_file(dir, "item.json", "[\"a\", 5]");
  test::expect_bad_input([&] { load_eval_text(baditem, ""); }, {baditem, "item 1"});
}

TEST(Dataset, DefaultDataDirFromEnv) {
  const char* old = std::getenv("LLMPRUNE_DATA_DIR");
  std::string saved = old ? old : "";
  setenv("LLMPRUNE_DATA_DIR", "/some/where", 1);
  EXPECT_EQ(default_data_dir(), "/some/where");
  if (old) setenv("LLMPRUNE_DATA_DIR", saved.c_str(), 1);
  else unsetenv("LLMPRUNE_DATA_DIR");
}

TEST(DatasetAssets, Wikitext2) {
  LLMPRUNE_REQUIRE_ASSET("data/wikitext2/wikitext2_test_hfjoin.txt");
  std::string text = load_eval_text("wikitext2", test::asset("data"));
  // "\n\n".join(rows): rows[0] is "" and rows[1] " = Robert Boulter = \n", so the string
  // opens with "\n\n" (od -c of the file); 1296370 bytes (wc -c).
  const std::string start = "\n\n = Robert Boulter = \n\n\n\n\n Robert Boulter is an English film";
  EXPECT_EQ(text.substr(0, start.size()), start);
  EXPECT_EQ(text.size(), 1296370u);
}

TEST(DatasetAssets, Ptb) {
  LLMPRUNE_REQUIRE_ASSET("data/ptb/ptb.test.txt");
  std::string desc;
  std::string text = load_eval_text("ptb", test::asset("data"), &desc);
  // Python: t = " ".join(l.strip() for l in open("ptb.test.txt")) -> 3761 rows,
  // len(t.encode()) == 442420, t.startswith("no it wasn't black monday").
  EXPECT_EQ(text.size(), 442420u);
  EXPECT_EQ(text.substr(0, 25), "no it wasn't black monday");
  EXPECT_EQ(text.substr(text.size() - 11), "ere with us");
  EXPECT_NE(desc.find("3761 lines"), std::string::npos) << desc;
}

TEST(DatasetAssets, C4Samples) {
  LLMPRUNE_REQUIRE_ASSET("data/c4/redpajama_sample_c4-rp1.jsonl");
  std::string desc;
  std::string text = load_eval_text("c4", test::asset("data"), &desc);
  // Python: "\n\n".join(json.loads(l)["text"] for l in f) -> 1000 docs, 2202105 UTF-8 bytes.
  EXPECT_EQ(text.size(), 2202105u);
  EXPECT_EQ(text.substr(0, 45), "Beginners BBQ Class Taking Place in Missoula!");
  EXPECT_NE(desc.find("C4 samples (1000 documents of redpajama_sample_c4-rp1.jsonl), not the C4 "
                      "validation set"),
            std::string::npos)
      << desc;
}

TEST(DatasetAssets, C4DemoJson) {
  LLMPRUNE_REQUIRE_ASSET("data/c4/c4_demo.json");
  std::string desc;
  load_eval_text(test::asset("data/c4/c4_demo.json"), "", &desc);
  EXPECT_NE(desc.find("300 JSON texts"), std::string::npos) << desc;  // 300 documents (README)
}

}  // namespace
}  // namespace llmprune
