// The model-facing CLI commands end to end: make-test-model (hidden) and inspect, including
// inspect's exit code 2 and one-line error on an inconsistent checkpoint.
#include <gtest/gtest.h>

#include <fstream>

#include "support/assets.h"
#include "util/json.h"

using namespace llmprune;

TEST(Cli, MakeTestModelThenInspect) {
  const std::string dir = test::temp_dir("cli") + "/tiny";
  auto r = test::run_llmprune("make-test-model --family phi3 --out " + dir +
                              " --layers 2 --hidden 32 --heads 4 --kv-heads 2");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string report = test::temp_dir("cli") + "/inspect.json";
  r = test::run_llmprune("inspect --model " + dir + " --report " + report);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("family      phi3"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("0-1       attn 4 heads / 2 kv x 8; mlp 64"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("consistency ok"), std::string::npos) << r.out;
  json j = read_json_file(report);
  // 2 layers x (qkv 64x32 + o 32x32 + gate_up 128x32 + down 32x64 + 2 norms of 32)
  // + embed 128x32 + lm_head 128x32 + final norm 32 (the hand count of the defaults).
  const int64_t per_layer = 64 * 32 + 32 * 32 + 128 * 32 + 32 * 64 + 2 * 32;
  EXPECT_EQ(j["parameters"]["total"].get<int64_t>(), 2 * per_layer + 2 * 128 * 32 + 32);
  EXPECT_EQ(j["parameters"]["norms"].get<int64_t>(), 2 * 2 * 32 + 32);
  EXPECT_EQ(j["family"], "phi3");
}

TEST(Cli, InspectRefusesQwen2LabelledLlamaWithExitCode2) {
  const std::string dir = test::temp_dir("cli") + "/trap";
  ASSERT_EQ(test::run_llmprune("make-test-model --family qwen2 --out " + dir).exit_code, 0);
  json c = read_json_file(dir + "/config.json");
  c["model_type"] = "llama";
  c["architectures"] = {"LlamaForCausalLM"};
  std::ofstream(dir + "/config.json") << c.dump();
  auto r = test::run_llmprune("inspect --model " + dir);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("qwen2-style q/k/v biases"), std::string::npos) << r.err;
  r = test::run_llmprune("inspect --model " + dir + "/nope");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("no such directory"), std::string::npos) << r.err;
}

TEST(Cli, MakeTestModelIsHiddenFromHelp) {
  auto r = test::run_llmprune("--help");
  EXPECT_EQ(r.out.find("make-test-model"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("inspect"), std::string::npos) << r.out;
}
