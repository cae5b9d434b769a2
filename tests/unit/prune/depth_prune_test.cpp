// Depth pruning end to end through the library (prune/depth_job.h) on synthetic llama (GQA)
// and qwen2 (q/k/v biases) checkpoints with planted redundancy: layers made exact identities
// must be the ones removed. Also: a keep-all plan changes nothing, A + B + C restores the source
// bit for bit, A + B equals the source pruned of C's layers only, a model with sub-blocks
// dropped computes what the source computes with those sub-blocks skipped, and streaming
// gives the same plan and scores as in-memory.
#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "calib/runner.h"
#include "export/restore.h"
#include "model/causal_lm.h"
#include "plan/depth_planner.h"
#include "prune/depth_job.h"
#include "prune_fixtures.h"

using namespace llmprune;
namespace fs = std::filesystem;

namespace {

DepthJobOptions job(const std::string& model, const std::string& text, const std::string& method,
                    int64_t n_drop) {
  DepthJobOptions o;
  o.model = model;
  o.calib.dataset = text;
  o.calib.nsamples = 8;
  o.calib.seqlen = 32;
  o.calib.batch_size = 4;
  o.request.method = method;
  o.request.n_drop = n_drop;
  o.dry_run = true;
  return o;
}

std::set<std::pair<std::string, int64_t>> removed(const json& report) {
  std::set<std::pair<std::string, int64_t>> s;
  for (const json& u : report.at("plan").at("units"))
    s.insert({u.at("kind").get<std::string>(), u.at("layer").get<int64_t>()});
  return s;
}

using Units = std::set<std::pair<std::string, int64_t>>;

// Ancestral samples of the model itself: the full model has the lowest expected NLL on them
// (Gibbs' inequality), so removing any layer that computes something raises the calibration
// loss, while removing an identity layer leaves it exactly unchanged.
torch::Tensor own_samples(const std::string& dir, int64_t n, int64_t T) {
  auto m = CausalLM::load(dir);
  torch::NoGradGuard ng;
  auto gen = at::detail::createCPUGenerator(5);
  torch::Tensor ids = torch::full({n, 1}, 256, torch::kLong);
  for (int64_t t = 1; t < T; ++t) {
    auto p = torch::softmax(m->forward(ids).select(1, t - 1).to(torch::kDouble), -1);
    ids = torch::cat({ids, torch::multinomial(p, 1, true, gen)}, 1);
  }
  return ids;
}

}  // namespace

class DepthFamilies : public ::testing::TestWithParam<std::string> {};

TEST_P(DepthFamilies, PlantedIdentityBlockIsFoundByEveryMethod) {
  const std::string root = test::temp_dir("depth_planted_" + GetParam());
  const std::string base = test::make_prune_model(GetParam(), root + "/base", 6);
  const std::string planted = root + "/planted";
  test::plant_identity(base, planted, {2, 3}, {2, 3});  // layers 2 and 3 are identities
  const std::string text = test::calibration_text(root, 2000);
  for (const std::string method : {"angular", "block-influence"}) {
    json r = run_depth_job(job(planted, text, method, 2));
    EXPECT_EQ(removed(r), (Units{{"layer", 2}, {"layer", 3}})) << method;
  }
  DepthJobOptions it = job(planted, text, "block-influence", 2);
  it.request.iterative = true;
  EXPECT_EQ(removed(run_depth_job(it)), (Units{{"layer", 2}, {"layer", 3}})) << "iterative BI";
  json r = run_depth_job(job(planted, text, "angular", 2));
  EXPECT_NEAR(r.at("plan").at("units")[0].at("score").get<double>(), 0.0, 1e-7)
      << "an identity block has angular distance 0";

  // A zeroed o_proj only: that attention sub-block is an identity.
  const std::string attn = root + "/attn";
  test::plant_identity(base, attn, {4}, {});
  EXPECT_EQ(removed(run_depth_job(job(attn, text, "attn-drop", 1))), (Units{{"attn", 4}}));
  EXPECT_EQ(removed(run_depth_job(job(attn, text, "joint", 1))), (Units{{"attn", 4}}));
  const std::string mlp = root + "/mlp";
  test::plant_identity(base, mlp, {}, {1});
  EXPECT_EQ(removed(run_depth_job(job(mlp, text, "mlp-drop", 1))), (Units{{"mlp", 1}}));
}

TEST_P(DepthFamilies, SlebRemovesThePlantedLayersByCalibrationLoss) {
  const std::string root = test::temp_dir("depth_sleb_" + GetParam());
  const std::string base = test::make_prune_model(GetParam(), root + "/base", 6);
  const std::string planted = root + "/planted";
  test::plant_identity(base, planted, {1, 3}, {1, 3});
  torch::Tensor ids = own_samples(planted, 8, 48);
  LayerSource src(planted, {}, true);
  DepthScores sc;
  sc.calibration_nll = [&](const DepthState& s) {
    Schedule sched;
    for (int64_t l = 0; l < 6; ++l) sched.push_back({s.attn[l], s.mlp[l]});
    RunOptions ro;
    ro.batch_size = 4;
    ro.nll = true;
    ro.progress = false;
    return run_calibration(src, ids, sched, nullptr, ro).mean_nll();
  };
  DepthRequest req;
  req.method = "sleb";
  req.n_drop = 2;
  json trace;
  PrunePlan plan = plan_depth(src.spec(), req, sc, &trace);
  Units got;
  for (const auto& u : plan.units) got.insert({unit_kind_name(u.kind), u.layer});
  EXPECT_EQ(got, (Units{{"layer", 1}, {"layer", 3}})) << trace.dump();
  req.sleb_unit = "sub-block";
  req.n_drop = 4;
  plan = plan_depth(src.spec(), req, sc, &trace);
  got.clear();
  for (const auto& u : plan.units) got.insert({unit_kind_name(u.kind), u.layer});
  EXPECT_EQ(got, (Units{{"attn", 1}, {"mlp", 1}, {"attn", 3}, {"mlp", 3}})) << trace.dump();
}

TEST_P(DepthFamilies, KeepAllChangesNothing) {
  const std::string root = test::temp_dir("depth_keepall_" + GetParam());
  const std::string base = test::make_prune_model(GetParam(), root + "/base", 3);
  DepthJobOptions o = job(base, test::calibration_text(root, 1000), "angular", 0);
  o.dry_run = false;
  o.out = root + "/A";
  o.bundles_dir = root + "/bundles";
  run_depth_job(o);
  test::expect_same_tensors(base, o.out);
  torch::Tensor ids = torch::randint(257, {2, 20}, torch::kLong);
  auto a = CausalLM::load(base), b = CausalLM::load(o.out);
  torch::NoGradGuard ng;
  EXPECT_TRUE(torch::equal(a->forward(ids), b->forward(ids)));
  json cfg = read_json_file(o.out + "/config.json"), src = read_json_file(base + "/config.json");
  EXPECT_EQ(cfg, src) << "no key changes when nothing is removed";
}

TEST_P(DepthFamilies, BundlesRestoreTheSourceExactly) {
  const std::string root = test::temp_dir("depth_restore_" + GetParam());
  const std::string base = test::make_prune_model(GetParam(), root + "/base", 6);
  const std::string text = test::calibration_text(root, 2000);
  DepthJobOptions o = job(base, text, "block-influence", 3);
  o.dry_run = false;
  o.out = root + "/A";
  o.bundles_dir = root + "/bundles";
  json r = run_depth_job(o);
  EXPECT_EQ(CausalLM::load(o.out)->spec().n_layers(), 3);
  auto restore = [&](const std::string& model, std::vector<std::string> b, const std::string& out) {
    RestoreOptions ro;
    ro.model = model;
    for (auto& x : b) x = o.bundles_dir + "/" + x;
    ro.bundles = b;
    ro.out = root + "/" + out;
    return restore_bundles(ro);
  };
  restore(o.out, {"B", "C"}, "FULL");
  test::expect_same_tensors(base, root + "/FULL");
  restore(o.out, {"B"}, "AB");
  restore(root + "/AB", {"C"}, "FULL2");  // chained restore keeps the lineage
  test::expect_same_tensors(base, root + "/FULL2");

  // A + B equals the source pruned of C's units only (the same plan restricted to C).
  PrunePlan c_only = PrunePlan::from_json(r.at("plan"), "report");
  std::vector<PruneUnit> keep;
  for (const auto& u : c_only.units)
    if (u.bundle == "C") keep.push_back(u);
  ASSERT_FALSE(keep.empty());
  c_only.units = keep;
  write_json_file(root + "/c_only.json", c_only.to_json());
  DepthJobOptions oc = o;
  oc.plan_file = root + "/c_only.json";
  oc.out = root + "/A_minus_C";
  oc.bundles_dir = root + "/bundles_c";
  run_depth_job(oc);
  test::expect_same_tensors(root + "/AB", oc.out);
  EXPECT_EQ(read_json_file(root + "/AB/config.json").at("num_hidden_layers"), 6 - keep.size());

  // Refusals: a bundle applied twice, a bundle made from another model.
  EXPECT_NE(
      test::bad_input_message([&] { restore(root + "/AB", {"B"}, "X"); }).find("already applied"),
      std::string::npos);
  EXPECT_NE(
      test::bad_input_message([&] { restore(oc.out, {"B"}, "Y"); }).find("made from another model"),
      std::string::npos);
  EXPECT_FALSE(fs::exists(root + "/X"));
  EXPECT_FALSE(fs::exists(root + "/Y"));
}

TEST_P(DepthFamilies, DroppedSubBlocksComputeLikeSkippedOnes) {
  const std::string root = test::temp_dir("depth_sub_" + GetParam());
  const std::string base = test::make_prune_model(GetParam(), root + "/base", 4);
  DepthJobOptions o = job(base, test::calibration_text(root, 2000), "joint", 3);
  o.dry_run = false;
  o.out = root + "/A";
  o.bundles_dir = root + "/bundles";
  json r = run_depth_job(o);
  PrunePlan plan = PrunePlan::from_json(r.at("plan"), "report");
  LayerSource src(base, {}, true);
  const DepthState state = plan.result(src.spec());
  torch::Tensor ids = torch::randint(257, {2, 24}, torch::kLong);
  torch::InferenceMode guard;
  torch::Tensor x = src.embed(ids);
  for (int64_t l = 0; l < 4; ++l) {
    const auto& L = src.spec().layers[l];
    x = src.layer(l).forward(x, &src.rope(L.attn->head_dim, 24), nullptr, nullptr,
                             {state.attn[l], state.mlp[l]});
  }
  torch::Tensor skipped = src.lm_head(src.final_norm(x));
  auto a = CausalLM::load(o.out);
  EXPECT_TRUE(torch::allclose(a->forward(ids), skipped, 0, 1e-6));
  // LLM-Drop's keys name the original indices of the dropped sub-blocks of kept layers.
  json cfg = read_json_file(o.out + "/config.json");
  EXPECT_TRUE(cfg.contains("drop_attn_list") || cfg.contains("drop_mlp_list")) << cfg.dump();
  EXPECT_TRUE(cfg.contains("llmprune"));
}

TEST_P(DepthFamilies, StreamingGivesTheSamePlanAndScores) {
  const std::string root = test::temp_dir("depth_stream_" + GetParam());
  const std::string base = test::make_prune_model(GetParam(), root + "/base", 5);
  const std::string text = test::calibration_text(root, 2000);
  for (const std::string method : {"angular", "sleb"}) {
    DepthJobOptions a = job(base, text, method, 2), b = a;
    a.stream = "off";
    b.stream = "on";
    json ra = run_depth_job(a), rb = run_depth_job(b);
    EXPECT_FALSE(ra.at("stream").get<bool>());
    EXPECT_TRUE(rb.at("stream").get<bool>());
    EXPECT_EQ(ra.at("removed"), rb.at("removed")) << method;
    const json& xa = ra.at("analysis");
    const json& xb = rb.at("analysis");
    for (const char* key : {"block_influence", "attn_redundancy", "mlp_redundancy"})
      for (size_t l = 0; l < 5; ++l)
        EXPECT_NEAR(xa.at(key)[l].get<double>(), xb.at(key)[l].get<double>(), 1e-6) << key;
    const json& da = xa.at("angular_distance").at("d");
    const json& db = xb.at("angular_distance").at("d");
    for (size_t n = 1; n <= 5; ++n)
      for (size_t l = 0; l + n <= 5; ++l)
        EXPECT_NEAR(da[n][l].get<double>(), db[n][l].get<double>(), 1e-6);
  }
}

INSTANTIATE_TEST_SUITE_P(Families, DepthFamilies, ::testing::Values("llama", "qwen2", "opt"));
