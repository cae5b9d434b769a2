// Tokenizer::from_dir (choose tokenizer.json or tokenizer.model) and StreamDecoder.
#include "tokenizer/tokenizer.h"

#include "tokenizer/hf_tokenizer.h"
#include "tokenizer/load.h"
#include "tokenizer/spm_tokenizer.h"
#include "tokenizer/tokenizer_config.h"
#include "tokenizer/unicode.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/log.h"

namespace llmprune {
namespace tok {

std::unique_ptr<Tokenizer> load_tokenizer(const std::string& dir, TokenizerSource source) {
  LLMPRUNE_CHECK(is_directory(dir), "[tokenizer] model folder ", dir, " does not exist or is not a folder");
  std::string json_path = join_path(dir, "tokenizer.json");
  std::string spm_path = join_path(dir, "tokenizer.model");
  bool have_json = path_exists(json_path), have_spm = path_exists(spm_path);
  if (source == TokenizerSource::kAuto) {
    if (!have_json && !have_spm)
      throw bad_input("[tokenizer] ", dir, " has no tokenizer.json or tokenizer.model");
    source = have_json ? TokenizerSource::kTokenizerJson : TokenizerSource::kSentencePiece;
  }
  TokenizerConfig cfg = read_tokenizer_config(dir);
  if (source == TokenizerSource::kTokenizerJson) {
    LLMPRUNE_CHECK(have_json, "[tokenizer] ", json_path, " does not exist");
    return std::make_unique<HfTokenizer>(json_path, cfg);
  }
  LLMPRUNE_CHECK(have_spm, "[tokenizer] ", spm_path, " does not exist");
  return std::make_unique<SpmTokenizer>(spm_path, cfg);
}

TokenizerSource parse_tokenizer_source(const std::string& s) {
  if (s == "auto") return TokenizerSource::kAuto;
  if (s == "json") return TokenizerSource::kTokenizerJson;
  if (s == "spm") return TokenizerSource::kSentencePiece;
  throw bad_input("[tokenizer] unknown tokenizer source '", s, "' (expected auto, json or spm)");
}

}  // namespace tok

std::unique_ptr<Tokenizer> Tokenizer::from_dir(const std::string& dir) {
  return tok::load_tokenizer(dir, tok::TokenizerSource::kAuto);
}

StreamDecoder::StreamDecoder(const Tokenizer& tok, bool skip_special_tokens)
    : tok_(tok), skip_special_(skip_special_tokens) {}

std::string StreamDecoder::push(TokenId id) {
  ids_.push_back(id);
  std::string text = tok_.decode(ids_, skip_special_);
  if (text.size() <= emitted_bytes_) return "";
  // Hold back a character still arriving in pieces (byte fallback / byte-level tokens).
  if (tok::complete_utf8_prefix(text) != text.size()) return "";
  if (text.size() >= 3 && text.compare(text.size() - 3, 3, "\xEF\xBF\xBD") == 0) return "";
  std::string fresh = text.substr(emitted_bytes_);
  // Keep the window short: the ids after the old prefix become the new context, so the
  // decoder still sees one token before the next id (SentencePiece's leading-space rule).
  size_t new_prefix_index = ids_.size() - prefix_index_;
  ids_.erase(ids_.begin(), ids_.begin() + prefix_index_);
  emitted_bytes_ = tok_.decode(ids_, skip_special_).size();
  prefix_index_ = new_prefix_index;
  return fresh;
}

std::string StreamDecoder::flush() {
  std::string text = tok_.decode(ids_, skip_special_);
  std::string rest = text.size() > emitted_bytes_ ? text.substr(emitted_bytes_) : "";
  emitted_bytes_ = text.size();
  prefix_index_ = ids_.size();
  return rest;
}

}  // namespace llmprune
