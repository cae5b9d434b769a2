// `llmprune heal` end to end on a tiny model, `eval --adapter`, and its bad-input table (one
// line, exit 2, nothing written).
#include <gtest/gtest.h>

#include <algorithm>

#include "../prune/prune_fixtures.h"

using namespace llmprune;

namespace {
std::string text_file(const std::string& dir) {
  std::string s;
  for (int i = 0; i < 40; ++i) s += "the cat sat on the mat number " + std::to_string(i) + ". ";
  write_file_atomic(dir + "/train.txt", s);
  return dir + "/train.txt";
}
}  // namespace

TEST(HealCli, WritesAdapterLogAndCurveAndEvalUsesIt) {
  const std::string root = test::temp_dir("heal_cli");
  const std::string model = test::make_prune_model("llama", root + "/m", 2);
  const std::string data = text_file(root);
  auto r = test::run_llmprune("-q heal --model " + model + " --data " + data + " --out " + root +
                              "/a --seq-len 32 --targets attn --lora-r 2 --max-steps 3 "
                              "--val-fraction 0.2 --merged-out " +
                              root + "/merged --report " + root + "/r.json --log " + root +
                              "/log.jsonl");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* f :
       {"adapter_config.json", "adapter_model.safetensors", "train_log.jsonl", "loss_curve.svg"})
    EXPECT_TRUE(path_exists(root + "/a/" + f)) << f;
  const json rep = read_json_file(root + "/r.json");
  EXPECT_EQ(rep.at("steps"), 3);
  EXPECT_EQ(rep.at("lora").at("targets"), json({"k_proj", "o_proj", "q_proj", "v_proj"}));
  const std::string log = read_file(root + "/log.jsonl");
  EXPECT_EQ(std::count(log.begin(), log.end(), '\n'), 3);
  EXPECT_NE(log.find("\"grad_norm\""), std::string::npos);
  EXPECT_TRUE(path_exists(root + "/merged/model.safetensors"));

  // eval with the adapter == eval of the merged model (same PPL to the printed digits).
  auto e1 = test::run_llmprune("-q eval --model " + model + " --adapter " + root + "/a --dataset " +
                               data + " --seq-len 32");
  auto e2 =
      test::run_llmprune("-q eval --model " + root + "/merged --dataset " + data + " --seq-len 32");
  auto e0 = test::run_llmprune("-q eval --model " + model + " --dataset " + data + " --seq-len 32");
  ASSERT_EQ(e1.exit_code, 0) << e1.err;
  EXPECT_EQ(e1.out, e2.out);
  EXPECT_NE(e1.out, e0.out);
}

TEST(HealCli, BadInputIsOneLineExit2AndWritesNothing) {
  const std::string root = test::temp_dir("heal_cli_bad");
  const std::string model = test::make_prune_model("llama", root + "/m", 2);
  const std::string data = text_file(root);
  const std::string base = "heal --model " + model + " --out " + root + "/a --max-steps 1 ";
  test::expect_bad_input(test::run_llmprune(base + "--data " + data + " --targets foo_proj"),
                         "unknown target module 'foo_proj'; valid: down_proj, gate_proj");
  test::expect_bad_input(test::run_llmprune(base + "--data " + data + " --seq-len 4096"),
                         "--seq-len 4096 exceeds the model's max_position_embeddings 256");
  write_file_atomic(root + "/empty.txt", "");
  test::expect_bad_input(test::run_llmprune(base + "--data " + root + "/empty.txt"), "empty.txt");
  write_file_atomic(root + "/bad.json", "[{\"instruction\": \"x\"}]");
  test::expect_bad_input(test::run_llmprune(base + "--data " + root + "/bad.json"),
                         "record 0: missing field \"output\"");
  test::expect_bad_input(test::run_llmprune(base + "--data " + data + " --preset nope"),
                         "unknown --preset 'nope'");
  EXPECT_FALSE(path_exists(root + "/a"));

  // An adapter made for another model (wider MLP): the tensor and both shapes.
  SyntheticOptions wide = test::prune_model_options(2);
  wide.intermediate = 64;
  make_test_model("llama", root + "/wide", wide);
  write_file_atomic(join_path(root + "/wide", "tokenizer.json"), byte_level_tokenizer_json());
  auto ok = test::run_llmprune("-q heal --model " + root + "/wide --data " + data + " --out " +
                               root + "/wa --targets mlp --lora-r 2 --max-steps 1 --seq-len 32");
  ASSERT_EQ(ok.exit_code, 0) << ok.err;
  test::expect_bad_input(test::run_llmprune("eval --model " + model + " --adapter " + root +
                                            "/wa --dataset " + data + " --seq-len 32"),
                         "has shape [2, 64] but this model needs [2, 48]");
}

// `prune depth|width ... --heal`: prune, heal the pruned model into --heal-out, and (width with
// --eval) report the perplexity after healing; --heal without --heal-data is refused before
// anything is written.
TEST(HealCli, PruneThenHeal) {
  const std::string root = test::temp_dir("heal_prune");
  const std::string model = test::make_prune_model("llama", root + "/m", 3);
  const std::string data = text_file(root);
  const std::string calib = " --dataset " + data + " --nsamples 4 --seqlen 32 --batch-size 2";
  auto d = test::run_llmprune("-q prune depth --model " + model + calib + " --n-drop 1 --out " +
                              root + "/D --bundles-dir " + root + "/B --heal --heal-data " + data +
                              " --heal-seq-len 32 --heal-max-steps 2 --heal-targets mlp --report " +
                              root + "/d.json");
  ASSERT_EQ(d.exit_code, 0) << d.err;
  EXPECT_TRUE(path_exists(root + "/D-heal/adapter_model.safetensors"));
  EXPECT_EQ(read_json_file(root + "/d.json").at("heal").at("steps"), 2);

  auto w =
      test::run_llmprune("-q prune width --model " + model + calib + " --ratio 0.2 --out " + root +
                         "/W --eval " + data + " --eval-seq-len 32 --heal --heal-data " + data +
                         " --heal-seq-len 32 --heal-max-steps 2 --heal-out " + root +
                         "/WA --heal-method full --heal-lr 1e-3 --report " + root + "/w.json");
  ASSERT_EQ(w.exit_code, 0) << w.err;
  const json rep = read_json_file(root + "/w.json");
  EXPECT_EQ(rep.at("heal").at("method"), "full");
  EXPECT_GT(rep.at("heal").at("eval_after_heal").at("ppl").get<double>(), 1.0);
  EXPECT_TRUE(path_exists(root + "/WA/model.safetensors"));

  test::expect_bad_input(
      test::run_llmprune("prune depth --model " + model + calib + " --n-drop 1 --out " + root +
                         "/X --bundles-dir " + root + "/XB --heal"),
      "--heal needs --heal-data FILE");
  EXPECT_FALSE(path_exists(root + "/X"));
}
