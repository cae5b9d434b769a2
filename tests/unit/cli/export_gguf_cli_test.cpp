// `llmprune export --format gguf` and `inspect FILE.gguf` through the real binary on synthetic
// checkpoints: a round trip per family, and bad inputs that must exit 2 with one error line
// and write nothing.
#include <gtest/gtest.h>

#include <filesystem>
#include <sstream>

#include "io/gguf.h"
#include "support/assets.h"
#include "util/fs.h"
#include "util/json.h"

namespace llmprune {
namespace {

std::string make_model(const std::string& family, const std::string& extra = "") {
  const std::string dir = test::temp_dir("gguf-cli-" + family) + "/model";
  auto r = test::run_llmprune("make-test-model --family " + family + " --out " + dir +
                              " --layers 2 --hidden 64 --heads 4 --kv-heads 2 --intermediate 96 " +
                              "--byte-tokenizer " + extra);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return dir;
}


TEST(ExportGgufCli, EveryFamilyAndTypeWritesALoadableFile) {
  for (const char* family : {"llama", "mistral", "qwen2", "phi3"}) {
    SCOPED_TRACE(family);
    const std::string model = make_model(family);
    for (const char* type : {"f32", "f16", "bf16", "q8_0"}) {
      const std::string out = model + "-" + type + ".gguf";
      const std::string report = out + ".json";
      auto r = test::run_llmprune("export --model " + model + " --format gguf --type " + type +
                                  " --out " + out + " --report " + report);
      ASSERT_EQ(r.exit_code, 0) << r.err;
      GgufFile g = GgufFile::open(out);
      const json rep = read_json_file(report);
      EXPECT_EQ(rep["tensors"].get<size_t>(), g.tensors().size());
      // Hidden 64 and intermediate 96 are multiples of 32: every matrix is quantized.
      if (std::string(type) == "q8_0") {
        EXPECT_EQ(ggml_type_name(g.tensor("blk.1.ffn_down.weight").type), std::string("Q8_0"));
      }
      auto insp = test::run_llmprune("inspect --model " + out);
      EXPECT_EQ(insp.exit_code, 0) << insp.err;
      EXPECT_NE(insp.out.find("GGUF v3"), std::string::npos) << insp.out;
    }
  }
}

TEST(ExportGgufCli, BadInputsExitTwoAndWriteNothing) {
  const std::string model = make_model("llama");
  const std::string dir = test::temp_dir("gguf-cli-bad");
  // --out exists and no --overwrite: untouched.
  const std::string existing = dir + "/exists.gguf";
  write_file_atomic(existing, "keep");
  test::expect_bad_input(
      test::run_llmprune("export --model " + model + " --format gguf --out " + existing),
      "already exists");
  EXPECT_EQ(read_file(existing), "keep");
  // A heterogeneous qwen2 model: llama.cpp's "deci" is a Llama architecture.
  const std::string qwen = make_model("qwen2");
  json c = read_json_file(qwen + "/config.json");
  c["llmprune"] = {{"layers",
                    {{{"attn", {{"n_heads", 4}, {"n_kv_heads", 2}, {"head_dim", 16}}},
                      {"mlp", {{"intermediate_size", 96}}}},
                     {{"attn", {{"n_heads", 4}, {"n_kv_heads", 2}, {"head_dim", 16}}},
                      {"mlp", {{"intermediate_size", 64}}}}}}};
  write_file_atomic(qwen + "/config.json", c.dump(2));
  const std::string out = dir + "/q.gguf";
  auto r = test::run_llmprune("export --model " + qwen + " --format gguf --out " + out);
  EXPECT_EQ(r.exit_code, 2) << r.err;  // refused (shape check or the deci rule): nothing written
  EXPECT_FALSE(path_exists(out));
  // Unknown --type and --format are CLI errors (exit 2).
  EXPECT_EQ(
      test::run_llmprune("export --model " + model + " --format gguf --type q4_0 --out " + out)
          .exit_code,
      2);
  EXPECT_EQ(test::run_llmprune("export --model " + model + " --format onnx --out " + out).exit_code,
            2);
  EXPECT_FALSE(path_exists(out));
  // A corrupt .gguf given to inspect: one line naming the file.
  const std::string bad = dir + "/bad.gguf";
  write_file_atomic(bad, "GGUF\x03");
  test::expect_bad_input(test::run_llmprune("inspect --model " + bad), bad);
  // No partial files left beside the outputs.
  for (const auto& e : std::filesystem::directory_iterator(dir))
    EXPECT_EQ(e.path().filename().string().find(".partial-"), std::string::npos) << e.path();
}

TEST(ExportGgufCli, PruneDepthExportWritesGgufBesideTheModel) {
  LLMPRUNE_REQUIRE_ASSET("models/stories260K-hf/config.json");
  const std::string dir = test::temp_dir("gguf-cli-prune");
  const std::string plan = std::string(LLMPRUNE_SOURCE_DIR) +
                           "/tests/golden/prune/plan_stories260K_drop_attn_1_mlp_3.json";
  const std::string args = "prune depth --model " + test::asset("models/stories260K-hf") +
                           " --plan " + plan + " --out " + dir + "/A --bundles-dir " + dir +
                           "/B --no-pruned-ppl --export gguf:q8_0";
  // A bad --export is refused before any work.
  auto bad = test::run_llmprune(args + "x");
  EXPECT_EQ(bad.exit_code, 2) << bad.err;
  EXPECT_FALSE(path_exists(dir + "/A"));
  auto r = test::run_llmprune(args + " --report " + dir + "/r.json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  GgufFile g = GgufFile::open(dir + "/A.gguf");
  EXPECT_EQ(g.get("general.architecture").s, "deci");  // attention of layer 1 removed
  EXPECT_EQ(read_json_file(dir + "/r.json")["gguf"]["type"], "q8_0");
}

}  // namespace
}  // namespace llmprune
