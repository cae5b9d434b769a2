// Hostile config.json values (issue 12): each input that crashed, allocated without bound,
// converted a float with undefined behaviour or wrote a config it could not read back now
// gives a one-line bad_input naming the file, key and value. Limits: arch/hf_config.h.
#include <gtest/gtest.h>

#include "arch/hf_config.h"
#include "arch/registry.h"
#include "support/assets.h"
#include "util/error.h"
#include "util/fs.h"

using namespace llmprune;

namespace {

json config() {
  // The keys of the stories260K config (assets/models/stories260K-hf/config.json).
  return json::parse(R"({
    "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 64,
    "intermediate_size": 172, "num_hidden_layers": 2, "num_attention_heads": 8,
    "num_key_value_heads": 4, "vocab_size": 512, "max_position_embeddings": 512,
    "rms_norm_eps": 1e-05, "rope_theta": 10000.0, "hidden_act": "silu",
    "tie_word_embeddings": true, "bos_token_id": 1, "eos_token_id": 2})");
}

std::string spec_error(const json& c) {
  return test::bad_input_message([&] { spec_from_config(detect_family(c, "/m/config.json"), c, "/m/config.json"); });
}

void expect_has(const std::string& msg, std::initializer_list<std::string> needles) {
  EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  for (const auto& n : needles) EXPECT_NE(msg.find(n), std::string::npos) << n << " in: " << msg;
}

TEST(ConfigHardening, HugeLayerCountIsRefusedBeforeAllocating) {
  // num_hidden_layers 1e9 was bad_alloc ("internal error").
  json c = config();
  c["num_hidden_layers"] = 1e9;
  expect_has(spec_error(c), {"/m/config.json", "num_hidden_layers", "1000000000"});
}

TEST(ConfigHardening, FloatsThatAreNotIntegersOrDoNotFit) {
  json c = config();
  c["vocab_size"] = 1e20;  // was UB in static_cast<int64_t>
  expect_has(spec_error(c), {"\"vocab_size\"", "1e+20"});
  c = config();
  c["hidden_size"] = 64.5;
  expect_has(spec_error(c), {"\"hidden_size\"", "64.5"});
  c = config();
  c["num_attention_heads"] = 8.0;  // integral float: accepted as transformers writes it
  EXPECT_NO_THROW(spec_from_config(detect_family(c, "x"), c, "x"));
  c = config();
  c["rope_scaling"] = {{"rope_type", "llama3"}, {"factor", 8.0},
                       {"original_max_position_embeddings", 1e30}};
  expect_has(spec_error(c), {"rope_scaling.original_max_position_embeddings", "1e+30"});
  c = config();
  c["eos_token_id"] = json::array({2, 1e20});
  expect_has(spec_error(c), {"eos_token_id[1]", "1e+20"});
}

TEST(ConfigHardening, NestedArrayValueIsOneLine) {
  // A 200k-deep array as a value crashed in dump() while building the error message; the
  // reader refuses the nesting itself.
  std::string path = test::temp_dir("cfghard") + "/config.json";
  write_file_atomic(path, "{\"hidden_act\": " + std::string(200000, '[') + std::string(200000, ']') + "}");
  expect_has(test::bad_input_message([&] { read_json_file(path); }), {path, "nested deeper"});
  json c = config();
  c["hidden_act"] = json::parse(std::string(100, '[') + std::string(100, ']'));
  expect_has(spec_error(c), {"hidden_act", "[[[["});
}

TEST(ConfigHardening, HeadProductsCannotOverflow) {
  // llmprune.layers with 2^40 heads x 2^40 head_dim "needed 0 rows" (wrapped product).
  json c = config();
  c["llmprune"] = json::parse(R"({"layers": [
      {"attn": {"n_heads": 1099511627776, "n_kv_heads": 1099511627776, "head_dim": 1099511627776},
       "mlp": {"intermediate_size": 172}},
      {"attn": {"n_heads": 8, "n_kv_heads": 4, "head_dim": 8}, "mlp": {"intermediate_size": 172}}]})");
  expect_has(spec_error(c), {"llmprune.layers[0].n_heads", "1099511627776"});
}

TEST(ConfigHardening, ConfigWithoutAttentionOrMlpIsNotWritten) {
  // Removing every attention block wrote num_attention_heads 0, which the reader refuses.
  json c = config();
  ModelSpec spec = spec_from_config(detect_family(c, "x"), c, "x");
  for (auto& l : spec.layers) l.attn.reset();
  expect_has(test::bad_input_message([&] { config_for_spec(family_by_name("llama"), spec); }),
             {"no layer keeps attention", "could not be read back"});
  spec = spec_from_config(detect_family(c, "x"), c, "x");
  for (auto& l : spec.layers) l.mlp.reset();
  expect_has(test::bad_input_message([&] { config_for_spec(family_by_name("llama"), spec); }),
             {"no layer keeps an MLP"});
}

}  // namespace
