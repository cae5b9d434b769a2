// CausalLM on synthetic checkpoints of every family: save -> load round trip, KV-cache
// decoding vs full forward, removed sub-blocks as exact pass-through, and the bad-input table.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "arch/registry.h"
#include "io/checkpoint.h"
#include "io/safetensors.h"
#include "model/causal_lm.h"
#include "model/kv_cache.h"
#include "model/synthetic.h"
#include "support/assets.h"
#include "util/error.h"
#include "util/json.h"

using namespace llmprune;

namespace {

SyntheticOptions tiny(uint64_t seed = 1) {
  SyntheticOptions o;
  o.n_layers = 3;
  o.hidden = 32;
  o.heads = 4;
  o.kv_heads = 2;
  o.intermediate = 48;
  o.vocab = 64;
  o.seed = seed;
  return o;
}


torch::Tensor random_ids(int64_t B, int64_t T, int64_t vocab, uint64_t seed) {
  torch::manual_seed(seed);
  return torch::randint(vocab, {B, T}, torch::kLong);
}

double max_diff(const torch::Tensor& a, const torch::Tensor& b) {
  return (a.to(torch::kFloat64) - b.to(torch::kFloat64)).abs().max().item<double>();
}

// Full forward vs prefill of `k` tokens then one token at a time through the KV cache.
double cache_vs_full(CausalLM& m, const torch::Tensor& ids, int64_t k) {
  torch::NoGradGuard ng;
  auto full = m.forward(ids);
  KVCache cache(m, ids.size(0), ids.size(1) + 2);
  std::vector<torch::Tensor> parts{m.forward(ids.narrow(1, 0, k), &cache)};
  for (int64_t t = k; t < ids.size(1); ++t) parts.push_back(m.forward(ids.narrow(1, t, 1), &cache));
  EXPECT_EQ(cache.length(), ids.size(1));
  return max_diff(torch::cat(parts, 1), full);
}

void write_config(const std::string& dir, const json& c) {
  std::ofstream(dir + "/config.json") << c.dump(2);
}

class FamilyTest : public ::testing::TestWithParam<std::string> {};

}  // namespace

TEST_P(FamilyTest, SaveLoadRoundTripIsBitExact) {
  const std::string dir = test::temp_dir("rt") + "/m";
  make_test_model(GetParam(), dir, tiny());
  auto model = CausalLM::load(dir);
  EXPECT_EQ(model->family().name(), GetParam());
  // named_parameters() == checkpoint keys, values bit-identical.
  TensorStore store = TensorStore::open(dir);
  auto params = model->named_parameters();
  std::vector<std::string> names;
  for (const auto& [n, p] : params) {
    names.push_back(n);
    EXPECT_TRUE(torch::equal(p, store.load(n))) << n;
  }
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, store.names());
  // Save the loaded parameters again and reload: identical.
  const std::string dir2 = test::temp_dir("rt2") + "/m";
  NamedTensors tensors(params.begin(), params.end());
  save_checkpoint(dir2, read_json_file(dir + "/config.json"), tensors);
  auto again = CausalLM::load(dir2);
  auto p2 = again->named_parameters();
  ASSERT_EQ(p2.size(), params.size());
  for (size_t i = 0; i < params.size(); ++i) {
    EXPECT_EQ(p2[i].first, params[i].first);
    EXPECT_TRUE(torch::equal(p2[i].second, params[i].second)) << params[i].first;
  }
}

// Tolerance 1e-5 (fp32): same arithmetic per token, only summation lengths/order differ.
TEST_P(FamilyTest, KvCacheDecodingMatchesFullForward) {
  const std::string dir = test::temp_dir("kv") + "/m";
  make_test_model(GetParam(), dir, tiny(2));
  auto model = CausalLM::load(dir);
  auto ids = random_ids(2, 13, 64, 3);
  EXPECT_LT(cache_vs_full(*model, ids, 5), 1e-5);
  EXPECT_LT(cache_vs_full(*model, ids, 1), 1e-5);
}

// A window (4) shorter than the sequence (13): cache decoding still matches, and the window
// really changes the result compared with full attention on the same weights.
TEST_P(FamilyTest, SlidingWindowSmallerThanSequence) {
  if (GetParam() == "llama" || GetParam() == "opt")
    GTEST_SKIP() << GetParam() << " has no sliding window";
  SyntheticOptions o = tiny(4);
  o.sliding_window = 4;
  const std::string dir = test::temp_dir("sw") + "/m";
  ModelSpec spec = make_test_model(GetParam(), dir, o);
  for (const auto& l : spec.layers) ASSERT_EQ(l.attn->sliding_window, 4);
  auto model = CausalLM::load(dir);
  auto ids = random_ids(1, 13, 64, 5);
  EXPECT_LT(cache_vs_full(*model, ids, 6), 1e-5);
  ModelSpec full_spec = model->spec();
  for (auto& l : full_spec.layers) l.attn->sliding_window = 0;
  auto full = CausalLM::from_tensors(full_spec, model->named_parameters());
  torch::NoGradGuard ng;
  auto a = model->forward(ids), b = full->forward(ids);
  EXPECT_EQ(max_diff(a.narrow(1, 0, 4), b.narrow(1, 0, 4)), 0.0);  // within the window
  EXPECT_GT(max_diff(a.narrow(1, 4, 9), b.narrow(1, 4, 9)), 1e-3);
}

INSTANTIATE_TEST_SUITE_P(AllFamilies, FamilyTest,
                         ::testing::Values("llama", "mistral", "qwen2", "phi3", "opt"));

namespace {
// Tensors of `params` without those of layer `layer`'s attention (or MLP) sub-block.
std::vector<std::pair<std::string, torch::Tensor>> drop_block(
    const Family& f, const std::vector<std::pair<std::string, torch::Tensor>>& params,
    int64_t layer, bool attn) {
  const TensorNaming& n = f.naming();
  const std::string p = n.layer_prefix(layer);
  std::vector<std::string> prefixes =
      attn ? std::vector<std::string>{p + n.attn + ".", p + n.attn_norm + "."}
           : std::vector<std::string>{p + n.mlp + ".", p + n.mlp_norm + "."};
  std::vector<std::pair<std::string, torch::Tensor>> out;
  for (const auto& [name, t] : params) {
    bool drop = false;
    for (const auto& pre : prefixes) drop |= name.rfind(pre, 0) == 0;
    if (!drop) out.emplace_back(name, t);
  }
  return out;
}
}  // namespace

TEST(RemovedBlocks, AreExactResidualPassThrough) {
  const std::string dir = test::temp_dir("rm") + "/m";
  make_test_model("llama", dir, tiny(6));
  auto full = CausalLM::load(dir);
  const Family& f = full->family();
  auto params = full->named_parameters();
  auto ids = random_ids(1, 9, 64, 7);
  torch::NoGradGuard ng;

  // Layer 1 without attention: the attention sub-block leaves the hidden state untouched,
  // the MLP computes x + down(silu(gate(n(x))) * up(n(x))) with n = RMSNorm.
  ModelSpec no_attn = full->spec();
  no_attn.layers[1].attn.reset();
  auto m1 = CausalLM::from_tensors(no_attn, drop_block(f, params, 1, true));
  std::map<HookPoint, torch::Tensor> seen;
  ForwardHook hook = [&](HookPoint p, int64_t layer, const torch::Tensor& t) {
    if (layer == 1) seen[p] = t.clone();
  };
  m1->forward(ids, nullptr, &hook);
  EXPECT_TRUE(torch::equal(seen[HookPoint::kAttnInput], seen[HookPoint::kAttnOutput]));
  std::map<std::string, torch::Tensor> P(params.begin(), params.end());
  const TensorNaming& n = f.naming();
  const std::string pre = n.layer_prefix(1);
  auto x = seen[HookPoint::kMlpInput];
  auto nx = P[pre + n.mlp_norm + ".weight"] * (x * torch::rsqrt(x.pow(2).mean(-1, true) + 1e-5));
  auto lin = [&](const std::string& w, const torch::Tensor& in) {
    return torch::matmul(in, P[pre + n.mlp + "." + w + ".weight"].t());
  };
  auto want = x + lin(n.down, torch::silu(lin(n.gate, nx)) * lin(n.up, nx));
  EXPECT_LT(max_diff(seen[HookPoint::kMlpOutput], want), 1e-5);
  EXPECT_GT(max_diff(seen[HookPoint::kMlpOutput], x), 1e-2);  // the MLP did something

  // Layer 1 without attention and MLP: output == input bit for bit, and the whole model
  // equals the 2-layer model with layer 1 deleted (layer 2 renamed to 1).
  ModelSpec empty = no_attn;
  empty.layers[1].mlp.reset();
  auto m2 = CausalLM::from_tensors(empty, drop_block(f, drop_block(f, params, 1, true), 1, false));
  seen.clear();
  auto logits2 = m2->forward(ids, nullptr, &hook);
  EXPECT_TRUE(torch::equal(seen[HookPoint::kLayerInput], seen[HookPoint::kLayerOutput]));
  ModelSpec two = full->spec();
  two.layers.erase(two.layers.begin() + 1);
  std::vector<std::pair<std::string, torch::Tensor>> renamed;
  const std::string p1 = f.naming().layer_prefix(1), p2 = f.naming().layer_prefix(2);
  for (const auto& [name, t] : params) {
    if (name.rfind(p1, 0) == 0) continue;
    renamed.emplace_back(name.rfind(p2, 0) == 0 ? p1 + name.substr(p2.size()) : name, t);
  }
  auto m3 = CausalLM::from_tensors(two, renamed);
  EXPECT_TRUE(torch::equal(logits2, m3->forward(ids)));
  // KV cache works with attention-less layers too.
  EXPECT_LT(cache_vs_full(*m2, ids, 3), 1e-5);
}

TEST(HeterogeneousModel, LoadsFromLlmpruneBlock) {
  ModelSpec spec = synthetic_spec("qwen2", tiny(8));
  spec.layers[0].attn->n_heads = 2;     // one kv group of 2 query heads left
  spec.layers[0].attn->n_kv_heads = 1;
  spec.layers[1].mlp->intermediate_size = 20;
  spec.layers[2].attn.reset();
  const std::string dir = test::temp_dir("het") + "/m";
  write_random_checkpoint(spec, dir, tiny(8));
  ASSERT_TRUE(read_json_file(dir + "/config.json").contains("llmprune"));
  auto m = CausalLM::load(dir);
  EXPECT_EQ(m->spec().layers[0].attn->n_heads, 2);
  EXPECT_EQ(m->spec().layers[1].mlp->intermediate_size, 20);
  EXPECT_FALSE(m->spec().layers[2].attn.has_value());
  EXPECT_LT(cache_vs_full(*m, random_ids(1, 8, 64, 9), 3), 1e-5);
}

TEST(BadInput, MissingDirectoryConfigOrWeights) {
  std::string e = test::bad_input_message([] { CausalLM::load("/nonexistent/model"); });
  EXPECT_NE(e.find("/nonexistent/model: no such directory"), std::string::npos) << e;
  const std::string dir = test::temp_dir("bad") + "/m";
  make_test_model("llama", dir, tiny());
  const std::string no_cfg = test::temp_dir("nocfg");
  std::filesystem::copy(dir + "/model.safetensors", no_cfg + "/model.safetensors");
  e = test::bad_input_message([&] { CausalLM::load(no_cfg); });
  EXPECT_NE(e.find("no config.json"), std::string::npos) << e;
  const std::string no_w = test::temp_dir("now");
  std::filesystem::copy(dir + "/config.json", no_w + "/config.json");
  e = test::bad_input_message([&] { CausalLM::load(no_w); });
  EXPECT_NE(e.find("no weights"), std::string::npos) << e;
}

TEST(BadInput, UnknownModelTypeListsFamilies) {
  const std::string dir = test::temp_dir("unk") + "/m";
  make_test_model("llama", dir, tiny());
  json c = read_json_file(dir + "/config.json");
  c["model_type"] = "falcon";
  c["architectures"] = {"FalconForCausalLM"};
  write_config(dir, c);
  std::string e = test::bad_input_message([&] { CausalLM::load(dir); });
  EXPECT_NE(e.find("unknown model_type 'falcon'"), std::string::npos) << e;
  EXPECT_NE(e.find("supported: llama, mistral, qwen2, phi3"), std::string::npos) << e;
}

TEST(BadInput, Qwen2CheckpointClaimingLlamaIsRefused) {
  const std::string dir = test::temp_dir("trap") + "/m";
  make_test_model("qwen2", dir, tiny());
  json c = read_json_file(dir + "/config.json");
  c["model_type"] = "llama";
  c["architectures"] = {"LlamaForCausalLM"};
  write_config(dir, c);
  std::string e = test::bad_input_message([&] { CausalLM::load(dir); });
  EXPECT_NE(e.find("checkpoint claims llama but has tensors model.layers.0.self_attn.q_proj.bias"),
            std::string::npos)
      << e;
  EXPECT_NE(e.find("refusing to drop them"), std::string::npos) << e;
}

TEST(BadInput, HeadCountsDisagreeingWithWeights) {
  const std::string dir = test::temp_dir("heads") + "/m";
  make_test_model("llama", dir, tiny());  // 4 heads x head_dim 8 = 32 q rows
  json c = read_json_file(dir + "/config.json");
  c["num_attention_heads"] = 2;
  c["num_key_value_heads"] = 2;
  write_config(dir, c);
  std::string e = test::bad_input_message([&] { CausalLM::load(dir); });
  EXPECT_NE(e.find("layer 0: model.layers.0.self_attn.q_proj.weight has shape [32, 32] but the "
                   "config needs [16, 32]"),
            std::string::npos)
      << e;
  EXPECT_NE(e.find("the weights imply 4 query heads"), std::string::npos) << e;
}

TEST(BadInput, MissingUnexpectedAndNonFiniteTensors) {
  const std::string src = test::temp_dir("mis") + "/m";
  make_test_model("llama", src, tiny());
  TensorStore store = TensorStore::open(src);
  json config = read_json_file(src + "/config.json");
  auto all = [&] {
    NamedTensors t;
    for (const auto& n : store.names()) t.emplace_back(n, store.load(n));
    return t;
  };
  NamedTensors missing;
  for (auto& [n, t] : all())
    if (n != "model.layers.2.mlp.up_proj.weight") missing.emplace_back(n, t);
  std::string d1 = test::temp_dir("mis1") + "/m";
  save_checkpoint(d1, config, missing);
  std::string e = test::bad_input_message([&] { CausalLM::load(d1); });
  EXPECT_NE(e.find("missing tensor model.layers.2.mlp.up_proj.weight"), std::string::npos) << e;

  NamedTensors extra = all();
  extra.emplace_back("model.layers.0.self_attn.rotary_emb.inv_freq", torch::ones({4}));
  std::string d2 = test::temp_dir("mis2") + "/m";
  save_checkpoint(d2, config, extra);
  e = test::bad_input_message([&] { CausalLM::load(d2); });
  EXPECT_NE(e.find("unexpected tensor model.layers.0.self_attn.rotary_emb.inv_freq"),
            std::string::npos)
      << e;

  NamedTensors nan = all();
  for (auto& [n, t] : nan)
    if (n == "model.layers.1.self_attn.v_proj.weight") t[0][0].fill_(NAN);
  std::string d3 = test::temp_dir("mis3") + "/m";
  save_checkpoint(d3, config, nan);
  testing::internal::CaptureStderr();
  LoadOptions check;
  check.check_weights = true;  // the scan is opt-in (--check-weights)
  auto m = CausalLM::load(d3, check);
  std::string err = testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("tensor model.layers.1.self_attn.v_proj.weight has 1 NaN/Inf value"),
            std::string::npos)
      << err;
}

TEST(BadInput, RuntimeOptions) {
  const std::string dir = test::temp_dir("rt-opt") + "/m";
  make_test_model("llama", dir, tiny());
  LoadOptions o;
  o.dtype = "int8";
  std::string e = test::bad_input_message([&] { CausalLM::load(dir, o); });
  EXPECT_NE(e.find("unsupported compute dtype 'int8'"), std::string::npos) << e;
  o.dtype = "f32";
  o.device = "tpu";
  e = test::bad_input_message([&] { CausalLM::load(dir, o); });
  EXPECT_NE(e.find("unknown device 'tpu'"), std::string::npos) << e;
}

TEST(Bf16Compute, StaysCloseToFp32) {
  const std::string dir = test::temp_dir("bf16") + "/m";
  make_test_model("qwen2", dir, tiny(10));
  auto f32 = CausalLM::load(dir);
  LoadOptions o;
  o.dtype = "bf16";
  auto bf16 = CausalLM::load(dir, o);
  EXPECT_EQ(bf16->dtype(), torch::kBFloat16);
  auto ids = random_ids(1, 10, 64, 11);
  torch::NoGradGuard ng;
  auto a = f32->forward(ids), b = bf16->forward(ids);
  EXPECT_EQ(b.scalar_type(), torch::kBFloat16);
  // bf16 keeps 8 significant bits (relative rounding 2^-9 = 0.2 %) per operation; over
  // 3 layers the logits (std ~3 here) move by a few tenths at most.
  EXPECT_LT(max_diff(a, b), 0.5);
  EXPECT_LT(cache_vs_full(*bf16, ids, 4), 0.1);
}
