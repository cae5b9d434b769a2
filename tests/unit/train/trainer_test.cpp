// The healing loop: the same seed gives the same adapter bytes (resident or streamed), a run
// stopped at step k and resumed from its checkpoint ends with the same bytes as an
// uninterrupted one, training lowers the loss, and the data readers (alpaca masks, text
// windows, bad input).
#include "train/trainer.h"

#include <gtest/gtest.h>

#include "../prune/prune_fixtures.h"
#include "tokenizer/tokenizer.h"
#include "train/data.h"
#include "train/peft_io.h"

using namespace llmprune;

namespace {

std::string alpaca_file(const std::string& dir) {
  json recs = json::array();
  for (int i = 0; i < 12; ++i)
    recs.push_back({{"instruction", "Repeat the word " + std::to_string(i)},
                    {"input", i % 2 ? "twice" : ""},
                    {"output", "word " + std::to_string(i) + " word " + std::to_string(i)}});
  const std::string p = dir + "/alpaca.json";
  write_file_atomic(p, recs.dump());
  return p;
}

TrainOptions small_options(const std::string& ckpt) {
  TrainOptions o;
  o.lora.r = 2;
  o.lora.alpha = 4;
  o.lora.dropout = 0.1;  // the masks must be reproduced too
  o.lora.targets = {"all"};
  o.lr = 1e-2;
  o.max_steps = 6;
  o.batch_size = 2;
  o.grad_accum = 2;
  o.warmup_steps = 2;
  o.seed = 17;
  o.checkpoint_dir = ckpt;
  o.progress = false;
  return o;
}

// Train with `o` on the fixture model and save the adapter to `out`; returns the result.
TrainResult train_once(const std::string& model, const std::string& data, TrainOptions o,
                       const std::string& out, bool resident = true) {
  LayerSource src(model, LoadOptions{}, resident);
  auto tok = Tokenizer::from_dir(model);
  DataOptions d;
  d.seq_len = 240;  // the byte-level tokenizer: the Alpaca prompt alone is ~200 tokens
  TrainData all = load_train_data(data, *tok, d);
  Trainer t(src, slice(all, 0, 10), slice(all, 10, 12), o);
  TrainResult r = t.run();
  if (!out.empty()) save_adapter(out, *t.lora(), model, false);
  return r;
}

}  // namespace

TEST(Trainer, SameSeedSameBytesAndResumeEqualsUninterrupted) {
  const std::string root = test::temp_dir("heal_det");
  const std::string model = test::make_prune_model("llama", root + "/m", 2);
  const std::string data = alpaca_file(root);
  TrainResult a = train_once(model, data, small_options(""), root + "/a");
  train_once(model, data, small_options(""), root + "/b");
  const std::string bytes_a = read_file(root + "/a/adapter_model.safetensors");
  EXPECT_EQ(bytes_a, read_file(root + "/b/adapter_model.safetensors"));
  EXPECT_EQ(a.steps, 6);
  // The adapter moved (B is no longer zero) and the validation loss went down.
  EXPECT_LT(a.val_after, a.val_before);

  TrainOptions stop = small_options(root + "/ckpt");
  stop.save_every = 2;
  stop.stop_after = 4;  // "killed" after step 4; the checkpoint of step 4 is on disk
  TrainResult s = train_once(model, data, stop, "");
  EXPECT_EQ(s.steps, 4);
  TrainOptions resume = small_options("");
  resume.resume = root + "/ckpt";
  TrainResult r = train_once(model, data, resume, root + "/c");
  EXPECT_EQ(r.steps, 6);
  EXPECT_EQ(r.log.size(), 6u);
  EXPECT_EQ(bytes_a, read_file(root + "/c/adapter_model.safetensors"));
  for (size_t i = 0; i < 6; ++i) EXPECT_EQ(r.log[i].loss, a.log[i].loss) << i;

  // Streaming (one layer's weights at a time, adapters attached on each fetch): same bytes.
  train_once(model, data, small_options(""), root + "/s", /*resident=*/false);
  EXPECT_EQ(bytes_a, read_file(root + "/s/adapter_model.safetensors"));

  // Another seed: other bytes. A resume with other options is refused.
  TrainOptions other = small_options("");
  other.seed = 18;
  train_once(model, data, other, root + "/d");
  EXPECT_NE(bytes_a, read_file(root + "/d/adapter_model.safetensors"));
  other.resume = root + "/ckpt";
  const std::string msg = test::bad_input_message([&] { train_once(model, data, other, ""); });
  EXPECT_NE(msg.find("other options or data"), std::string::npos) << msg;
}

// Alpaca: the prompt (template + instruction + input) is not scored, the response and EOS
// are; --train-on-inputs scores everything after the first token.
TEST(TrainData, AlpacaMasksTheResponseOnly) {
  const std::string root = test::temp_dir("heal_data");
  const std::string model = test::make_prune_model("llama", root + "/m", 1);
  auto tok = Tokenizer::from_dir(model);
  const std::string data = alpaca_file(root);
  DataOptions d;
  d.seq_len = 200;
  TrainData t = load_train_data(data, *tok, d);
  ASSERT_EQ(t.size(), 12);
  EXPECT_EQ(t.format, "alpaca");
  const std::string prompt = alpaca_prompt("Repeat the word 0", "");
  const int64_t np = static_cast<int64_t>(tok->encode(prompt, true).size());
  const int64_t nfull = static_cast<int64_t>(tok->encode(prompt + "word 0 word 0", true).size()) +
                        (tok->eos_id() ? 1 : 0);
  EXPECT_EQ(t.mask[0].sum().item<int64_t>(), nfull - np);
  EXPECT_FALSE(t.mask[0][np - 1].item<bool>());
  EXPECT_TRUE(t.mask[0][np].item<bool>());
  d.train_on_inputs = true;
  EXPECT_EQ(load_train_data(data, *tok, d).mask[0].sum().item<int64_t>(), nfull - 1);
  EXPECT_NE(prompt.find("### Response:\n"), std::string::npos);
}

TEST(TrainData, TextWindowsAndBadInput) {
  const std::string root = test::temp_dir("heal_text");
  const std::string model = test::make_prune_model("llama", root + "/m", 1);
  auto tok = Tokenizer::from_dir(model);
  DataOptions d;
  d.seq_len = 16;
  write_file_atomic(root + "/t.txt", std::string(100, 'a'));
  TrainData t = load_train_data(root + "/t.txt", *tok, d);
  EXPECT_EQ(t.format, "text");
  const int64_t n = static_cast<int64_t>(tok->encode(std::string(100, 'a'), true).size());
  EXPECT_EQ(t.size(), n / 16);
  EXPECT_EQ(t.mask.sum().item<int64_t>(), t.size() * 15);

  write_file_atomic(root + "/bad.jsonl",
                    "{\"instruction\": \"a\", \"output\": \"b\"}\n{\"instruction\": \"a\"}\n");
  std::string m = test::bad_input_message([&] { load_train_data(root + "/bad.jsonl", *tok, d); });
  EXPECT_NE(m.find("bad.jsonl:2: missing field \"output\""), std::string::npos) << m;
  write_file_atomic(root + "/bad2.jsonl", "{\"instruction\": \"a\", \"output\": \"b\"}\n{oops\n");
  m = test::bad_input_message([&] { load_train_data(root + "/bad2.jsonl", *tok, d); });
  EXPECT_NE(m.find("bad2.jsonl:2"), std::string::npos) << m;
  write_file_atomic(root + "/empty.json", "[]");
  m = test::bad_input_message([&] { load_train_data(root + "/empty.json", *tok, d); });
  EXPECT_NE(m.find("no records"), std::string::npos) << m;
  write_file_atomic(root + "/num.json", "[{\"instruction\": 3, \"output\": \"x\"}]");
  m = test::bad_input_message([&] { load_train_data(root + "/num.json", *tok, d); });
  EXPECT_NE(m.find("record 0: field \"instruction\" must be a string"), std::string::npos) << m;
}
