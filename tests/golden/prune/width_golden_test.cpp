// Width pruning of the real stories260K, qwen2-tiny (7:1, q/k/v biases) and phi3-tiny (fused
// qkv / gate_up) against transformers (reference_width.json, made by make_width_reference.py
// beside this file): each hand-made plan applied by `prune width --plan` gives the perplexity
// of the source run in transformers with the plan's groups zeroed; the uniform and the
// hidden-pruned stories260K results also loaded as is in AutoModelForCausalLM (stock config,
// compensated rms_norm_eps) with that same perplexity.
#include <gtest/gtest.h>

#include "support/assets.h"
#include "util/fs.h"
#include "util/json.h"

using namespace llmprune;

namespace {
const std::string kHere = std::string(LLMPRUNE_SOURCE_DIR) + "/tests/golden/prune/";
}  // namespace

TEST(WidthGolden, PrunedModelsMatchMaskedSourcesInTransformers) {
  LLMPRUNE_REQUIRE_ASSET("models/stories260K-hf/config.json");
  LLMPRUNE_REQUIRE_ASSET("models/qwen2-tiny/config.json");
  LLMPRUNE_REQUIRE_ASSET("models/phi3-tiny/config.json");
  const json ref = read_json_file(kHere + "reference_width.json");
  const std::string tmp = test::temp_dir("width_golden");
  struct Case {
    const char* model;
    const char* plan;
  };
  for (const Case c : {Case{"stories260K-hf", "width_stories260K_uniform.json"},
                       Case{"stories260K-hf", "width_stories260K_mixed.json"},
                       Case{"stories260K-hf", "width_stories260K_hidden.json"},
                       Case{"qwen2-tiny", "width_qwen2-tiny.json"},
                       Case{"phi3-tiny", "width_phi3-tiny.json"}}) {
    const std::string out = tmp + "/" + c.plan;
    auto r = test::run_llmprune("-q prune width --model " + test::asset(std::string("models/") + c.model) +
                                " --plan " + kHere + c.plan + " --out " + out);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    auto e = test::run_llmprune("-q eval --model " + out + " --dataset " +
                                test::asset("reference/stories260K/ppl_text.txt") +
                                " --seq-len 128 --report " + out + ".json");
    ASSERT_EQ(e.exit_code, 0) << e.err;
    const json got = read_json_file(out + ".json");
    const double want = ref.at(c.plan).at("ppl").get<double>();
    // Both sides compute in fp32 (different kernels): 1e-5 relative.
    EXPECT_NEAR(got.at("ppl").get<double>(), want, 1e-5 * want) << c.plan;
    EXPECT_EQ(got.at("scored_tokens"), ref.at(c.plan).at("scored")) << c.plan;
  }
  // The uniform result has stock keys only, the shape transformers read from them.
  const json cfg = read_json_file(tmp + "/width_stories260K_uniform.json/config.json");
  const json& loaded = ref.at("width_stories260K_uniform.json").at("loaded_pruned");
  EXPECT_FALSE(cfg.contains("llmprune"));
  EXPECT_EQ(cfg.at("num_attention_heads"), loaded.at("num_attention_heads"));
  EXPECT_EQ(cfg.at("num_key_value_heads"), loaded.at("num_key_value_heads"));
  EXPECT_EQ(cfg.at("intermediate_size"), loaded.at("intermediate_size"));
  const json hcfg = read_json_file(tmp + "/width_stories260K_hidden.json/config.json");
  const json& hl = ref.at("width_stories260K_hidden.json").at("loaded_pruned");
  EXPECT_FALSE(hcfg.contains("llmprune"));
  EXPECT_EQ(hcfg.at("hidden_size"), hl.at("hidden_size"));  // 64 - 16
  // 1e-5 x 64 / 48, as transformers read it back.
  EXPECT_DOUBLE_EQ(hcfg.at("rms_norm_eps").get<double>(), hl.at("rms_norm_eps").get<double>());
}
