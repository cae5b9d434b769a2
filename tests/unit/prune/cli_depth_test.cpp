// `llmprune prune depth` and `llmprune restore` through the real binary: the files a user gets,
// and the bad-input table (each: exit 2, one "error:" line naming the problem, nothing written).
#include <gtest/gtest.h>

#include <filesystem>
#include <sstream>

#include "prune_fixtures.h"

using namespace llmprune;
namespace fs = std::filesystem;

namespace {

struct Fixture {
  std::string root, model, text;
};

Fixture fixture(const std::string& tag) {
  Fixture f;
  f.root = test::temp_dir(tag);
  f.model = test::make_prune_model("llama", f.root + "/model", 4);
  f.text = test::calibration_text(f.root, 3000);
  return f;
}

std::string calib(const Fixture& f) {
  return " --dataset " + f.text + " --nsamples 4 --seqlen 32 --batch-size 2";
}


}  // namespace

TEST(CliDepth, WritesModelBundlesAnalysisAndRestores) {
  Fixture f = fixture("cli_depth_ok");
  auto r = test::run_llmprune("prune depth --model " + f.model + calib(f) +
                              " --method angular --n-drop 2"
                              " --out " +
                              f.root + "/A --bundles-dir " + f.root + "/BUNDLES --report " +
                              f.root + "/report.json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* file :
       {"A/config.json", "A/model.safetensors", "A/tokenizer.json", "A/manifest.json",
        "A/layers_map.json", "A/prune_plan.json", "A/original_config/config.json",
        "A/analysis/analysis.json", "A/analysis/analysis.csv", "A/analysis/angular_distance.svg",
        "A/analysis/scores.svg", "BUNDLES/B/bundle_meta.json", "BUNDLES/C/bundle_meta.json",
        "report.json"})
    EXPECT_TRUE(fs::exists(f.root + "/" + file)) << file;
  json manifest = read_json_file(f.root + "/A/manifest.json");
  EXPECT_EQ(manifest.at("source").at("weights")[0].at("sha256").get<std::string>().size(), 64u);
  EXPECT_EQ(manifest.at("removed").size(), 2u);
  EXPECT_NE(manifest.at("command_line").get<std::string>().find("prune depth"), std::string::npos);
  json map = read_json_file(f.root + "/A/layers_map.json");
  EXPECT_EQ(map.at("layers").size(), 2u);
  json meta = read_json_file(f.root + "/BUNDLES/B/bundle_meta.json");
  EXPECT_EQ(meta.at("manifest_sha256"), map.at("manifest_sha256"));
  EXPECT_EQ(meta.at("units").size(), 1u);
  const int64_t b_layer = meta.at("units")[0].at("original_layer").get<int64_t>();
  char name[64];
  std::snprintf(name, sizeof name, "/BUNDLES/B/layer_%03lld.safetensors", (long long)b_layer);
  EXPECT_TRUE(fs::exists(f.root + name)) << name;
  // The pruned model evaluates, and restoring both bundles gives the source back.
  EXPECT_EQ(
      test::run_llmprune("eval --model " + f.root + "/A --dataset " + f.text + " --seq-len 64")
          .exit_code,
      0);
  auto rr =
      test::run_llmprune("restore --model " + f.root + "/A --bundle " + f.root +
                         "/BUNDLES/B --bundle " + f.root + "/BUNDLES/C --out " + f.root + "/FULL");
  ASSERT_EQ(rr.exit_code, 0) << rr.err;
  test::expect_same_tensors(f.model, f.root + "/FULL");
  // --dry-run prints the plan and writes no model; --plan applies it without calibrating.
  auto dr = test::run_llmprune("prune depth --model " + f.model + calib(f) +
                               " --method sleb --n-drop 1"
                               " --dry-run --save-plan " +
                               f.root + "/plan.json");
  ASSERT_EQ(dr.exit_code, 0) << dr.err;
  EXPECT_EQ(json::parse(dr.out), read_json_file(f.root + "/plan.json"));
  auto pr =
      test::run_llmprune("prune depth --model " + f.model + " --plan " + f.root +
                         "/plan.json --out " + f.root + "/A2 --bundles-dir " + f.root + "/B2");
  ASSERT_EQ(pr.exit_code, 0) << pr.err;
  EXPECT_EQ(read_json_file(f.root + "/A2/prune_plan.json").at("units"),
            read_json_file(f.root + "/plan.json").at("units"));
}

TEST(CliDepth, BadInputTable) {
  Fixture f = fixture("cli_depth_bad");
  const std::string outs = " --out " + f.root + "/A --bundles-dir " + f.root + "/BUNDLES";
  const std::string m = "prune depth --model " + f.model + calib(f);
  test::expect_bad_input(
      test::run_llmprune(m + " --method block-influence --n-drop 4 --no-keep-last-layer" + outs),
      "leaves no layer");
  test::expect_bad_input(test::run_llmprune(m + " --method angular --n-drop 3 --keep-first-layer" + outs),
                   "larger than the 2 removable layers");
  test::expect_bad_input(test::run_llmprune(m + " --method shortest" + outs),
                   "unknown depth method 'shortest'");
  write_file_atomic(f.root + "/short.txt", "only forty-odd bytes of calibration text");
  test::expect_bad_input(test::run_llmprune("prune depth --model " + f.model + " --dataset " + f.root +
                                      "/short.txt --seqlen 64 --nsamples 2" + outs + " --n-drop 1"),
                   "needs at least 64");
  test::expect_bad_input(
      test::run_llmprune(m + " --n-drop 1 --out " + f.model + "/A --bundles-dir " + f.root + "/B"),
      "inside (or contains) the source model folder");
  EXPECT_FALSE(fs::exists(f.root + "/A"));
  EXPECT_FALSE(fs::exists(f.root + "/BUNDLES"));
  EXPECT_FALSE(fs::exists(f.model + "/A"));
  // Bundles of another model.
  const std::string other = test::make_prune_model("llama", f.root + "/other", 4, /*seed=*/9);
  ASSERT_EQ(test::run_llmprune(m + " --n-drop 1" + outs).exit_code, 0);
  ASSERT_EQ(test::run_llmprune("prune depth --model " + other + calib(f) + " --n-drop 1 --out " +
                               f.root + "/OA --bundles-dir " + f.root + "/OB")
                .exit_code,
            0);
  test::expect_bad_input(test::run_llmprune("restore --model " + f.root + "/A --bundle " + f.root +
                                      "/OB/B --out " + f.root + "/R"),
                   "made from another model");
  EXPECT_FALSE(fs::exists(f.root + "/R"));
}
