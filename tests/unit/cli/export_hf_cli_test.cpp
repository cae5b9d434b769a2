// `llmprune export --format hf | nemotron-nas` and `prune width --export gguf` through the real
// binary on synthetic checkpoints: configs keep every key, tensors are the source's (or its
// conversion), heterogeneous models go to nemotron-nas or are refused, bad inputs exit 2 with
// one error line and write nothing.
#include <gtest/gtest.h>

#include <filesystem>
#include <sstream>

#include "io/gguf.h"
#include "io/safetensors.h"
#include "support/assets.h"
#include "util/fs.h"
#include "util/json.h"

namespace llmprune {
namespace {
namespace fs = std::filesystem;

const std::string kPlans = std::string(LLMPRUNE_SOURCE_DIR) + "/tests/golden/prune/";

// Shaped like stories260K (5 layers, hidden 64, 8 heads, 4 KV heads, MLP 172) so the golden
// prune plans apply; random weights.
std::string make_model(const std::string& tag, const std::string& shape) {
  const std::string dir = test::temp_dir("hf-cli-" + tag) + "/model";
  auto r = test::run_llmprune("make-test-model --family llama --out " + dir + " " + shape +
                              " --byte-tokenizer");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return dir;
}
const char* kStoriesShape = "--layers 5 --hidden 64 --heads 8 --kv-heads 4 --intermediate 172";


void expect_same_tensors(const std::string& a, const std::string& b, torch::ScalarType as) {
  TensorStore x = TensorStore::open(a), y = TensorStore::open(b);
  ASSERT_EQ(x.names(), y.names());
  for (const auto& n : x.names()) {
    const torch::Tensor t = y.load(n);
    EXPECT_EQ(t.scalar_type(), as) << n;
    EXPECT_TRUE(torch::equal(x.load(n).to(as), t)) << n;
  }
}

TEST(ExportHfCli, UniformModelKeepsEveryKeyAndTheTensors) {
  const std::string model =
      make_model("uniform", "--layers 2 --hidden 64 --heads 4 --kv-heads 2 --intermediate 96");
  json src = read_json_file(model + "/config.json");
  src["custom_key_kept"] = {{"nested", 7}};  // a key llmprune knows nothing about
  write_json_file(model + "/config.json", src);
  const std::string dir = test::temp_dir("hf-cli-uniform-out");
  for (const char* dtype : {"", "bf16", "f16", "f32"}) {
    SCOPED_TRACE(dtype);
    const std::string out = dir + "/out-" + dtype;
    const std::string flag = *dtype ? std::string(" --dtype-out ") + dtype : "";
    auto r = test::run_llmprune("export --model " + model + " --format hf --out " + out + flag +
                                " --report " + out + ".json");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const json c = read_json_file(out + "/config.json");
    const std::string want_dtype = std::string(dtype) == "bf16"  ? "bfloat16"
                                   : std::string(dtype) == "f16" ? "float16"
                                                                 : "float32";
    EXPECT_EQ(c["torch_dtype"], want_dtype);
    // Every source key kept with its value; only torch_dtype may change.
    for (auto& [k, v] : src.items())
      if (k != "torch_dtype") {
        EXPECT_EQ(c.at(k), v) << k;
      }
    for (auto& [k, v] : c.items()) EXPECT_TRUE(src.contains(k) || k == "torch_dtype") << k;
    const torch::ScalarType as = std::string(dtype) == "bf16"  ? torch::kBFloat16
                                 : std::string(dtype) == "f16" ? torch::kHalf
                                                               : torch::kFloat32;
    expect_same_tensors(model, out, as);
    // Tokenizer and generation files: byte copies.
    for (const auto& e : fs::directory_iterator(model)) {
      const std::string name = e.path().filename().string();
      if (name == "config.json" || name.find(".safetensors") != std::string::npos) continue;
      ASSERT_TRUE(path_exists(out + "/" + name)) << name;
      EXPECT_EQ(read_file(out + "/" + name), read_file(e.path().string())) << name;
    }
    EXPECT_EQ(read_json_file(out + ".json")["torch_dtype"], want_dtype);
  }
}

TEST(ExportHfCli, HeterogeneousGoesToNemotronNasOrIsRefused) {
  const std::string model = make_model("hetero", kStoriesShape);
  const std::string dir = test::temp_dir("hf-cli-hetero-out");
  // Attention of layer 1 and MLP of layer 3 removed (the golden depth plan).
  auto p = test::run_llmprune("prune depth --model " + model + " --plan " + kPlans +
                              "plan_stories260K_drop_attn_1_mlp_3.json --out " + dir +
                              "/A --bundles-dir " + dir + "/B --no-pruned-ppl");
  ASSERT_EQ(p.exit_code, 0) << p.err;
  const std::string pruned = dir + "/A";
  test::expect_bad_input(
      test::run_llmprune("export --model " + pruned + " --format hf --out " + dir + "/hf"),
      "layer 1 has no attention");
  EXPECT_FALSE(path_exists(dir + "/hf"));

  auto r = test::run_llmprune("export --model " + pruned + " --format nemotron-nas --out " + dir +
                              "/nas");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json c = read_json_file(dir + "/nas/config.json");
  EXPECT_EQ(c["model_type"], "nemotron-nas");
  EXPECT_EQ(c["architectures"], json::array({"DeciLMForCausalLM"}));
  EXPECT_EQ(c["num_attention_heads"], 8);
  EXPECT_FALSE(c.contains("llmprune"));
  EXPECT_FALSE(c.contains("drop_attn_list"));
  // The pruned folder's own per-layer block is what block_configs must say.
  const json layers = read_json_file(pruned + "/config.json")["llmprune"]["layers"];
  const json& blocks = c["block_configs"];
  ASSERT_EQ(blocks.size(), 5u);
  for (size_t i = 0; i < 5; ++i) {
    SCOPED_TRACE(i);
    const json &a = blocks[i]["attention"], &f = blocks[i]["ffn"];
    EXPECT_EQ(a["no_op"].get<bool>(), layers[i]["attn"].is_null());
    if (!layers[i]["attn"].is_null()) {  // 8 query heads / 4 KV heads
      EXPECT_EQ(a["n_heads_in_group"], 2);
    }
    EXPECT_EQ(f["no_op"].get<bool>(), layers[i]["mlp"].is_null());
    if (!layers[i]["mlp"].is_null()) {  // 172 is no multiple of 256: no ffn_mult gives it
      EXPECT_EQ(f["intermediate_size"], 172);
    }
  }
  EXPECT_TRUE(blocks[1]["attention"]["no_op"].get<bool>());
  EXPECT_TRUE(blocks[3]["ffn"]["no_op"].get<bool>());
  expect_same_tensors(pruned, dir + "/nas", torch::kFloat32);
}

TEST(ExportHfCli, PruneWidthExportAndQueryHeadsNemotronCannotExpress) {
  const std::string model = make_model("width", kStoriesShape);
  const std::string dir = test::temp_dir("hf-cli-width-out");
  const std::string args = "prune width --model " + model + " --plan " + kPlans +
                           "width_stories260K_mixed.json --out " + dir + "/W --export gguf:q8_0";
  // A bad --export is refused before any work.
  auto bad = test::run_llmprune(args + "x");
  EXPECT_EQ(bad.exit_code, 2) << bad.err;
  EXPECT_FALSE(path_exists(dir + "/W"));
  auto r = test::run_llmprune(args + " --report " + dir + "/r.json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  GgufFile g = GgufFile::open(dir + "/W.gguf");
  EXPECT_EQ(g.get("general.architecture").s, "deci");  // per-layer heads and widths
  EXPECT_EQ(read_json_file(dir + "/r.json")["gguf"]["type"], "q8_0");
  // The plan removes 4 query heads of layer 0 and 2 of layer 2: not expressible.
  test::expect_bad_input(
      test::run_llmprune("export --model " + dir + "/W --format nemotron-nas --out " + dir + "/n"),
      "layer 1 has 8 query heads but layer 0 has 4");
  EXPECT_FALSE(path_exists(dir + "/n"));
  test::expect_bad_input(
      test::run_llmprune("export --model " + dir + "/W --format hf --out " + dir + "/n"),
      "layer 1 has 8 query heads, 4 KV heads, head_dim 8 where layer 0 has 4 query heads");
}

TEST(ExportHfCli, ExistingOutputIsLeftAlone) {
  const std::string model =
      make_model("exists", "--layers 2 --hidden 64 --heads 4 --kv-heads 2 --intermediate 96");
  const std::string dir = test::temp_dir("hf-cli-exists-out");
  const std::string out = dir + "/out";
  fs::create_directories(out);
  write_file_atomic(out + "/keep.txt", "keep");
  for (const char* format : {"hf", "nemotron-nas"}) {
    test::expect_bad_input(
        test::run_llmprune("export --model " + model + " --format " + format + " --out " + out),
        "already exists");
    EXPECT_EQ(read_file(out + "/keep.txt"), "keep");
  }
  // Options of the other format are refused.
  EXPECT_EQ(
      test::run_llmprune("export --model " + model + " --format hf --type q8_0 --out " + dir + "/x")
          .exit_code,
      2);
  EXPECT_FALSE(path_exists(dir + "/x"));
  for (const auto& e : fs::directory_iterator(dir))
    EXPECT_EQ(e.path().filename().string().find(".partial-"), std::string::npos) << e.path();
}

TEST(ExportHfCli, FamiliesTheFormatsCannotExpress) {
  const std::string dir = test::temp_dir("hf-cli-opt");
  auto m = test::run_llmprune("make-test-model --family opt --out " + dir +
                              "/opt --layers 2 --hidden 64 --heads 4 --intermediate 96 "
                              "--byte-tokenizer");
  ASSERT_EQ(m.exit_code, 0) << m.err;
  test::expect_bad_input(
      test::run_llmprune("export --model " + dir + "/opt --format gguf --out " + dir + "/o.gguf"),
      "unsupported family opt: llama.cpp has no GGUF architecture");
  EXPECT_FALSE(path_exists(dir + "/o.gguf"));
  test::expect_bad_input(test::run_llmprune("export --model " + dir +
                                           "/opt --format nemotron-nas --out " + dir + "/o"),
                        "family opt is not a Llama architecture");
  EXPECT_FALSE(path_exists(dir + "/o"));
  // A uniform OPT model is a stock Hugging Face folder.
  EXPECT_EQ(test::run_llmprune("export --model " + dir + "/opt --format hf --out " + dir + "/o")
                .exit_code,
            0);
  EXPECT_EQ(read_json_file(dir + "/o/config.json")["model_type"], "opt");
}

}  // namespace
}  // namespace llmprune
