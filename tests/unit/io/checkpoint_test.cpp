// save_checkpoint: what a saved folder holds, atomicity (a failure leaves nothing),
// overwrite rules, tokenizer copying.
#include <gtest/gtest.h>

#include <filesystem>

#include "io/checkpoint.h"
#include "io_test_util.h"
#include "support/assets.h"
#include "util/fs.h"

namespace llmprune {
namespace {
namespace fs = std::filesystem;

const json kConfig = {{"model_type", "llama"}, {"hidden_size", 8}};

NamedTensors small_weights() {
  return {{"model.norm.weight", torch::ones({8})}, {"lm_head.weight", torch::randn({4, 8})}};
}

// Entries of `dir` (names), to check nothing else was left behind.
std::vector<std::string> listing(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

TEST(Checkpoint, SavesConfigAndWeights) {
  std::string root = test::temp_dir("ckpt");
  std::string out = root + "/pruned";
  NamedTensors w = small_weights();
  save_checkpoint(out, kConfig, w);
  EXPECT_EQ(listing(out), (std::vector<std::string>{"config.json", "model.safetensors"}));
  EXPECT_EQ(read_json_file(out + "/config.json"), kConfig);
  TensorStore s = TensorStore::open(out);
  for (const auto& [n, t] : w) EXPECT_TRUE(test::bit_equal(s.load(n), t)) << n;
  EXPECT_EQ(listing(root), std::vector<std::string>{"pruned"}) << "no .partial left";
}

TEST(Checkpoint, ShardsWhenAsked) {
  std::string out = test::temp_dir("ckpt") + "/m";
  SaveOptions o;
  o.max_shard_bytes = 100;  // norm 32 bytes, lm_head 128 bytes -> two shards
  save_checkpoint(out, kConfig, small_weights(), o);
  EXPECT_EQ(listing(out), (std::vector<std::string>{
                              "config.json", "model-00001-of-00002.safetensors",
                              "model-00002-of-00002.safetensors", "model.safetensors.index.json"}));
  EXPECT_EQ(TensorStore::open(out).names().size(), 2u);
}

TEST(Checkpoint, FailureLeavesNothing) {
  std::string root = test::temp_dir("ckpt");
  // An unsupported dtype makes the writer throw after config.json was written.
  NamedTensors bad = {{"a", torch::ones({2})}, {"z", torch::ones({2}, torch::kInt32)}};
  test::expect_bad_input([&] { save_checkpoint(root + "/m", kConfig, bad); }, {"tensor z"});
  EXPECT_TRUE(listing(root).empty()) << "left behind: " << listing(root).size() << " entries";
  // Same with an existing good model and overwrite: the old one stays intact.
  save_checkpoint(root + "/m", kConfig, small_weights());
  SaveOptions o;
  o.overwrite = true;
  EXPECT_THROW(save_checkpoint(root + "/m", kConfig, bad, o), Error);
  EXPECT_EQ(listing(root), std::vector<std::string>{"m"});
  EXPECT_EQ(TensorStore::open(root + "/m").names().size(), 2u);
}

TEST(Checkpoint, OverwriteRules) {
  std::string root = test::temp_dir("ckpt");
  std::string out = root + "/m";
  save_checkpoint(out, kConfig, small_weights());
  test::expect_bad_input([&] { save_checkpoint(out, kConfig, small_weights()); },
                         {out, "already exists", "--overwrite"});
  SaveOptions o;
  o.overwrite = true;
  json cfg2 = kConfig;
  cfg2["hidden_size"] = 9;
  save_checkpoint(out, cfg2, {{"x", torch::zeros({1})}}, o);
  EXPECT_EQ(read_json_file(out + "/config.json")["hidden_size"], 9);
  EXPECT_EQ(TensorStore::open(out).names(), std::vector<std::string>{"x"});
  // --overwrite never replaces a folder that is not a model, nor a file.
  fs::create_directories(root + "/notes");
  test::write_bytes(root + "/notes/todo.txt", "keep me");
  test::expect_bad_input([&] { save_checkpoint(root + "/notes", kConfig, small_weights(), o); },
                         {root + "/notes", "no config.json", "refusing"});
  EXPECT_EQ(read_file(root + "/notes/todo.txt"), "keep me");
  test::write_bytes(root + "/file", "x");
  test::expect_bad_input([&] { save_checkpoint(root + "/file", kConfig, small_weights(), o); },
                         {"not a folder"});
  // An empty folder may be replaced.
  fs::create_directories(root + "/empty");
  save_checkpoint(root + "/empty", kConfig, small_weights(), o);
  EXPECT_TRUE(fs::exists(root + "/empty/model.safetensors"));
  // Parent folders are created.
  save_checkpoint(root + "/a/b/c", kConfig, small_weights());
  EXPECT_TRUE(fs::exists(root + "/a/b/c/config.json"));
}

TEST(Checkpoint, CopiesTokenizerFilesThatExist) {
  std::string root = test::temp_dir("ckpt");
  std::string src = root + "/src";
  fs::create_directories(src);
  test::write_bytes(src + "/tokenizer.json", "{\"tok\": 1}");
  test::write_bytes(src + "/merges.txt", "a b\n");
  test::write_bytes(src + "/generation_config.json", "{}");
  test::write_bytes(src + "/model.safetensors", "not copied");
  test::write_bytes(src + "/README.md", "not copied");
  SaveOptions o;
  o.copy_tokenizer_from = src;
  save_checkpoint(root + "/out", kConfig, small_weights(), o);
  EXPECT_EQ(listing(root + "/out"),
            (std::vector<std::string>{"config.json", "generation_config.json", "merges.txt",
                                      "model.safetensors", "tokenizer.json"}));
  EXPECT_EQ(read_file(root + "/out/tokenizer.json"), "{\"tok\": 1}");
  o.copy_tokenizer_from = root + "/nope";
  test::expect_bad_input([&] { save_checkpoint(root + "/out2", kConfig, small_weights(), o); },
                         {root + "/nope", "not a folder"});
  EXPECT_FALSE(fs::exists(root + "/out2"));
}

TEST(Checkpoint, RealModelTokenizerCopied) {
  LLMPRUNE_REQUIRE_ASSET("models/stories260K-hf/tokenizer.json");
  std::string src = test::asset("models/stories260K-hf");
  std::string out = test::temp_dir("ckpt") + "/m";
  TensorStore in = TensorStore::open(src);
  NamedTensors all;
  for (const auto& n : in.names()) all.emplace_back(n, in.load(n));
  SaveOptions o;
  o.copy_tokenizer_from = src;
  save_checkpoint(out, read_json_file(src + "/config.json"), all, o);
  // The stories260K folder holds these four tokenizer-side files (see its listing).
  for (const char* f : {"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
                        "generation_config.json"})
    EXPECT_EQ(read_file(out + "/" + f), read_file(src + "/" + f)) << f;
  EXPECT_EQ(TensorStore::open(out).total_bytes(), in.total_bytes());
}

}  // namespace
}  // namespace llmprune
