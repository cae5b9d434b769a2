// OPT depth pruning end to end: `prune depth --plan` on OPT checkpoints writes folders that
// transformers' OPTForCausalLM loads with our logits (tests/fixtures/opt/depth_reference.json,
// made by make_depth_reference.py there), and a "decoder.*" source restores exactly.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <iostream>

#include "arch/registry.h"
#include "io/safetensors.h"
#include "model/causal_lm.h"
#include "opt_fixtures.h"
#include "support/assets.h"
#include "util/json.h"

using namespace llmprune;
using test::kOptFixtures;

namespace {

// `llmprune prune depth --plan` on `src`, then our logits of the written model against
// transformers' OPTForCausalLM on the same folder (depth_reference.json; the script that made
// it also checked that transformers gives the source model with those layers deleted, to 0.0).
void check_depth_export(const std::string& case_name, const std::string& src) {
  const json ref = read_json_file(kOptFixtures + "depth_reference.json").at(case_name);
  const std::string tmp = test::temp_dir("opt_depth");
  auto r = test::run_llmprune("-q prune depth --model " + src + " --plan " + kOptFixtures +
                              ref.at("plan").get<std::string>() + " --out " + tmp + "/A" +
                              " --bundles-dir " + tmp + "/bundles");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json config = read_json_file(tmp + "/A/config.json");
  EXPECT_EQ(config.at("num_hidden_layers"), ref.at("num_hidden_layers"));
  EXPECT_FALSE(config.contains("llmprune"));  // whole layers: a stock OPT config
  auto model = CausalLM::load(tmp + "/A");
  torch::NoGradGuard ng;
  auto ids = ref.at("ids").get<std::vector<int64_t>>();
  auto logits = model->forward(torch::tensor(ids, torch::kLong).unsqueeze(0))[0];
  double worst = 0;
  for (size_t t = 0; t < ids.size(); ++t)
    worst = std::max(
        worst, test::max_abs_diff(
                   logits[static_cast<int64_t>(t)],
                   torch::tensor(ref.at("logits")[t].get<std::vector<double>>(), torch::kDouble)));
  std::cout << case_name << " depth-pruned: max |dlogit| vs transformers " << worst << "\n";
  EXPECT_LT(worst, 1e-4);  // float32 vs float64, as for the unpruned references
}

}  // namespace

TEST(OptDepth, PostLnExportLoadsInTransformersWithEqualLogits) {
  check_depth_export("postln-proj", kOptFixtures + "postln-proj");
}

TEST(OptDepth, OptTinyExportLoadsInTransformersWithEqualLogits) {
  LLMPRUNE_REQUIRE_ASSET("models/opt-tiny/model.safetensors");
  check_depth_export("opt-tiny", test::asset("models/opt-tiny"));
}

// A "decoder.*" checkpoint with a stored lm_head: prune depth writes canonical names, and
// restoring the bundle gives back every source tensor bit for bit.
TEST(OptDepth, PrefixlessSourcePrunesAndRestoresExactly) {
  const std::string tmp = test::temp_dir("opt_restore"), src = kOptFixtures + "preln-gelu";
  auto r = test::run_llmprune("-q prune depth --model " + src + " --plan " + kOptFixtures +
                              "plan_drop_layer_0.json --out " + tmp + "/A --bundles-dir " + tmp +
                              "/bundles");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const auto& name : TensorStore::open(tmp + "/A").names())
    EXPECT_TRUE(name.rfind("model.decoder.", 0) == 0 || name == "lm_head.weight") << name;
  r = test::run_llmprune("-q restore --model " + tmp + "/A --bundle " + tmp + "/bundles/B --out " +
                         tmp + "/R");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  TensorStore restored = TensorStore::open(tmp + "/R"), source = TensorStore::open(src);
  ASSERT_EQ(restored.names().size(), source.names().size());
  for (const auto& name : source.names())
    EXPECT_TRUE(torch::equal(restored.load(opt_family().canonical_name(name)), source.load(name)))
        << name;
}
