// LoRA: gradients against central finite differences (f64), a zero-B adapter leaves logits
// bit-identical, merged weights give the adapter-applied logits, adapter save -> load is
// exact, and a mismatching adapter is refused naming the tensor and both shapes.
#include "train/lora.h"

#include <gtest/gtest.h>

#include "../prune/prune_fixtures.h"
#include "calib/gradients.h"
#include "model/causal_lm.h"
#include "model/layer_source.h"
#include "train/peft_io.h"

using namespace llmprune;

namespace {

LoadOptions dtype_opts(const std::string& dt) {
  LoadOptions o;
  o.dtype = dt;
  return o;
}

// Randomise B (zero at creation) so both A and B receive non-zero gradients.
void randomise(LoraSet& set, uint64_t seed) {
  torch::manual_seed(seed);
  torch::NoGradGuard ng;
  for (const auto& m : set.modules()) m.adapter->B.copy_(torch::randn_like(m.adapter->B) * 0.3);
}

// The definition in calib/gradients.h with a mask: mean over batches of the batch's masked
// mean NLL, by a plain full forward of the model with the adapters attached.
double masked_loss(CausalLM& model, const torch::Tensor& ids, const torch::Tensor& mask,
                   int64_t batch) {
  torch::NoGradGuard ng;
  double total = 0;
  int64_t nb = 0;
  const int64_t T = ids.size(1);
  for (int64_t b = 0; b < ids.size(0); b += batch, ++nb) {
    const int64_t n = std::min(batch, ids.size(0) - b);
    torch::Tensor x = ids.narrow(0, b, n);
    torch::Tensor m = mask.narrow(0, b, n).narrow(1, 1, T - 1).to(torch::kFloat64);
    torch::Tensor logp = torch::log_softmax(model.forward(x), -1);
    torch::Tensor nll =
        -logp.narrow(1, 0, T - 1).gather(-1, x.narrow(1, 1, T - 1).unsqueeze(-1)).squeeze(-1);
    total += (nll * m).sum().item<double>() / m.sum().item<double>();
  }
  return total / static_cast<double>(nb);
}

}  // namespace

class LoraFamilies : public ::testing::TestWithParam<const char*> {};

// Central differences, h = 1e-5 in f64 (truncation ~h^2, rounding ~1e-10 absolute): the
// analytic gradient of every A and B matrix (3 elements each) within 1e-6 relative.
TEST_P(LoraFamilies, GradientsMatchCentralFiniteDifferences) {
  const std::string family = GetParam();
  const std::string dir = test::temp_dir("lora_fd_" + family) + "/m";
  make_test_model(family, dir, test::prune_model_options(2));
  LayerSource src(dir, dtype_opts("f64"), /*resident=*/true);
  LoraConfig cfg;
  cfg.r = 3;
  cfg.alpha = 6;
  cfg.targets = {"all"};
  LoraSet set = LoraSet::create(src.family(), src.spec(), cfg, 11, torch::kFloat64);
  randomise(set, 3);
  torch::manual_seed(5);
  const torch::Tensor ids = torch::randint(257, {3, 9}, torch::kLong);
  torch::Tensor mask = torch::rand({3, 9}) > 0.3;
  mask[0][4] = true;  // every batch scores at least one token
  mask[2][7] = true;
  GradientOptions go;
  go.batch_size = 2;
  go.progress = false;
  go.mask = mask;
  go.on_fetch = [&](int64_t l, const DecoderLayerImpl& layer) {
    set.attach(const_cast<DecoderLayerImpl&>(layer), src.family().naming().layer_prefix(l));
  };
  go.trainable = [&](int64_t l, const DecoderLayerImpl&) { return set.layer_tensors(l); };
  std::map<std::string, torch::Tensor> got;
  run_gradients(src, ids, go, [&](const LayerGradients& g) {
    for (size_t i = 0; i < g.names.size(); ++i) got[g.names[i]] = g.grad[i];
  });
  // Base weights stay frozen: no gradient reaches them.
  for (int64_t l = 0; l < 2; ++l)
    for (const auto& p : src.layer(l).parameters()) EXPECT_FALSE(p.grad().defined());

  auto model = CausalLM::from_tensors(src.spec(), test::load_all(dir), dtype_opts("f64"));
  set.attach(model->module(), "");
  int checked = 0;
  for (const auto& [name, t] : set.peft_tensors()) {
    ASSERT_TRUE(got.count(name)) << name;
    const torch::Tensor g = got.at(name);
    ASSERT_EQ(g.sizes(), t.sizes()) << name;
    for (int64_t i : {g.abs().argmax().item<int64_t>(), int64_t{0}, t.numel() / 2 + 1}) {
      const double h = 1e-5;
      torch::Tensor v = t.view(-1);
      torch::NoGradGuard ng;
      const double w0 = v[i].item<double>();
      v[i] = w0 + h;
      const double up = masked_loss(*model, ids, mask, 2);
      v[i] = w0 - h;
      const double down = masked_loss(*model, ids, mask, 2);
      v[i] = w0;
      const double fd = (up - down) / (2 * h), an = g.view(-1)[i].item<double>();
      EXPECT_NEAR(an, fd, 1e-6 * std::abs(fd) + 1e-9) << name << "[" << i << "]";
      ++checked;
    }
  }
  EXPECT_GE(checked, 2 * 2 * 3 * 4);  // >= 4 adapted maps per layer (phi3 fuses), A and B
}

INSTANTIATE_TEST_SUITE_P(Families, LoraFamilies, ::testing::Values("llama", "qwen2", "phi3"));

// Full fine-tuning's gradients under a loss mask (the training path): the recomputed
// gradient of a few base weights against central differences.
TEST(FullFineTune, MaskedGradientsMatchCentralFiniteDifferences) {
  const std::string dir = test::temp_dir("full_fd") + "/m";
  make_test_model("llama", dir, test::prune_model_options(2));
  LayerSource src(dir, dtype_opts("f64"), true);
  torch::manual_seed(8);
  const torch::Tensor ids = torch::randint(257, {2, 8}, torch::kLong);
  torch::Tensor mask = torch::rand({2, 8}) > 0.4;
  mask[0][3] = true;
  mask[1][5] = true;
  GradientOptions go;
  go.batch_size = 1;
  go.progress = false;
  go.mask = mask;
  go.edges = true;
  std::map<std::string, torch::Tensor> got;
  run_gradients(src, ids, go, [&](const LayerGradients& g) {
    for (size_t i = 0; i < g.names.size(); ++i) got[g.names[i]] = g.grad[i];
  });
  NamedTensors base = test::load_all(dir);
  for (auto& [n, t] : base) t = t.to(torch::kFloat64);
  int checked = 0;
  for (auto& [name, t] : base) {
    if (name.find("layers.1.mlp.down") == std::string::npos &&
        name.find("layers.0.self_attn.q") == std::string::npos && name != "lm_head.weight" &&
        name != "model.norm.weight")
      continue;
    const torch::Tensor g = got.at(name);
    for (int64_t i : {g.abs().argmax().item<int64_t>(), t.numel() / 3}) {
      const double h = 1e-5, w0 = t.view(-1)[i].item<double>();
      auto loss_at = [&](double w) {
        t.view(-1)[i] = w;
        auto model = CausalLM::from_tensors(src.spec(), base, dtype_opts("f64"));
        return masked_loss(*model, ids, mask, 1);
      };
      const double fd = (loss_at(w0 + h) - loss_at(w0 - h)) / (2 * h);
      t.view(-1)[i] = w0;
      EXPECT_NEAR(g.view(-1)[i].item<double>(), fd, 1e-6 * std::abs(fd) + 1e-9) << name;
      ++checked;
    }
  }
  EXPECT_EQ(checked, 8);
}

// A fresh adapter (B = 0) adds exactly zero: logits bit-identical to the bare model.
TEST(Lora, ZeroBLeavesLogitsBitIdentical) {
  const std::string dir = test::temp_dir("lora_zero") + "/m";
  make_test_model("llama", dir, test::prune_model_options(2));
  auto model = CausalLM::load(dir);
  torch::manual_seed(1);
  const torch::Tensor ids = torch::randint(257, {2, 12}, torch::kLong);
  torch::NoGradGuard ng;
  const torch::Tensor bare = model->forward(ids);
  LoraConfig cfg;
  cfg.targets = {"all"};
  LoraSet set = LoraSet::create(model->family(), model->spec(), cfg, 4, torch::kFloat32);
  set.attach(model->module(), "");
  EXPECT_TRUE(torch::equal(model->forward(ids), bare));
  EXPECT_EQ(set.modules().size(), 2u * 7u);
}

// Merging: W + (alpha/r) B A written into a checkpoint gives the adapter-applied logits within
// 1e-5 (f32; the two differ only in rounding order).
TEST(Lora, MergedLogitsEqualAdapterLogits) {
  const std::string root = test::temp_dir("lora_merge");
  const std::string dir = root + "/m";
  test::make_prune_model("llama", dir, 2);
  auto model = CausalLM::load(dir);
  LoraConfig cfg;
  cfg.r = 4;
  cfg.alpha = 8;
  cfg.targets = {"q_proj", "v_proj", "down_proj"};
  LoraSet set = LoraSet::create(model->family(), model->spec(), cfg, 9, torch::kFloat32);
  randomise(set, 2);
  set.attach(model->module(), "");
  merge_adapter(dir, set, root + "/merged", false);
  auto merged = CausalLM::load(root + "/merged");
  torch::manual_seed(3);
  const torch::Tensor ids = torch::randint(257, {2, 16}, torch::kLong);
  torch::NoGradGuard ng;
  const torch::Tensor a = model->forward(ids), b = merged->forward(ids);
  EXPECT_LT((a - b).abs().max().item<double>(), 1e-5);
  // The adapter changes the logits: the comparison is not vacuous.
  set.attach(model->module(), "", /*detach=*/true);
  EXPECT_GT((model->forward(ids) - a).abs().max().item<double>(), 1e-3);
  EXPECT_TRUE(path_exists(root + "/merged/tokenizer.json"));
}

// Save -> load gives the same tensors bit for bit, PEFT's names and config fields; an adapter
// for another model is refused naming the tensor and both shapes; an unknown target lists the
// valid module names.
TEST(Lora, SaveLoadExactAndRefusesOtherModels) {
  const std::string root = test::temp_dir("lora_io");
  const std::string dir = root + "/m";
  make_test_model("llama", dir, test::prune_model_options(2));
  CheckpointConfig cc = read_checkpoint_config(dir);
  LoraConfig cfg;
  cfg.r = 2;
  cfg.alpha = 2;
  cfg.targets = {"mlp"};
  LoraSet set = LoraSet::create(*cc.family, cc.spec, cfg, 1, torch::kFloat32);
  randomise(set, 5);
  save_adapter(root + "/a", set, dir, false);
  const json j = read_json_file(root + "/a/adapter_config.json");
  EXPECT_EQ(j.at("peft_type"), "LORA");
  EXPECT_EQ(j.at("r"), 2);
  EXPECT_EQ(j.at("lora_alpha"), 2);
  EXPECT_EQ(j.at("task_type"), "CAUSAL_LM");
  EXPECT_EQ(j.at("target_modules"), json({"down_proj", "gate_proj", "up_proj"}));
  TensorStore st = TensorStore::open(root + "/a/adapter_model.safetensors");
  EXPECT_TRUE(st.contains("base_model.model.model.layers.1.mlp.down_proj.lora_A.weight"));
  EXPECT_EQ(st.names().size(), 2u * 2u * 3u);
  LoraSet back = load_adapter(root + "/a", *cc.family, cc.spec, torch::kFloat32);
  ASSERT_EQ(back.modules().size(), set.modules().size());
  auto x = set.peft_tensors(), y = back.peft_tensors();
  for (size_t i = 0; i < x.size(); ++i) {
    EXPECT_EQ(x[i].first, y[i].first);
    EXPECT_TRUE(torch::equal(x[i].second, y[i].second)) << x[i].first;
  }
  EXPECT_DOUBLE_EQ(back.modules()[0].adapter->scaling, 1.0);

  // Another model: wider MLP.
  SyntheticOptions wide = test::prune_model_options(2);
  wide.intermediate = 64;
  const std::string other = root + "/wide";
  make_test_model("llama", other, wide);
  CheckpointConfig oc = read_checkpoint_config(other);
  const std::string msg = test::bad_input_message(
      [&] { load_adapter(root + "/a", *oc.family, oc.spec, torch::kFloat32); });
  EXPECT_NE(msg.find("lora_"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[2, 48]"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[2, 64]"), std::string::npos) << msg;

  cfg.targets = {"qq_proj"};
  const std::string bad = test::bad_input_message(
      [&] { LoraSet::create(*cc.family, cc.spec, cfg, 1, torch::kFloat32); });
  EXPECT_NE(bad.find("unknown target module 'qq_proj'"), std::string::npos) << bad;
  EXPECT_NE(bad.find("o_proj"), std::string::npos) << bad;
}

// A width-pruned (heterogeneous) model: each adapter follows its layer's shapes, a removed
// sub-block has none, and the FD check still holds for the odd layer.
TEST(Lora, HeterogeneousLayersGetTheirOwnShapes) {
  const std::string root = test::temp_dir("lora_het");
  SyntheticOptions so = test::prune_model_options(3);
  ModelSpec spec = synthetic_spec("llama", so);
  spec.layers[0].mlp->intermediate_size = 20;
  spec.layers[1].attn->n_heads = 2;  // one KV group left
  spec.layers[1].attn->n_kv_heads = 1;
  spec.layers[2].attn.reset();  // attention removed
  write_random_checkpoint(spec, root + "/m", so);
  CheckpointConfig cc = read_checkpoint_config(root + "/m");
  LoraConfig cfg;
  cfg.r = 2;
  cfg.targets = {"all"};
  LoraSet set = LoraSet::create(*cc.family, cc.spec, cfg, 1, torch::kFloat32);
  std::map<std::string, std::pair<int64_t, int64_t>> shape;  // path -> (in, out)
  for (const auto& m : set.modules()) shape[m.path] = {m.in, m.out};
  EXPECT_EQ(shape.at("model.layers.0.mlp.down_proj"), std::make_pair(int64_t{20}, int64_t{32}));
  EXPECT_EQ(shape.at("model.layers.1.self_attn.q_proj"), std::make_pair(int64_t{32}, int64_t{16}));
  EXPECT_EQ(shape.at("model.layers.1.self_attn.k_proj"), std::make_pair(int64_t{32}, int64_t{8}));
  EXPECT_EQ(shape.count("model.layers.2.self_attn.q_proj"), 0u);
  EXPECT_EQ(set.modules().size(), 7u + 7u + 3u);
  // Attached to the loaded model, it runs (shapes agree) and changes the output once B != 0.
  auto model = CausalLM::load(root + "/m");
  set.attach(model->module(), "");
  randomise(set, 1);
  torch::NoGradGuard ng;
  const torch::Tensor ids = torch::randint(257, {1, 6}, torch::kLong);
  EXPECT_EQ(model->forward(ids).size(-1), 257);
}
