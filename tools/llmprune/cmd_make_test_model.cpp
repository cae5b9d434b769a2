// `llmprune make-test-model` (hidden): write a tiny random checkpoint in true Hugging Face
// layout for any supported family, for tests and demos without downloads.
#include <unistd.h>

#include <cstdio>
#include <filesystem>

#include "arch/registry.h"
#include "command.h"
#include "io/safetensors.h"
#include "model/synthetic.h"
#include "tokenizer/byte_tokenizer.h"
#include "tokenizer/tokenizer.h"
#include "util/fs.h"
#include "util/log.h"

namespace llmprune::cli {
namespace {

struct MakeTestModelOptions {
  std::string family = "llama", out, report, max_shard_size;
  SyntheticOptions syn;
  bool vocab_given = false, byte_tokenizer = false;
};

void run_make_test_model(MakeTestModelOptions& o) {
  if (!o.max_shard_size.empty()) o.syn.max_shard_bytes = parse_byte_size(o.max_shard_size);
  std::string fixture_dir;
  if (o.byte_tokenizer) {
    LLMPRUNE_CHECK(o.syn.tokenizer_from.empty(),
                   "--byte-tokenizer and --tokenizer-from cannot be combined");
    remove_stale_litter(o.out, ".tokenizer-");  // fixtures of killed runs
    fixture_dir = o.out + ".tokenizer-" + std::to_string(::getpid());
    write_dir_atomic(fixture_dir, true, [](const std::string& dir) {
      write_file_atomic(join_path(dir, "tokenizer.json"), byte_level_tokenizer_json());
    });
    o.syn.tokenizer_from = fixture_dir;
  }
  struct Cleanup {
    std::string dir;
    ~Cleanup() {
      std::error_code ec;
      if (!dir.empty()) std::filesystem::remove_all(dir, ec);
    }
  } cleanup{fixture_dir};
  if (!o.syn.tokenizer_from.empty() && !o.vocab_given) {
    // Embeddings must cover every id the copied tokenizer can produce.
    o.syn.vocab = Tokenizer::from_dir(o.syn.tokenizer_from)->vocab_size();
  }
  ModelSpec spec = make_test_model(o.family, o.out, o.syn);
  log_info("wrote a random ", spec.family, " checkpoint (", spec.n_layers(), " layers, hidden ",
           spec.hidden_size, ", vocab ", spec.vocab_size, ") to ", o.out);
  std::printf("%s\n", o.out.c_str());
  write_report(o.report, json{{"command", "make-test-model"},
                              {"family", spec.family},
                              {"out", o.out},
                              {"layers", spec.n_layers()},
                              {"hidden_size", spec.hidden_size},
                              {"vocab_size", spec.vocab_size},
                              {"seed", o.syn.seed},
                              {"dtype", o.syn.dtype}});
}

}  // namespace

LLMPRUNE_COMMAND("", 90) {
  auto o = std::make_shared<MakeTestModelOptions>();
  CLI::App* cmd = app.add_subcommand(
      "make-test-model", "write a tiny random checkpoint in Hugging Face layout (for tests)");
  cmd->group("");  // hidden from --help
  cmd->footer("Families: " + supported_families() +
              "\n\nExample:\n  llmprune make-test-model --family qwen2 --out /tmp/tiny-qwen2 "
              "--layers 2 --tokenizer-from ../shared/assets/models/stories260K-hf");
  cmd->add_option("--family", o->family, "model family")
      ->check(CLI::IsMember([] {
        std::vector<std::string> names;
        for (const Family* f : families()) names.push_back(f->name());
        return names;
      }()))
      ->capture_default_str();
  cmd->add_option("-o,--out", o->out, "output folder (must not exist unless --overwrite)")
      ->required();
  auto& s = o->syn;
  cmd->add_option("--layers", s.n_layers, "decoder layers")->capture_default_str();
  cmd->add_option("--hidden", s.hidden, "hidden size")->capture_default_str();
  cmd->add_option("--heads", s.heads, "attention heads")->capture_default_str();
  cmd->add_option("--kv-heads", s.kv_heads, "key/value heads (GQA)")->capture_default_str();
  cmd->add_option("--head-dim", s.head_dim, "head dim (0 = hidden / heads)")->capture_default_str();
  cmd->add_option("--intermediate", s.intermediate, "MLP intermediate size")->capture_default_str();
  auto* vocab = cmd->add_option("--vocab", s.vocab,
                                "vocabulary size (default: the tokenizer's with --tokenizer-from)")
                    ->capture_default_str();
  cmd->add_option("--max-pos", s.max_position_embeddings, "max_position_embeddings")
      ->capture_default_str();
  cmd->add_option("--sliding-window", s.sliding_window,
                  "sliding window on every layer (mistral, qwen2, phi3; 0 = none)")
      ->capture_default_str();
  cmd->add_option("--activation", s.activation,
                  "MLP activation: silu, relu, gelu (default: the family's; opt: relu)")
      ->check(CLI::IsMember({"silu", "relu", "gelu"}));
  cmd->add_flag("--post-ln", s.post_norm,
                "opt: post-LN layers, do_layer_norm_before=false (the opt-350m layout)");
  cmd->add_option("--word-embed-proj-dim", s.embed_dim,
                  "opt: token embedding width different from --hidden (project_in/project_out)")
      ->capture_default_str();
  cmd->add_option("--seed", s.seed, "random seed of the weights")->capture_default_str();
  cmd->add_option("--dtype", s.dtype, "stored dtype")
      ->check(CLI::IsMember({"f32", "bf16", "f16"}))
      ->capture_default_str();
  cmd->add_flag("--tie", s.tie, "tie_word_embeddings (no lm_head.weight)");
  cmd->add_option("--tokenizer-from", s.tokenizer_from, "copy tokenizer files from this model");
  cmd->add_option("--max-shard-size", o->max_shard_size,
                  "split the weights into shards of at most this size (e.g. 500MB, 2GiB, 40000) "
                  "with a model.safetensors.index.json");
  cmd->add_flag("--byte-tokenizer", o->byte_tokenizer,
                "write a byte-level tokenizer.json (257 tokens: bytes + <|endoftext|> as BOS/EOS)");
  cmd->add_flag("--overwrite", s.overwrite, "replace an existing output model folder");
  add_report_option(cmd, o->report);
  cmd->callback([o, vocab] {
    o->vocab_given = vocab->count() > 0;
    run_make_test_model(*o);
  });
}

}  // namespace llmprune::cli
