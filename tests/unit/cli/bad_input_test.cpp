// The table of bad inputs (issue 3): each one, run through the real binary, must give exit
// code 2, exactly one "error: ..." line on stderr naming the culprit, and no report file.
// The checkpoints are synthetic (make-test-model) and then damaged here, byte by byte or
// tensor by tensor.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>

#include "io/safetensors.h"
#include "support/assets.h"
#include "util/fs.h"
#include "util/json.h"

namespace llmprune {
namespace {
namespace fs = std::filesystem;

std::string make_model(const std::string& tag, const std::string& extra = "") {
  std::string dir = test::temp_dir(tag) + "/model";
  auto r = test::run_llmprune("make-test-model --family llama --out " + dir +
                              " --layers 2 --hidden 32 --heads 4 --kv-heads 2 " + extra);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return dir;
}

// Rewrite model.safetensors' JSON header with `edit` (data bytes unchanged).
void edit_header(const std::string& dir, const std::function<void(json&)>& edit) {
  std::string path = dir + "/model.safetensors";
  std::string bytes = read_file(path);
  uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  json header = json::parse(bytes.substr(8, n));
  edit(header);
  std::string text = header.dump();
  while (text.size() % 8) text += ' ';
  uint64_t m = text.size();
  std::string out(reinterpret_cast<const char*>(&m), 8);
  out += text + bytes.substr(8 + n);
  std::ofstream(path, std::ios::binary | std::ios::trunc) << out;
}

// Rewrite the weights from the current tensors after `edit` (adds/removes tensors).
void edit_tensors(const std::string& dir, const std::function<void(NamedTensors&)>& edit) {
  NamedTensors tensors;
  {
    TensorStore store = TensorStore::open(dir);
    for (const auto& name : store.names()) tensors.emplace_back(name, store.load(name));
  }
  edit(tensors);
  fs::remove(dir + "/model.safetensors");
  write_safetensors(dir, tensors);
}

struct Outcome {
  int exit_code;
  std::string err;
  bool report_written;
  json report;
};

Outcome run(const std::string& args) {
  std::string report = test::temp_dir("report") + "/r.json";
  auto r = test::run_llmprune(args + " --report " + report);
  bool written = fs::exists(report);
  return {r.exit_code, r.err, written, written ? read_json_file(report) : json()};
}

// Exactly one stderr line starts with "error: ", it is the last line, and it holds every
// `needle`.
void expect_bad_input(const Outcome& o, std::initializer_list<std::string> needles) {
  EXPECT_EQ(o.exit_code, 2) << o.err;
  // No report, except inspect's own finding: a complete report whose "inconsistencies" list
  // names the problem (a checkpoint that loads far enough to be described).
  if (o.report_written) {
    EXPECT_EQ(o.report.value("command", ""), "inspect");
    EXPECT_FALSE(o.report.value("inconsistencies", json::array()).empty());
  }
  std::vector<std::string> lines;
  std::stringstream ss(o.err);
  for (std::string line; std::getline(ss, line);) lines.push_back(line);
  ASSERT_FALSE(lines.empty());
  int n_errors = 0;
  for (const auto& l : lines) n_errors += l.rfind("error: ", 0) == 0;
  EXPECT_EQ(n_errors, 1) << o.err;
  const std::string& last = lines.back();
  EXPECT_EQ(last.rfind("error: ", 0), 0u) << o.err;
  for (const auto& n : needles) EXPECT_NE(last.find(n), std::string::npos) << n << " in: " << last;
}

// Not a bad input: a sharded checkpoint written by the CLI loads and gives the same
// perplexity as the single-file one (same seed, so the same weights: an invariant).
TEST(Sharded, ShardedCheckpointEvaluatesLikeSingleFile) {
  std::string root = test::temp_dir("sharded");
  std::string text = root + "/text.txt";
  write_file_atomic(text, std::string(2000, 'a') + "The quick brown fox jumps over the lazy dog.");
  std::string ppl[2];
  for (int sharded = 0; sharded < 2; ++sharded) {
    std::string dir = root + (sharded ? "/sharded" : "/single");
    auto r = test::run_llmprune("make-test-model --family qwen2 --byte-tokenizer --seed 3 --out " +
                                dir + (sharded ? " --max-shard-size 20000" : ""));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(fs::exists(dir + "/model.safetensors.index.json"), sharded == 1);
    r = test::run_llmprune("eval --model " + dir + " --dataset " + text + " --seq-len 64");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    ppl[sharded] = r.out.substr(r.out.find("PPL"));
  }
  EXPECT_EQ(ppl[0], ppl[1]);
  int shards = 0;
  for (const auto& e : fs::directory_iterator(root + "/sharded"))
    shards += e.path().filename().string().rfind("model-", 0) == 0;
  EXPECT_GT(shards, 1);
}

TEST(BadInput, MissingDirectoryConfigOrWeights) {
  expect_bad_input(run("inspect --model /nonexistent/model"), {"/nonexistent/model"});
  std::string dir = make_model("noconfig");
  fs::remove(dir + "/config.json");
  expect_bad_input(run("inspect --model " + dir), {"config.json"});
  dir = make_model("noweights");
  fs::remove(dir + "/model.safetensors");
  expect_bad_input(run("inspect --model " + dir), {dir, "safetensors"});
}

TEST(BadInput, UnknownModelTypeListsSupportedFamilies) {
  std::string dir = make_model("unknown");
  json c = read_json_file(dir + "/config.json");
  c["model_type"] = "gpt_neox";
  c["architectures"] = {"GPTNeoXForCausalLM"};
  write_file_atomic(dir + "/config.json", c.dump());
  expect_bad_input(run("inspect --model " + dir), {"gpt_neox", "llama", "qwen2"});
}

TEST(BadInput, TruncatedWeightsFile) {
  std::string dir = make_model("truncated");
  fs::resize_file(dir + "/model.safetensors", fs::file_size(dir + "/model.safetensors") / 2);
  expect_bad_input(run("inspect --model " + dir), {"model.safetensors"});
}

TEST(BadInput, HeaderLengthBeyondFileEnd) {
  std::string dir = make_model("hdrlen");
  std::string path = dir + "/model.safetensors";
  std::string bytes = read_file(path);
  uint64_t huge = fs::file_size(path) + 1000;
  std::memcpy(bytes.data(), &huge, 8);
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
  expect_bad_input(run("inspect --model " + dir), {"model.safetensors", "header"});
}

TEST(BadInput, OverlappingAndOutOfRangeOffsets) {
  std::string dir = make_model("overlap");
  std::string victim;
  edit_header(dir, [&](json& h) {
    // Point the second tensor (name order) at the first one's bytes.
    auto it = h.begin();
    while (it.key() == "__metadata__") ++it;
    auto first = it;
    ++it;
    victim = it.key();
    uint64_t len = it.value()["data_offsets"][1].get<uint64_t>() -
                   it.value()["data_offsets"][0].get<uint64_t>();
    uint64_t begin = first.value()["data_offsets"][0].get<uint64_t>();
    it.value()["data_offsets"] = {begin, begin + len};
  });
  expect_bad_input(run("inspect --model " + dir), {"model.safetensors"});
  dir = make_model("range");
  edit_header(dir, [](json& h) {
    for (auto& [name, e] : h.items())
      if (name != "__metadata__") {
        uint64_t end = e["data_offsets"][1].get<uint64_t>();
        e["data_offsets"][1] = end + (1u << 20);
        break;
      }
  });
  expect_bad_input(run("inspect --model " + dir), {"model.safetensors"});
}

TEST(BadInput, DtypeTimesShapeMismatch) {
  std::string dir = make_model("dtype");
  edit_header(dir, [](json& h) { h["model.norm.weight"]["dtype"] = "F16"; });
  expect_bad_input(run("inspect --model " + dir), {"model.norm.weight"});
}

TEST(BadInput, MissingAndUnexpectedTensorsAreNamed) {
  std::string dir = make_model("missing");
  edit_tensors(dir, [](NamedTensors& t) {
    t.erase(std::remove_if(t.begin(), t.end(),
                           [](const auto& p) {
                             return p.first == "model.layers.1.mlp.down_proj.weight";
                           }),
            t.end());
  });
  expect_bad_input(run("inspect --model " + dir), {"model.layers.1.mlp.down_proj.weight"});
  dir = make_model("unexpected");
  edit_tensors(dir, [](NamedTensors& t) {
    t.emplace_back("model.layers.0.self_attn.rotary_emb.inv_freq_extra", torch::zeros({4}));
  });
  expect_bad_input(run("inspect --model " + dir),
                   {"model.layers.0.self_attn.rotary_emb.inv_freq_extra"});
}

TEST(BadInput, NanWeightIsAWarningNamingTheTensor) {
  std::string dir = make_model("nan");
  edit_tensors(dir, [](NamedTensors& t) {
    for (auto& [name, w] : t)
      if (name == "model.layers.0.mlp.up_proj.weight") w[0][0] = std::nan("");
  });
  auto o = run("inspect --model " + dir);
  EXPECT_EQ(o.exit_code, 0) << o.err;
  EXPECT_NE(o.err.find("model.layers.0.mlp.up_proj.weight"), std::string::npos) << o.err;
  EXPECT_NE(o.err.find("warning"), std::string::npos) << o.err;
}

// eval needs a tokenizer: the real stories260K one.
TEST(BadInput, TextShorterThanOneWindowAndSeqLenBeyondContext) {
  LLMPRUNE_REQUIRE_ASSET("models/stories260K-hf/tokenizer.json");
  std::string model = test::asset("models/stories260K-hf");
  std::string text = test::temp_dir("short") + "/short.txt";
  write_file_atomic(text, "Once upon a time there was a cat.");
  expect_bad_input(run("eval --model " + model + " --dataset " + text + " --seq-len 64"),
                   {"fewer than one window", "--seq-len 64"});
  // stories260K's config: max_position_embeddings 512.
  expect_bad_input(run("eval --model " + model + " --dataset " + text + " --seq-len 1024"),
                   {"--seq-len 1024", "max_position_embeddings 512"});
  expect_bad_input(run("eval --model " + model + " --dataset nosuchset"), {"nosuchset"});
  expect_bad_input(run("eval --model " + model + " --dataset " + text + " --device cuda:7"),
                   {"--device cuda:7"});
}


// ---- issue 12: inputs that crashed, hung or were misread (each the input that exposed it)

TEST(BadInputHardening, ConfigValuesOutOfRange) {
  std::string dir = make_model("cfg1e9");
  json c = read_json_file(dir + "/config.json");
  c["num_hidden_layers"] = 1e9;  // was bad_alloc, exit 1
  write_file_atomic(dir + "/config.json", c.dump());
  expect_bad_input(run("inspect --model " + dir), {"config.json", "num_hidden_layers", "1000000000"});
  write_file_atomic(dir + "/config.json", "{\"rope_theta\": 1e400}");  // was exit 1
  expect_bad_input(run("inspect --model " + dir), {"config.json", "1e400"});
}

TEST(BadInputHardening, HugeShapeIsNotNegative) {
  std::string dir = make_model("shape64");
  edit_header(dir, [](json& h) { h["model.norm.weight"]["shape"] = {18446744073709551615ull}; });
  expect_bad_input(run("inspect --model " + dir), {"model.norm.weight", "18446744073709551615"});
}

TEST(BadInputHardening, DetokenizeIdBeyondInt64) {
  LLMPRUNE_REQUIRE_ASSET("models/stories260K-hf/tokenizer.json");
  // stoll threw out_of_range: "internal error", exit 1.
  expect_bad_input(run("detokenize --model " + test::asset("models/stories260K-hf") +
                       " --ids 99999999999999999999"),
                   {"token id 99999999999999999999 is too large"});
}

TEST(BadInputHardening, ThreadsAndSeqLenBounds) {
  LLMPRUNE_REQUIRE_ASSET("models/stories260K-hf/tokenizer.json");
  std::string model = test::asset("models/stories260K-hf");
  std::string text = test::temp_dir("seq0") + "/t.txt";
  write_file_atomic(text, "Once upon a time there was a cat.");
  // --threads 100000 hung the machine; --seq-len 0 was silently taken as the default.
  expect_bad_input(run("eval --model " + model + " --dataset " + text + " --threads 100000"),
                   {"--threads 100000", "1024"});
  expect_bad_input(run("eval --model " + model + " --dataset " + text + " --seq-len 0"),
                   {"--seq-len must be at least 2, got 0"});
}

TEST(BadInputHardening, ReportWriteErrorNamesTheReportFile) {
  // Was "cannot write <report>.partial-<pid>", exit 2; the environment is at fault: exit 1.
  std::string dir = make_model("report");
  auto r = test::run_llmprune("inspect --no-scan --model " + dir +
                              " --report /nonexistent-llmprune-dir/r.json");
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("cannot write /nonexistent-llmprune-dir/r.json: "), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find(".partial"), std::string::npos) << r.err;
}

TEST(BadInputHardening, LibTorchErrorIsOneLineExitOne) {
  // An allocation of 8e18 bytes (1e9 x 1e9 int64 token ids) fails on any machine; LibTorch's
  // c10::Error carried a multi-line C++ backtrace to the user as "internal error".
  auto r = test::run_llmprune("bench forward --layers 1 --seq-len 1000000000 --batch 1000000000 "
                              "--repeats 1");
  EXPECT_EQ(r.exit_code, 1) << r.err;
  std::vector<std::string> errors;
  std::stringstream ss(r.err);
  for (std::string line; std::getline(ss, line);)
    if (line.rfind("error: ", 0) == 0 || line.find("Exception raised from") != std::string::npos)
      errors.push_back(line);
  ASSERT_EQ(errors.size(), 1u) << r.err;
  EXPECT_EQ(errors[0].rfind("error: LibTorch: ", 0), 0u) << errors[0];
  EXPECT_NE(errors[0].find("can't allocate memory"), std::string::npos) << errors[0];
}

TEST(BadInputHardening, NonUtf8ModelPathWithReport) {
  // dump() of the report threw on the path's invalid UTF-8: "internal error", exit 1.
  std::string dir = test::temp_dir("utf8") + "/m\xff";
  auto r = test::run_llmprune("make-test-model --family llama --layers 1 --hidden 32 --heads 4 "
                              "--kv-heads 2 --out '" + dir + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  Outcome o = run("inspect --no-scan --model '" + dir + "'");
  EXPECT_EQ(o.exit_code, 0) << o.err;
  EXPECT_TRUE(o.report_written);
}

}  // namespace
}  // namespace llmprune
