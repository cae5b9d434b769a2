// `prune width` end to end (library and binary): for every importance x selection x unit on
// GQA 4:1 llama, 7:1 qwen2 with biases, fused phi3 and MHA mistral, the written model's logits
// equal the source's with the same groups zeroed (the plan's groups, masked independently of
// the slicing code's layout); a keep-all plan writes the source bit for bit; --uniform-shape
// writes a stock config; the bad-input table exits 2 with one error line and writes nothing.
#include <gtest/gtest.h>

#include <filesystem>
#include <sstream>

#include "apply/width_apply.h"
#include "model/causal_lm.h"
#include "prune/width_job.h"
#include "prune_fixtures.h"

using namespace llmprune;
namespace fs = std::filesystem;

namespace {

struct Shape {
  const char* family;
  int64_t heads, kv_heads;
};

std::string make_model(const std::string& root, const Shape& s) {
  SyntheticOptions o = test::prune_model_options(4);
  o.heads = s.heads;
  o.kv_heads = s.kv_heads;
  o.head_dim = 4;
  o.hidden = 32;
  const std::string dir = root + "/src";
  make_test_model(s.family, dir, o);
  write_file_atomic(join_path(dir, "tokenizer.json"), byte_level_tokenizer_json());
  return dir;
}

WidthJobOptions job(const std::string& model, const std::string& out, const std::string& text) {
  WidthJobOptions j;
  j.model = model;
  j.out = out;
  j.calib.dataset = text;
  j.calib.nsamples = 4;
  j.calib.seqlen = 24;
  j.calib.batch_size = 2;
  j.importance.progress = false;
  j.importance.gradient_batch_size = 2;
  j.overwrite = true;
  return j;
}

// Logits of the written model vs the source with the plan's groups zeroed.
double slice_vs_mask(const std::string& src, const std::string& out) {
  const CheckpointConfig cc = read_checkpoint_config(src);
  const PrunePlan plan = PrunePlan::from_json(read_json_file(out + "/prune_plan.json"), "plan");
  NamedTensors masked = test::load_all(src);
  mask_width(*cc.family, cc.spec, full_cut(cc.spec, plan), masked);
  auto a = CausalLM::load(out);
  auto b = CausalLM::from_tensors(cc.spec, masked);
  torch::manual_seed(11);
  torch::Tensor ids = torch::randint(std::min<int64_t>(257, cc.spec.vocab_size), {2, 20}, torch::kLong);
  torch::NoGradGuard ng;
  return (a->forward(ids) - b->forward(ids)).abs().max().item<double>();
}

}  // namespace

class WidthJobShapes : public ::testing::TestWithParam<Shape> {};

TEST_P(WidthJobShapes, EveryCombinationSlicesLikeMasking) {
  const Shape s = GetParam();
  const std::string root = test::temp_dir(std::string("width_job_") + s.family);
  const std::string src = make_model(root, s);
  const std::string text = test::calibration_text(root, 2000);
  const bool mha = s.heads == s.kv_heads;
  for (const char* importance : {"magnitude", "wanda", "taylor", "taylor2"})
    for (const char* selection : {"uniform", "global", "hgsp"})
      for (const char* unit : {"kv-group", "q-head", "kv-group+hidden"}) {
        const bool hidden = std::string(unit) == "kv-group+hidden";
        if (mha && std::string(unit) == "q-head") continue;  // one query head per group
        if (hidden && std::string(s.family) == "opt") continue;  // LayerNorm: refused
        WidthJobOptions j = job(src, root + "/out", text);
        j.importance.method = importance;
        j.request.selection = selection;
        j.request.unit = hidden ? "kv-group" : unit;
        j.request.hidden = hidden;
        j.request.ratio = 0.3;
        const json report = run_width_job(j);
        const std::string what = std::string(importance) + "/" + selection + "/" + unit;
        if (hidden) {  // round(0.7 x 32) = 22 channels kept
          EXPECT_EQ(report.at("analysis").at("hidden_size").at("after"), 22) << what;
        }
        EXPECT_GT(report.at("analysis").at("removed_parameters").get<int64_t>(), 0) << what;
        EXPECT_LT(slice_vs_mask(src, root + "/out"), 1e-5) << what;
      }
}

INSTANTIATE_TEST_SUITE_P(Shapes, WidthJobShapes,
                         ::testing::Values(Shape{"llama", 8, 2}, Shape{"qwen2", 14, 2},
                                           Shape{"phi3", 8, 4}, Shape{"mistral", 4, 4},
                                           Shape{"opt", 4, 4}),
                         [](const auto& info) { return std::string(info.param.family); });

TEST(WidthJob, KeepAllPlanWritesTheSourceBitForBit) {
  const std::string root = test::temp_dir("width_keep_all");
  const std::string src = make_model(root, {"qwen2", 14, 2});
  PrunePlan p;
  p.kind = "width";
  p.method = "hand";
  p.family = "qwen2";
  p.source_layers = 4;
  write_json_file(root + "/plan.json", p.to_json());
  WidthJobOptions j = job(src, root + "/out", "");
  j.plan_file = root + "/plan.json";
  run_width_job(j);
  const NamedTensors a = test::load_all(src), b = test::load_all(root + "/out");
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].first, b[i].first);
    EXPECT_TRUE(torch::equal(a[i].second, b[i].second)) << a[i].first;
  }
  json c = read_json_file(root + "/out/config.json"), o = read_json_file(src + "/config.json");
  c.erase("torch_dtype");
  o.erase("torch_dtype");
  EXPECT_EQ(c, o);
}

// --uniform-shape: stock keys only (no "llmprune" block), read back through the stock-config
// path with the same logits as the masked source.
TEST(WidthJob, UniformShapeWritesAStockConfig) {
  const std::string root = test::temp_dir("width_uniform");
  const std::string src = make_model(root, {"llama", 8, 2});
  WidthJobOptions j = job(src, root + "/out", test::calibration_text(root, 2000));
  j.request.uniform_shape = true;
  j.request.mlp = false;  // attention only: 40 % of it needs one KV group of every layer
  j.request.ratio = 0.4;
  run_width_job(j);
  const json c = read_json_file(root + "/out/config.json");
  EXPECT_FALSE(c.contains("llmprune"));
  EXPECT_EQ(c.at("num_key_value_heads"), 1);  // 4:1, one of two KV groups left
  EXPECT_EQ(c.at("num_attention_heads"), 4);
  EXPECT_EQ(c.at("head_dim"), 4);             // explicit: hidden / heads is no longer 4
  EXPECT_EQ(c.at("intermediate_size"), 48);
  EXPECT_LT(slice_vs_mask(src, root + "/out"), 1e-5);
}

TEST(CliWidth, WritesModelAnalysisAndReport) {
  const std::string root = test::temp_dir("cli_width_ok");
  const std::string src = make_model(root, {"llama", 8, 2});
  const std::string text = test::calibration_text(root, 3000);
  auto r = test::run_llmprune("prune width --model " + src + " --dataset " + text +
                              " --nsamples 4 --seqlen 32 --ratio 0.25 --importance wanda"
                              " --selection hgsp --unit q-head --out " + root + "/out --eval " +
                              text + " --eval-seq-len 64 --report " + root + "/r.json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* f : {"config.json", "model.safetensors", "tokenizer.json", "manifest.json",
                        "prune_plan.json", "original_config/config.json",
                        "analysis/pruning_analysis.json", "analysis/global_group_table.csv",
                        "analysis/kept_fraction.svg", "analysis/group_scores.svg",
                        "logs/prune_width.json", "logs/eval.json"})
    EXPECT_TRUE(fs::exists(root + "/out/" + f)) << f;
  const json rep = read_json_file(root + "/r.json");
  EXPECT_GT(rep.at("ppl_after").at("ppl").get<double>(), 0);
  EXPECT_EQ(rep.at("plan").at("method"), "wanda/hgsp");
  EXPECT_EQ(read_json_file(root + "/out/manifest.json").at("format"), "llmprune-width");
}

TEST(CliWidth, BadInputTable) {
  const std::string root = test::temp_dir("cli_width_bad");
  const std::string src = make_model(root, {"llama", 8, 2});
  const std::string base = "prune width --model " + src + " --dataset " +
                           test::calibration_text(root, 2000) +
                           " --nsamples 2 --seqlen 16 --out " + root + "/out ";
  test::expect_bad_input(test::run_llmprune(base + "--ratio 0"), "--ratio must be in (0, 1), got 0");
  test::expect_bad_input(test::run_llmprune(base + "--ratio 1.5"), "--ratio must be in (0, 1)");
  test::expect_bad_input(test::run_llmprune(base + "--ratio 0.99"), "unattainable under the constraints: at most");
  test::expect_bad_input(test::run_llmprune(base + "--freeze-first-n-layers 2 --freeze-last-n-layers 2"),
                   "every layer is frozen");
  test::expect_bad_input(test::run_llmprune(base + "--round-to 100"), "--round-to 100 is larger than layer 0's MLP width 48");
  test::expect_bad_input(test::run_llmprune(base + "--importance fisher"), "--importance must be");
  test::expect_bad_input(test::run_llmprune(base + "--selection best"), "--selection must be");
  test::expect_bad_input(test::run_llmprune(base + "--unit head"), "--unit must be");
  test::expect_bad_input(test::run_llmprune(base + "--attn-layers 3-1 --selection uniform"), "--attn-layers must be A-B");
  test::expect_bad_input(test::run_llmprune(base + "--prune-hidden --freeze-last-n-layers 1"),
                   "--prune-hidden changes every layer");
  EXPECT_FALSE(fs::exists(root + "/out"));
  for (const auto& e : fs::directory_iterator(root))
    EXPECT_EQ(e.path().filename().string().find(".partial"), std::string::npos) << e.path();
}

// The real checkpoints: every importance x selection x unit (and --prune-hidden) runs on
// stories260K (GQA 8/4), qwen2-tiny (7:1, biases) and phi3-tiny (fused) and writes a model that
// loads and computes the source with the plan's groups zeroed (1e-4: real weights, fp32).
TEST(WidthAssets, EveryCombinationGivesALoadableModel) {
  LLMPRUNE_REQUIRE_ASSET("models/stories260K-hf/config.json");
  LLMPRUNE_REQUIRE_ASSET("models/qwen2-tiny/config.json");
  LLMPRUNE_REQUIRE_ASSET("models/phi3-tiny/config.json");
  const std::string root = test::temp_dir("width_assets");
  const std::string text = test::asset("reference/stories260K/ppl_text.txt");
  for (const char* model : {"stories260K-hf", "qwen2-tiny", "phi3-tiny"})
    for (const char* importance : {"magnitude", "wanda", "taylor", "taylor2"})
      for (const char* selection : {"uniform", "global", "hgsp"})
        for (const char* unit : {"kv-group", "q-head", "hidden"}) {
          const std::string src = test::asset(std::string("models/") + model);
          WidthJobOptions j = job(src, root + "/out", text);
          j.calib.seqlen = 64;
          j.importance.method = importance;
          j.request.selection = selection;
          j.request.unit = std::string(unit) == "q-head" ? "q-head" : "kv-group";
          j.request.hidden = std::string(unit) == "hidden";
          j.request.ratio = 0.2;
          const std::string what = std::string(model) + " " + importance + "/" + selection + "/" + unit;
          ASSERT_NO_THROW(run_width_job(j)) << what;
          EXPECT_LT(slice_vs_mask(src, root + "/out"), 1e-4) << what;
        }
}
