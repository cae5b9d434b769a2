// GGUF export against the asset GGUFs made by llama.cpp's converter and llama-quantize
// (c392e509; llama.cpp loads them and reproduces ../shared/assets/reference): our F32 export of
// the same Hugging Face checkpoints has the same tensors (names, shapes, types, bytes) and the
// same metadata except the differences listed in kIntendedDifferences (docs/export.md); our
// Q8_0 equals llama-quantize's bytes. Plus round trips and the bad-input table.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstring>
#include <filesystem>
#include <set>

#include "arch/checkpoint_check.h"
#include "export/gguf_export.h"
#include "io/checkpoint.h"
#include "io/gguf.h"
#include "io/safetensors.h"
#include "support/assets.h"
#include "util/fs.h"
#include "util/q8_0.h"

namespace llmprune {
namespace {

// The one key whose value differs on purpose: tokenizer.ggml.scores. The assets carry
// llama2.c's tok512.bin scores, which tokenizer.json does not hold; ours are derived from the
// merge ranks (llama.cpp then tokenizes ppl_text.txt and tokenize.json exactly as with the
// asset: docs/export.md). general.name is the folder name, "phi3-tiny" written "phi_3-tiny"
// as in the asset (llama.cpp's Phi-3 token rule cannot load a Llama-2 vocabulary).
const std::set<std::string> kIntendedDifferences = {"tokenizer.ggml.scores"};

std::string export_to(const std::string& model, const std::string& type, const std::string& tag) {
  GgufExportOptions o;
  o.model = test::asset("models/" + model);
  o.out = test::temp_dir("gguf-export") + "/" + tag + ".gguf";
  o.type = type;
  export_gguf(o);
  return o.out;
}

void expect_same_tensors(const GgufFile& ours, const GgufFile& ref) {
  ASSERT_EQ(ours.tensors().size(), ref.tensors().size());
  for (const GgufTensorInfo& r : ref.tensors()) {
    SCOPED_TRACE(r.name);
    const GgufTensorInfo* o = ours.find_tensor(r.name);
    ASSERT_NE(o, nullptr);
    EXPECT_EQ(o->ne, r.ne);
    EXPECT_EQ(ggml_type_name(o->type), std::string(ggml_type_name(r.type)));
    ASSERT_EQ(o->bytes, r.bytes);
    EXPECT_EQ(std::memcmp(ours.data(*o), ref.data(r), r.bytes), 0) << "tensor bytes differ";
  }
}

void expect_same_metadata(const GgufFile& ours, const GgufFile& ref) {
  std::set<std::string> ref_keys, our_keys;
  for (const auto& [k, v] : ref.metadata()) {
    ref_keys.insert(k);
    if (kIntendedDifferences.count(k)) continue;
    const GgufValue* o = ours.find(k);
    ASSERT_NE(o, nullptr) << "missing key " << k;
    EXPECT_TRUE(*o == v) << k << ": ours " << o->to_json(8).dump() << ", llama.cpp's "
                         << v.to_json(8).dump();
  }
  for (const auto& [k, v] : ours.metadata()) our_keys.insert(k);
  EXPECT_EQ(our_keys, ref_keys);
}

class GgufGolden : public ::testing::TestWithParam<const char*> {};

TEST_P(GgufGolden, F32ExportEqualsLlamaCppConversion) {
  const std::string model = GetParam();
  const std::string ref_name = model == std::string("stories260K-hf") ? model : model;
  LLMPRUNE_REQUIRE_ASSET("gguf/" + ref_name + "-f32.gguf");
  LLMPRUNE_REQUIRE_ASSET("models/" + model + "/config.json");
  GgufFile ours = GgufFile::open(export_to(model, "f32", model));
  GgufFile ref = GgufFile::open(test::asset("gguf/" + ref_name + "-f32.gguf"));
  expect_same_tensors(ours, ref);
  expect_same_metadata(ours, ref);
  // Scores: a piece made by merge rank r scores -r; the asset's tok512 scores order those
  // pieces the same way (both decrease with the id: SentencePiece numbers pieces by merge).
  const auto& s = ours.get("tokenizer.ggml.scores").items;
  const auto& rs = ref.get("tokenizer.ggml.scores").items;
  ASSERT_EQ(s.size(), 512u);
  const auto& types = ours.get("tokenizer.ggml.token_type").items;
  for (size_t i = 260; i < 512; ++i)
    if (types[i].i == 1 && types[i - 1].i == 1 && s[i].f > -1000 && s[i - 1].f > -1000 &&
        s[i].f > -165 && s[i - 1].f > -165) {
      EXPECT_EQ(s[i].f < s[i - 1].f, rs[i].f < rs[i - 1].f) << i;
    }
}

INSTANTIATE_TEST_SUITE_P(Assets, GgufGolden,
                         ::testing::Values("stories260K-hf", "qwen2-tiny", "phi3-tiny",
                                           "mistral-tiny"));

// llama-quantize's Q8_0 (quantize_row_q8_0_ref) from the F32 file, byte for byte.
TEST(GgufQ8_0, QuantizerEqualsLlamaQuantize) {
  LLMPRUNE_REQUIRE_ASSET("gguf/phi3-tiny-q8_0.gguf");
  GgufFile f32 = GgufFile::open(test::asset("gguf/phi3-tiny-f32.gguf"));
  GgufFile q8 = GgufFile::open(test::asset("gguf/phi3-tiny-q8_0.gguf"));
  int quantized = 0;
  for (const GgufTensorInfo& t : q8.tensors()) {
    if (ggml_type_name(t.type) != std::string("Q8_0")) continue;
    const GgufTensorInfo& src = f32.tensor(t.name);
    std::vector<uint8_t> ours(t.bytes);
    quantize_q8_0(reinterpret_cast<const float*>(f32.data(src)), src.numel(), ours.data());
    EXPECT_EQ(std::memcmp(ours.data(), q8.data(t), t.bytes), 0) << t.name;
    ++quantized;
  }
  EXPECT_EQ(quantized, 2 + 3 * 4);  // embed, output, and qkv / o / up / down per layer
}

TEST(GgufQ8_0, ExportEqualsLlamaQuantize) {
  LLMPRUNE_REQUIRE_ASSET("gguf/phi3-tiny-q8_0.gguf");
  GgufFile ours = GgufFile::open(export_to("phi3-tiny", "q8_0", "phi3-q8"));
  GgufFile ref = GgufFile::open(test::asset("gguf/phi3-tiny-q8_0.gguf"));
  expect_same_tensors(ours, ref);
  expect_same_metadata(ours, ref);
}

// Export -> reader -> tensors equal the source: F32 / F16 / BF16 exactly (after the same
// conversion), Q8_0 within half a quantization step. qwen2 has no q/k permutation.
TEST(GgufRoundTrip, TensorsEqualTheSource) {
  LLMPRUNE_REQUIRE_ASSET("models/qwen2-tiny/config.json");
  TensorStore src = TensorStore::open(test::asset("models/qwen2-tiny"));
  const torch::Tensor w = src.load("model.layers.1.mlp.down_proj.weight");  // [112, 160]
  const torch::Tensor b = src.load("model.layers.1.self_attn.k_proj.bias");
  for (const char* type : {"f32", "f16", "bf16", "q8_0"}) {
    SCOPED_TRACE(type);
    GgufFile g = GgufFile::open(export_to("qwen2-tiny", type, std::string("rt-") + type));
    const GgufTensorInfo& t = g.tensor("blk.1.ffn_down.weight");
    EXPECT_EQ(t.shape(), w.sizes().vec());
    torch::Tensor got;
    const std::string tn = ggml_type_name(t.type);
    if (tn == "Q8_0") {
      got = torch::empty(w.sizes(), torch::kFloat32);
      dequantize_q8_0(g.data(t), t.numel(), got.data_ptr<float>());
      const float max_step = w.abs().max().item<float>() / 127;
      EXPECT_LE((got - w).abs().max().item<float>(), max_step / 2 * 1.01f);
    } else {
      const auto st = tn == "F32" ? torch::kFloat32 : tn == "F16" ? torch::kHalf : torch::kBFloat16;
      got = torch::from_blob(const_cast<uint8_t*>(g.data(t)), w.sizes(), st).clone();
      EXPECT_TRUE(torch::equal(got, w.to(st))) << tn;
    }
    const GgufTensorInfo& tb = g.tensor("blk.1.attn_k.bias");
    EXPECT_EQ(ggml_type_name(tb.type), std::string("F32"));  // 1-D stays F32
    EXPECT_TRUE(torch::equal(
        torch::from_blob(const_cast<uint8_t*>(g.data(tb)), b.sizes(), torch::kFloat32), b));
  }
}

TEST(GgufExportErrors, BadInputIsOneLineAndWritesNothing) {
  LLMPRUNE_REQUIRE_ASSET("models/opt-tiny/config.json");
  const std::string dir = test::temp_dir("gguf-bad");
  GgufExportOptions o;
  o.out = dir + "/x.gguf";
  // OPT: no llama.cpp architecture (an unknown family is refused the same way).
  o.model = test::asset("models/opt-tiny");
  std::string msg = test::bad_input_message([&] { export_gguf(o); });
  EXPECT_NE(msg.find("opt"), std::string::npos) << msg;
  EXPECT_FALSE(path_exists(o.out));
  // An existing --out without --overwrite.
  o.model = test::asset("models/qwen2-tiny");
  write_file_atomic(o.out, "keep");
  msg = test::bad_input_message([&] { export_gguf(o); });
  EXPECT_NE(msg.find("already exists"), std::string::npos) << msg;
  EXPECT_EQ(read_file(o.out), "keep");
  // A tokenizer with a pre-tokenizer GGUF has no name for.
  const std::string m = dir + "/odd-tok";
  std::filesystem::create_directories(m);
  for (const char* f : {"config.json", "model.safetensors"})
    std::filesystem::copy_file(test::asset(std::string("models/qwen2-tiny/") + f), m + "/" + f);
  write_file_atomic(m + "/tokenizer.json",
                    R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []},
                        "pre_tokenizer": {"type": "Whitespace"}, "added_tokens": []})");
  o.model = m;
  o.out = dir + "/odd.gguf";
  msg = test::bad_input_message([&] { export_gguf(o); });
  EXPECT_NE(msg.find("unknown pre-tokenizer"), std::string::npos) << msg;
  EXPECT_FALSE(path_exists(o.out));
  o.type = "q4_0";
  msg = test::bad_input_message([&] { export_gguf(o); });
  EXPECT_NE(msg.find("q4_0"), std::string::npos) << msg;
}

}  // namespace
}  // namespace llmprune

namespace llmprune {
namespace {

// stories260K without the attention of layer 1 and the MLP of layer 3, as `prune depth`
// writes it (config.json with an "llmprune" block).
std::string depth_pruned_stories(const std::string& family_dir) {
  const std::string src = test::asset("models/" + family_dir);
  const std::string out = test::temp_dir("gguf-deci") + "/model";
  json config = read_json_file(src + "/config.json");
  json layers = json::array();
  for (int l = 0; l < 5; ++l) {
    json attn = {{"n_heads", 8}, {"n_kv_heads", 4}, {"head_dim", 8}};
    json mlp = {{"intermediate_size", 172}};
    layers.push_back(
        {{"attn", l == 1 ? json(nullptr) : attn}, {"mlp", l == 3 ? json(nullptr) : mlp}});
  }
  config["llmprune"] = {{"layers", layers}};
  TensorStore store = TensorStore::open(src);
  NamedTensors kept;
  for (const std::string& n : store.names()) {
    if (n.rfind("model.layers.1.self_attn.", 0) == 0 ||
        n == "model.layers.1.input_layernorm.weight")
      continue;
    if (n.rfind("model.layers.3.mlp.", 0) == 0 ||
        n == "model.layers.3.post_attention_layernorm.weight")
      continue;
    kept.emplace_back(n, store.load(n));
  }
  SaveOptions so;
  so.copy_tokenizer_from = src;
  save_checkpoint(out, config, kept, so);
  return out;
}

TEST(GgufDeci, DepthPrunedModelIsDeciWithPerLayerArrays) {
  LLMPRUNE_REQUIRE_ASSET("models/stories260K-hf/config.json");
  GgufExportOptions o;
  o.model = depth_pruned_stories("stories260K-hf");
  o.out = test::temp_dir("gguf-deci") + "/d.gguf";
  export_gguf(o);
  GgufFile g = GgufFile::open(o.out);
  EXPECT_EQ(g.get("general.architecture").s, "deci");
  auto ints = [&](const std::string& k) {
    std::vector<int64_t> v;
    for (const GgufValue& x : g.get(k).items) v.push_back(x.as_int(k));
    return v;
  };
  EXPECT_EQ(ints("deci.attention.head_count"), (std::vector<int64_t>{8, 0, 8, 8, 8}));
  EXPECT_EQ(ints("deci.attention.head_count_kv"), (std::vector<int64_t>{4, 0, 4, 4, 4}));
  // Layer 3 keeps its attention: a zero FFN of width 1 (llama.cpp drops the attention of a
  // layer whose FFN length is 0; docs/export.md).
  EXPECT_EQ(ints("deci.feed_forward_length"), (std::vector<int64_t>{172, 172, 172, 1, 172}));
  EXPECT_EQ(g.get("deci.attention.key_length").as_int("k"), 8);
  EXPECT_EQ(g.get("deci.rope.dimension_count").as_int("r"), 8);
  EXPECT_EQ(g.find_tensor("blk.1.attn_q.weight"), nullptr);
  EXPECT_EQ(g.find_tensor("blk.1.attn_norm.weight"), nullptr);
  const GgufTensorInfo& down = g.tensor("blk.3.ffn_down.weight");
  EXPECT_EQ(down.shape(), (std::vector<int64_t>{64, 1}));
  for (uint64_t i = 0; i < down.bytes; ++i) ASSERT_EQ(g.data(down)[i], 0) << i;
  // Every tensor the uniform export has for the kept sub-blocks is byte-identical.
  GgufFile ref = GgufFile::open(test::asset("gguf/stories260K-hf-f32.gguf"));
  for (const GgufTensorInfo& t : ref.tensors()) {
    const GgufTensorInfo* o2 = g.find_tensor(t.name);
    if (t.name.rfind("blk.1.attn", 0) == 0 || t.name.rfind("blk.3.ffn", 0) == 0) continue;
    ASSERT_NE(o2, nullptr) << t.name;
    EXPECT_EQ(std::memcmp(g.data(*o2), ref.data(t), t.bytes), 0) << t.name;
  }
}

}  // namespace
}  // namespace llmprune
