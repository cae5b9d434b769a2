// Decoding through the GEMV kernels (model/linear.h): greedy generation with the KV cache
// equals greedy over full forwards (f32 and bf16), the kernels agree with LibTorch's matmul
// path, and Q8_0 weights stay close to the native ones. Expected values come from these
// invariants (the same model run two ways), never from stored outputs.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "io/safetensors.h"
#include "model/causal_lm.h"
#include "model/decode_token.h"
#include "model/decoder_lm.h"
#include "model/kv_cache.h"
#include "model/linear.h"
#include "model/rope.h"
#include "model/synthetic.h"
#include "serve/generate.h"
#include "support/assets.h"
#include "util/error.h"
#include "util/huge_pages.h"
#include "util/sha256.h"

using namespace llmprune;

namespace {

// hidden 64 and intermediate 96: the Q8_0 path needs multiples of 32 inputs.
SyntheticOptions small(uint64_t seed) {
  SyntheticOptions o;
  o.n_layers = 3;
  o.hidden = 64;
  o.heads = 4;
  o.kv_heads = 2;
  o.intermediate = 96;
  o.vocab = 96;
  o.seed = seed;
  return o;
}

std::unique_ptr<CausalLM> load(const std::string& dir, const std::string& dtype,
                               const std::string& weights = "native") {
  LoadOptions o;
  o.dtype = dtype;
  o.weights = weights;
  return CausalLM::load(dir, o);
}

// Greedy over full forwards of the growing sequence, token by token; at each step the
// cached generator's token must be the full forward's argmax, or tie with it within `tol`
// (bf16 rounds the two paths' logits differently).
void expect_cached_greedy_equals_full(CausalLM& m, const std::vector<int64_t>& prompt, int64_t n,
                                      double tol) {
  GenerateOptions g;
  g.max_new_tokens = n;
  g.stop_at_eos = false;
  const GenerateResult r = generate(m, prompt, g);
  ASSERT_EQ(static_cast<int64_t>(r.tokens.size()), n);
  std::vector<int64_t> seq = prompt;
  torch::InferenceMode guard;
  for (int64_t i = 0; i < n; ++i) {
    auto ids = torch::tensor(seq, torch::kLong).view({1, -1});
    auto last = m.forward(ids)[0][static_cast<int64_t>(seq.size()) - 1].to(torch::kFloat64);
    const int64_t best = last.argmax().item<int64_t>(), got = r.tokens[static_cast<size_t>(i)];
    if (got != best) {
      EXPECT_LE((last[best] - last[got]).item<double>(), tol) << "step " << i;
    }
    seq.push_back(got);  // follow the cached generator (the sequences stay comparable)
  }
}

// Two loads of one checkpoint compute the same bits: a full forward of a fixed sequence, and
// the same sequence decoded token by token through a KV cache.
void expect_same_forward_and_decode(CausalLM& a, CausalLM& b, const std::string& label) {
  auto ids = torch::tensor({5, 1, 60, 33, 2, 7}, torch::kLong).view({1, -1});
  torch::InferenceMode guard;
  EXPECT_TRUE(torch::equal(a.forward(ids), b.forward(ids))) << label;
  KVCache ca(a, 1, 8), cb(b, 1, 8);
  for (int64_t t = 0; t < ids.size(1); ++t)
    EXPECT_TRUE(
        torch::equal(a.forward(ids.narrow(1, t, 1), &ca), b.forward(ids.narrow(1, t, 1), &cb)))
        << label << " step " << t;
}

}  // namespace

TEST(Decode, CachedGreedyEqualsFullForwardGreedy) {
  for (const std::string family : {"llama", "qwen2", "opt"}) {
    const std::string dir = test::temp_dir("dec-" + family) + "/m";
    make_test_model(family, dir, small(7));
    const std::vector<int64_t> prompt{3, 17, 42, 5, 9};
    // f32: the kernels and the matmul differ in summation order only (1e-6 of the logits):
    // the argmax must be identical.
    expect_cached_greedy_equals_full(*load(dir, "f32"), prompt, 12, 0.0);
    // bf16: products are exact, results round to 8 bits (2^-9 relative); logits here are
    // O(1), so paths may tie within a few hundredths.
    expect_cached_greedy_equals_full(*load(dir, "bf16"), prompt, 12, 0.05);
  }
}

// The RoPE table is made once and narrowed per step, growing when a sequence outgrows it
// (first 256 positions, then doubling). A cached forward crossing position 256 must give the
// full forward's logits (f32: summation order only), and a narrowed table must equal a table
// made for those positions alone, element for element.
// One token through the raw path (model/decode_token.h) computes what the module path
// computes, bit for bit: the same kernels, rounded at the same points. Expected values: the
// module path's (the invariant), over families that exercise every branch: llama, mistral
// with a sliding window shorter than the sequence, qwen2 (q/k/v biases), phi3 (fused qkv and
// gate_up), Q8_0 weights, and a schedule that skips one attention and one MLP (staged serving).
TEST(Decode, RawTokenPathIsBitEqualToTheModulePath) {
  struct Case {
    std::string family, weights;
    bool masks;
  };
  for (const Case& c : {Case{"llama", "native", false}, Case{"mistral", "native", false},
                        Case{"qwen2", "native", false}, Case{"phi3", "native", false},
                        Case{"llama", "q8_0", false}, Case{"llama", "native", true}}) {
    const std::string label = c.family + " " + c.weights + (c.masks ? " masks" : "");
    const std::string dir = test::temp_dir("dec-raw-" + c.family) + "/m";
    SyntheticOptions o = small(11);
    o.sliding_window = c.family == "mistral" ? 4 : 0;
    make_test_model(c.family, dir, o);
    auto m = load(dir, "bf16", c.weights);
    auto& lm = dynamic_cast<DecoderLM&>(*m);
    std::vector<ScheduledLayer> schedule(3);
    for (int64_t i = 0; i < 3; ++i) schedule[static_cast<size_t>(i)].index = i;
    if (c.masks) {
      schedule[1].mask.attn = false;
      schedule[2].mask.mlp = false;
    }
    auto ids = torch::tensor({5, 1, 60, 33, 2, 7, 19, 44, 8, 70}, torch::kLong).view({1, -1});
    torch::InferenceMode guard;
    std::vector<std::unique_ptr<KVCache>> caches;
    std::vector<std::vector<torch::Tensor>> logits(2);
    for (int raw = 0; raw < 2; ++raw) {
      set_decode_token_enabled(raw == 1);
      caches.push_back(std::make_unique<KVCache>(*m, 1, 12));
      lm.forward_hidden_schedule(ids.narrow(1, 0, 3), schedule, caches.back().get());  // prefill
      for (int64_t t = 3; t < ids.size(1); ++t)
        logits[static_cast<size_t>(raw)].push_back(lm.lm_head(
            lm.forward_hidden_schedule(ids.narrow(1, t, 1), schedule, caches.back().get())));
    }
    set_decode_token_enabled(true);
    for (size_t t = 0; t < logits[0].size(); ++t)
      EXPECT_TRUE(torch::equal(logits[0][t], logits[1][t])) << label << " step " << t;
    for (int64_t j = 0; j < 3; ++j) {
      const KVSlot* a = caches[0]->slot(j);
      const KVSlot* b = caches[1]->slot(j);
      EXPECT_TRUE(torch::equal(a->k, b->k) && torch::equal(a->v, b->v)) << label << " layer " << j;
    }
  }
}

// The raw path applies to what it was built for and nothing else: a bf16 CPU layer with its
// cache slot; not f32 compute (LibTorch's ops keep transformers' bits), not without a slot,
// not with an adapter on a map.
TEST(Decode, RawTokenPathAppliesWhereItShould) {
  const std::string dir = test::temp_dir("dec-raw-applies") + "/m";
  make_test_model("llama", dir, small(12));
  for (const std::string dtype : {"bf16", "f32"}) {
    auto m = load(dir, dtype);
    KVCache cache(*m, 1, 4);
    DecoderLayerImpl* first = nullptr;
    for (const auto& mod : m->module().modules(/*include_self=*/false))
      if (auto* l = dynamic_cast<DecoderLayerImpl*>(mod.get())) {
        first = l;
        break;
      }
    ASSERT_NE(first, nullptr);
    EXPECT_EQ(first->decode_token_applies(nullptr, cache.slot(0), {}), dtype == "bf16") << dtype;
    EXPECT_FALSE(first->decode_token_applies(nullptr, nullptr, {})) << dtype;
    SubBlockMask mlp_only;
    mlp_only.attn = false;
    EXPECT_EQ(first->decode_token_applies(nullptr, nullptr, mlp_only), dtype == "bf16") << dtype;
    struct Zero : LinearAdapter {
      torch::Tensor forward(const torch::Tensor& x) const override { return torch::zeros_like(x); }
    };
    for (const auto& mod : first->modules(/*include_self=*/false))
      if (auto* lin = dynamic_cast<LinearImpl*>(mod.get())) {
        lin->adapter = std::make_shared<Zero>();
        EXPECT_FALSE(first->decode_token_applies(nullptr, cache.slot(0), {})) << dtype;
        lin->adapter.reset();
      }
  }
}

// A token id outside [0, vocab) is bad input naming the id, whether the ids are checked in
// place (contiguous CPU int64, as decoding passes them) or through LibTorch (a strided view).
TEST(Decode, OutOfRangeTokenIdIsBadInput) {
  const std::string dir = test::temp_dir("dec-ids") + "/m";
  make_test_model("llama", dir, small(13));  // vocab 96
  auto m = load(dir, "f32");
  torch::InferenceMode guard;
  for (int64_t bad : {96, -1}) {
    const auto plain = torch::tensor(std::vector<int64_t>{3, bad, 5}, torch::kLong).view({1, -1});
    const auto strided = torch::tensor(std::vector<int64_t>{3, 0, bad, 0, 5, 0}, torch::kLong)
                             .view({1, 3, 2})
                             .select(2, 0);
    for (const auto& ids : {plain, strided}) {
      try {
        m->forward(ids);
        ADD_FAILURE() << "id " << bad << " accepted";
      } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::kBadInput);
        EXPECT_NE(std::string(e.what()).find("token id " + std::to_string(bad)), std::string::npos)
            << e.what();
      }
    }
  }
  EXPECT_EQ(m->forward(torch::tensor({0, 95}, torch::kLong).view({1, -1})).size(1), 2);
}

TEST(Decode, RopeTableGrowsAcrossSteps) {
  RopeSpec r;
  r.theta = 10000.0;
  const auto f = rope_frequencies(r, 16);
  const auto whole = rope_table(f, 0, 300, torch::kFloat32, torch::kCPU);
  const auto part = rope_table(f, 250, 30, torch::kFloat32, torch::kCPU);
  EXPECT_TRUE(torch::equal(whole.cos.narrow(0, 250, 30), part.cos));
  EXPECT_TRUE(torch::equal(whole.sin.narrow(0, 250, 30), part.sin));

  const std::string dir = test::temp_dir("dec-rope") + "/m";
  SyntheticOptions o = small(5);
  o.max_position_embeddings = 512;
  make_test_model("llama", dir, o);
  auto m = load(dir, "f32");
  torch::manual_seed(1);
  const auto ids = torch::randint(o.vocab, {1, 300}, torch::kLong);
  torch::InferenceMode guard;
  const auto full = m->forward(ids);
  KVCache cache(*m, 1, 300);
  m->forward(ids.narrow(1, 0, 250), &cache);
  torch::Tensor last;
  for (int64_t t = 250; t < 300; ++t) last = m->forward(ids.narrow(1, t, 1), &cache);
  const double scale = full.abs().max().item<double>();
  EXPECT_LT((last[0][0] - full[0][299]).abs().max().item<double>(), 1e-5 * scale);
}

TEST(Decode, KernelsMatchTheMatmulPath) {
  const std::string dir = test::temp_dir("dec-kern") + "/m";
  make_test_model("llama", dir, small(8));
  for (const std::string dtype : {"f32", "bf16"}) {
    auto m = load(dir, dtype);
    auto ids = torch::tensor({4, 8, 15, 16, 23, 42}, torch::kLong).view({1, -1});
    torch::InferenceMode guard;
    std::vector<torch::Tensor> runs;
    for (bool gemv : {true, false}) {
      set_gemv_enabled(gemv);
      KVCache cache(*m, 1, 8);
      std::vector<torch::Tensor> steps;
      for (int64_t t = 0; t < ids.size(1); ++t)
        steps.push_back(m->forward(ids.narrow(1, t, 1), &cache).to(torch::kFloat64));
      runs.push_back(torch::cat(steps, 1));
    }
    set_gemv_enabled(true);
    const double diff = (runs[0] - runs[1]).abs().max().item<double>();
    const double scale = runs[1].abs().max().item<double>();
    // f32: summation order only; bf16: one 2^-8 rounding of each layer's outputs may differ.
    EXPECT_LT(diff, dtype == "f32" ? 1e-5 * scale : 0.05 * scale) << dtype;
  }
}

TEST(Decode, Q8WeightsStayCloseToNative) {
  const std::string dir = test::temp_dir("dec-q8") + "/m";
  make_test_model("llama", dir, small(9));
  auto native = load(dir, "f32"), q8 = load(dir, "f32", "q8_0");
  // 20 tokens: prefill runs the Q8_0 kernel on more rows than decoding's kGemvMaxRows.
  auto ids = torch::arange(1, 21, torch::kLong).view({1, -1});
  torch::InferenceMode guard;
  auto a = native->forward(ids).to(torch::kFloat64), b = q8->forward(ids).to(torch::kFloat64);
  const double scale = a.abs().max().item<double>();
  // 8-bit weights (relative step 1/127 of each block's max): a few % of the logit range.
  const double diff = (a - b).abs().max().item<double>();
  EXPECT_GT(diff, 0.0);  // the quantized weights are really used
  EXPECT_LT(diff, 0.05 * scale);
  // The kernel's prefill and the matmul on widened Q8_0 weights (GEMV path off) differ by the
  // activations' 8-bit rounding only; so do cached decoding steps.
  set_gemv_enabled(false);
  auto widened = q8->forward(ids).to(torch::kFloat64);
  set_gemv_enabled(true);
  EXPECT_LT((widened - b).abs().max().item<double>(), 0.05 * scale);
  KVCache cache(*q8, 1, 20);
  std::vector<torch::Tensor> steps;
  for (int64_t t = 0; t < ids.size(1); ++t)
    steps.push_back(q8->forward(ids.narrow(1, t, 1), &cache).to(torch::kFloat64));
  EXPECT_LT((torch::cat(steps, 1) - b).abs().max().item<double>(), 0.05 * scale);
}

TEST(Decode, UnknownWeightsFormIsBadInput) {
  const std::string dir = test::temp_dir("dec-bad") + "/m";
  make_test_model("llama", dir, small(1));
  const std::string e = test::bad_input_message([&] { load(dir, "f32", "q4"); });
  EXPECT_NE(e.find("unknown --weights 'q4'"), std::string::npos) << e;
}

// A bf16 checkpoint computed in f32 keeps bf16 weights (--weights bf16): widening
// bf16 is exact, so prefill and cached decoding give the same bits as widening at load.
TEST(Decode, Bf16WeightsWithF32ComputeAreBitIdentical) {
  for (const std::string family : {"llama", "opt"}) {
    const std::string dir = test::temp_dir("dec-keep-" + family) + "/m";
    SyntheticOptions so = small(11);
    so.dtype = "bf16";
    make_test_model(family, dir, so);
    LoadOptions keep, widen;  // widening at load is the default
    keep.weights = "bf16";
    auto a = CausalLM::load(dir, keep), b = CausalLM::load(dir, widen);
    for (const auto& [name, p] : a->named_parameters())
      EXPECT_EQ(p.scalar_type(), torch::kBFloat16) << name;
    for (const auto& [name, p] : b->named_parameters())
      EXPECT_EQ(p.scalar_type(), torch::kFloat32) << name;
    expect_same_forward_and_decode(*a, *b, family);
  }
}

// Weights stored in the dtype they are computed in become parameters in place (the mapping,
// copy-on-write; causal_lm.cpp). Invariants: such a model computes what a copy would (the
// checkpoint's own tensors via from_tensors), and writing to its parameters changes neither
// the file nor another model loaded from it.
TEST(Decode, InPlaceWeightsAreCopyOnWrite) {
  for (const std::string dtype : {"bf16", "f32"}) {
    const std::string dir = test::temp_dir("dec-cow-" + dtype) + "/m";
    SyntheticOptions so = small(5);
    so.dtype = dtype;
    make_test_model("llama", dir, so);
    const std::string file = dir + "/model.safetensors", hash = sha256_file(file);
    auto a = load(dir, dtype), b = load(dir, dtype);
    auto ids = torch::tensor({5, 1, 60, 33, 2, 7}, torch::kLong).view({1, -1});
    torch::InferenceMode guard;
    const torch::Tensor want = a->forward(ids);
    TensorStore store = TensorStore::open(dir);
    NamedTensors copies;
    for (const auto& name : store.names()) copies.emplace_back(name, store.load(name));
    LoadOptions o;
    o.dtype = dtype;
    EXPECT_TRUE(
        torch::equal(CausalLM::from_tensors(a->spec(), copies, o, dir)->forward(ids), want));
    for (auto& [name, p] : b->named_parameters()) p.mul_(0);
    EXPECT_TRUE(torch::equal(b->forward(ids), torch::zeros_like(want)));
    EXPECT_TRUE(torch::equal(a->forward(ids), want)) << dtype;
    EXPECT_EQ(sha256_file(file), hash);
    EXPECT_TRUE(torch::equal(load(dir, dtype)->forward(ids), want)) << dtype;
  }
}

// --huge-pages on copies every weight of >= 2 MiB into fresh memory on huge pages
// (causal_lm.cpp): the model computes exactly what the mapped weights compute, and those
// weights start on a 2 MiB boundary where Linux offers transparent huge pages (whether it
// grants them depends on the machine, so only the placement is checked).
TEST(Decode, HugePageWeightsComputeWhatMappedWeightsDo) {
  for (const std::string dtype : {"bf16", "f32"}) {
    const std::string dir = test::temp_dir("dec-huge-" + dtype) + "/m";
    SyntheticOptions so = small(6);
    so.dtype = dtype;
    so.intermediate = dtype == "f32" ? 8192 : 16384;  // MLP weights of 2 MiB each
    make_test_model("llama", dir, so);
    LoadOptions mapped, huge;
    mapped.dtype = huge.dtype = dtype;
    huge.huge_pages = true;
    auto a = CausalLM::load(dir, mapped), b = CausalLM::load(dir, huge);
    int64_t large = 0;
    for (const auto& [name, p] : b->named_parameters()) {
      if (p.numel() * static_cast<int64_t>(p.element_size()) < int64_t{2} << 20) continue;
      ++large;
      if (huge_pages_usable())
        EXPECT_EQ(reinterpret_cast<uintptr_t>(p.data_ptr()) % (uintptr_t{2} << 20), 0u) << name;
    }
    EXPECT_EQ(large, 3 * 3) << "gate, up and down of 3 layers";
    expect_same_forward_and_decode(*a, *b, dtype);
  }
}
