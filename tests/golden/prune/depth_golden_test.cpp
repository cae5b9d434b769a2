// Depth pruning of the real stories260K against transformers (reference_transformers.json,
// made by make_reference.py beside this file): the model with layers 2 and 3 removed loads in
// transformers' AutoModelForCausalLM and gives the same perplexity as `llmprune eval`; the model
// with the attention of layer 1 and the MLP of layer 3 dropped gives the perplexity of the
// source run in transformers with those sub-blocks made pass-throughs. Restoring both bundles
// gives llama.cpp's perplexity of the source (reference/stories260K/ppl_w128.json: 5.978406).
#include <gtest/gtest.h>

#include "support/assets.h"
#include "util/fs.h"
#include "util/json.h"

using namespace llmprune;

namespace {

const std::string kHere = std::string(LLMPRUNE_SOURCE_DIR) + "/tests/golden/prune/";

double eval_ppl(const std::string& model, const std::string& report) {
  auto r = test::run_llmprune("-q eval --model " + model + " --dataset " +
                              test::asset("reference/stories260K/ppl_text.txt") +
                              " --seq-len 128 --report " + report);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return read_json_file(report).at("ppl").get<double>();
}

}  // namespace

TEST(DepthGolden, PrunedModelsMatchTransformersAndRestoreMatchesLlamaCpp) {
  LLMPRUNE_REQUIRE_ASSET("models/stories260K-hf/config.json");
  const json ref = read_json_file(kHere + "reference_transformers.json");
  const std::string src = test::asset("models/stories260K-hf");
  const std::string tmp = test::temp_dir("depth_golden");
  struct Case {
    const char* plan;
    const char* key;
  };
  for (const Case c : {Case{"plan_stories260K_drop_2_3.json", "drop_layers_2_3"},
                       Case{"plan_stories260K_drop_attn_1_mlp_3.json", "skip_attn_1_mlp_3"}}) {
    const std::string out = tmp + "/" + c.key;
    auto r = test::run_llmprune("-q prune depth --model " + src + " --plan " + kHere + c.plan +
                                " --out " + out + "/A --bundles-dir " + out + "/bundles");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const double got = eval_ppl(out + "/A", out + "/eval.json");
    const double want = ref.at(c.key).at("ppl").get<double>();
    // Both sides compute in fp32 (different kernels): 1e-5 relative.
    EXPECT_NEAR(got, want, 1e-5 * want) << c.key;
    EXPECT_EQ(read_json_file(out + "/eval.json").at("scored_tokens"), ref.at(c.key).at("scored"));
    auto rr =
        test::run_llmprune("-q restore --model " + out + "/A --bundle " + out +
                           "/bundles/B --bundle " + out + "/bundles/C --out " + out + "/FULL");
    ASSERT_EQ(rr.exit_code, 0) << rr.err;
    // llama.cpp's PPL of the unpruned model (reference/stories260K/ppl_w128.json).
    EXPECT_NEAR(eval_ppl(out + "/FULL", out + "/full.json"), 5.978406, 1e-3 * 5.978406);
  }
}
