// `llmprune tokenize` and `llmprune detokenize`: text <-> token ids with a model folder's
// tokenizer (tokenizer.json, else tokenizer.model); only the tokenizer files are needed.
#include <iostream>
#include <iterator>

#include "command.h"
#include "tokenizer/load.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/timer.h"

namespace llmprune::cli {
namespace {

struct TokenizeOpts {
  std::string model, text, file, source = "auto", report;
  bool have_text = false, no_special = false, as_json = false, verbose = false;
};

struct DetokenizeOpts {
  std::string model, ids, source = "auto", report;
  bool skip_special = false, raw = false;
};

void add_source_option(CLI::App* cmd, std::string& source) {
  cmd->add_option("--tokenizer", source,
                  "which file to use: auto (tokenizer.json if present, else tokenizer.model), "
                  "json, or spm (tokenizer.model through sentencepiece)")
      ->check(CLI::IsMember({"auto", "json", "spm"}))
      ->capture_default_str();
}

void run_tokenize(const TokenizeOpts& o) {
  LLMPRUNE_CHECK(o.have_text != !o.file.empty(), "[tokenize] give exactly one of --text or --file");
  std::string text = o.have_text ? o.text : read_file(o.file);
  auto tk = tok::load_tokenizer(o.model, tok::parse_tokenizer_source(o.source));
  log_info(tk->describe());
  Timer t;
  auto ids = tk->encode(text, !o.no_special);
  double secs = t.seconds();
  log_info(ids.size(), " tokens from ", text.size(), " bytes in ", secs, " s");

  json pieces = json::array();
  if (o.verbose || o.as_json)
    for (TokenId id : ids) pieces.push_back(tk->id_to_token(id));
  if (o.as_json) {
    json out = {{"ids", ids}, {"n_tokens", ids.size()}};
    if (o.verbose) out["pieces"] = pieces;
    std::cout << out.dump() << "\n";
  } else if (o.verbose) {
    for (size_t k = 0; k < ids.size(); ++k)
      std::cout << ids[k] << "\t" << pieces[k].dump() << (tk->is_special(ids[k]) ? "\tspecial" : "") << "\n";
  } else {
    for (size_t k = 0; k < ids.size(); ++k) std::cout << (k ? " " : "") << ids[k];
    std::cout << "\n";
  }
  write_report(o.report, {{"command", "tokenize"},
                          {"model", o.model},
                          {"tokenizer", tk->describe()},
                          {"add_special_tokens", !o.no_special},
                          {"n_bytes", text.size()},
                          {"n_tokens", ids.size()},
                          {"seconds", secs},
                          {"ids", ids}});
}

// Ids separated by spaces, commas, newlines or JSON brackets ("1 2 3", "[1, 2, 3]").
std::vector<TokenId> parse_ids(const std::string& s) {
  std::vector<TokenId> ids;
  size_t i = 0;
  while (i < s.size()) {
    char c = s[i];
    if (c == ' ' || c == ',' || c == '[' || c == ']' || c == '\n' || c == '\r' || c == '\t') {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < s.size() && s[j] >= '0' && s[j] <= '9') ++j;
    if (j == i) {
      size_t end = s.find_first_of(" ,[]\n\r\t", i);
      throw bad_input("[detokenize] '", s.substr(i, end == std::string::npos ? end : end - i),
                      "' is not a token id (expected non-negative integers)");
    }
    // Length first: stoll would throw out_of_range on 20 digits.
    LLMPRUNE_CHECK(j - i <= 9 && std::stoll(s.substr(i, j - i)) <= kMaxTokenId,
                   "[detokenize] token id ", s.substr(i, j - i), " is too large (max ",
                   kMaxTokenId, ")");
    long long v = std::stoll(s.substr(i, j - i));
    ids.push_back(static_cast<TokenId>(v));
    i = j;
  }
  return ids;
}

void run_detokenize(const DetokenizeOpts& o) {
  std::string input = o.ids;
  if (input.empty()) {
    input.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  }
  auto ids = parse_ids(input);
  auto tk = tok::load_tokenizer(o.model, tok::parse_tokenizer_source(o.source));
  log_info(tk->describe());
  std::string text = tk->decode(ids, o.skip_special);
  std::cout << text;
  if (!o.raw) std::cout << "\n";
  write_report(o.report, {{"command", "detokenize"},
                          {"model", o.model},
                          {"tokenizer", tk->describe()},
                          {"n_tokens", ids.size()},
                          {"skip_special_tokens", o.skip_special},
                          {"text", text}});
}

}  // namespace

LLMPRUNE_COMMAND("", 30) {
  auto o = std::make_shared<TokenizeOpts>();
  CLI::App* cmd = app.add_subcommand(
      "tokenize", "turn text into token ids with a model folder's tokenizer (HF-exact)");
  cmd->footer(
      "Uses tokenizer.json when present, else tokenizer.model (SentencePiece), plus\n"
      "tokenizer_config.json for BOS/EOS rules. Only the tokenizer files are needed.\n"
      "Input must be valid UTF-8 (an invalid byte is an error naming its offset).\n\n"
      "Examples:\n"
      "  llmprune tokenize --model ../shared/assets/models/stories260K-hf --text 'Once upon a time'\n"
      "  llmprune tokenize --model DIR --file input.txt --no-special --json\n"
      "  llmprune tokenize --model DIR --text 'Hello world' --verbose   # id<TAB>piece per line");
  add_model_option(cmd, o->model);
  auto* text_opt = cmd->add_option("--text", o->text, "the text to encode");
  cmd->add_option("--file", o->file, "encode the contents of FILE instead")
      ->type_name("FILE")
      ->excludes(text_opt);
  cmd->add_flag("--no-special", o->no_special,
                "do not add BOS/EOS (HF add_special_tokens=False)");
  cmd->add_flag("--json", o->as_json, "print {\"ids\": [...], \"n_tokens\": N} on stdout");
  cmd->add_flag("--verbose", o->verbose, "print one 'id<TAB>piece' line per token");
  add_source_option(cmd, o->source);
  add_report_option(cmd, o->report);
  cmd->callback([o, text_opt] {
    o->have_text = text_opt->count() > 0;
    run_tokenize(*o);
  });
}

LLMPRUNE_COMMAND("", 31) {
  auto o = std::make_shared<DetokenizeOpts>();
  CLI::App* cmd = app.add_subcommand("detokenize", "turn token ids back into text");
  cmd->footer(
      "Ids come from --ids or stdin, separated by spaces or commas ('[1, 2]' works too).\n"
      "The text is printed followed by a newline (none with --raw).\n\n"
      "Examples:\n"
      "  llmprune detokenize --model DIR --ids '1 403 407 261 378'\n"
      "  llmprune tokenize --model DIR --text 'Hi' | llmprune detokenize --model DIR --skip-special");
  add_model_option(cmd, o->model);
  cmd->add_option("--ids", o->ids, "token ids, e.g. \"1 2 3\" (default: read stdin)");
  cmd->add_flag("--skip-special", o->skip_special, "drop special tokens (BOS, EOS, ...)");
  cmd->add_flag("--raw", o->raw, "print exactly the decoded text, without a final newline");
  add_source_option(cmd, o->source);
  add_report_option(cmd, o->report);
  cmd->callback([o] { run_detokenize(*o); });
}

}  // namespace llmprune::cli
