// tokenizer.json tokenizer (see hf_tokenizer.h). The encode pipeline mirrors HF
// tokenizers' Tokenizer::encode: split on raw added tokens, normalize each remaining
// part, split on normalized added tokens, pre-tokenize, run the model, post-process.
#include "tokenizer/hf_tokenizer.h"

#include <algorithm>
#include <sstream>

#include "tokenizer/unicode.h"
#include "util/error.h"
#include "util/json.h"
#include "util/log.h"

namespace llmprune::tok {

HfTokenizer::HfTokenizer(const std::string& path, const TokenizerConfig& cfg) : path_(path) {
  json j = read_json_file(path);
  if (!j.is_object()) throw bad_input("[tokenizer] ", path, ": expected a JSON object");
  const json& model = require_field(j, "model", "tokenizer.json", path);
  std::string model_type = with_json_errors("[tokenizer] malformed model in " + path, [&] {
    return model.value("type", std::string("BPE"));
  });
  if (model_type != "BPE")
    throw bad_input("[tokenizer] unsupported model type '", model_type, "' in ", path,
                    " (only BPE is implemented)");
  normalizer_ = make_normalizer(j.value("normalizer", json()), path);
  pre_tokenizer_ = make_pre_tokenizer(j.value("pre_tokenizer", json()), path);
  decoder_ = make_decoder(j.value("decoder", json()), path);
  template_ = make_post_processor(j.value("post_processor", json()), path);
  model_ = std::make_unique<BpeModel>(model, path);

  with_json_errors("[tokenizer] malformed added_tokens in " + path, [&] {
    const json& list = j.contains("added_tokens") && !j["added_tokens"].is_null()
                           ? j["added_tokens"] : json::array();
    if (!list.is_array()) throw bad_input("[tokenizer] added_tokens is not a list in ", path);
    for (size_t k = 0; k < list.size(); ++k) {
      const json& t = list[k];
      added_.add(added_token_from_json(
          t, static_cast<TokenId>(json_int(t.at("id"),
                                           "[tokenizer] " + path + ": added_tokens[" +
                                               std::to_string(k) + "].id",
                                           0, kMaxTokenId))));
    }
  });
  // transformers also registers tokens listed only in tokenizer_config.json.
  for (const auto& a : cfg.added_tokens_decoder)
    if (!added_.by_content(a.content)) added_.add(a);
  added_.build(normalizer_.get());

  TokenId max_id = model_->max_id();
  for (const auto& a : added_.tokens()) max_id = std::max(max_id, a.id);
  vocab_size_ = static_cast<int64_t>(max_id) + 1;
  // Ids the post-processor adds must decode, or tokenize would emit ids no model row has.
  for (const auto* ids : {&template_.prefix, &template_.suffix})
    for (TokenId id : *ids)
      if (!token_string(id))
        throw bad_input("[tokenizer] post_processor adds token id ", id,
                        ", which is not in the vocabulary of ", path, " (", vocab_size_,
                        " tokens)");

  bos_ = resolve(cfg.bos);
  eos_ = resolve(cfg.eos);
  if (cfg.llama_style()) {
    // LlamaTokenizerFast.update_post_processor: BOS/EOS from the config flags.
    template_ = SingleTemplate();
    if (cfg.add_bos.value_or(true)) {
      if (!bos_) throw bad_input("[tokenizer] add_bos_token is set but the bos_token is unknown in ", path);
      template_.prefix.push_back(*bos_);
    }
    if (cfg.add_eos.value_or(false)) {
      if (!eos_) throw bad_input("[tokenizer] add_eos_token is set but the eos_token is unknown in ", path);
      template_.suffix.push_back(*eos_);
    }
  }

  std::ostringstream d;
  d << "tokenizer.json BPE ("
    << (model_->byte_fallback() ? "SentencePiece-style, byte fallback" : "byte-level") << "), "
    << vocab_size_ << " tokens, " << model_->n_merges() << " merges, bos="
    << (bos_ ? std::to_string(*bos_) : "<none>") << ", eos="
    << (eos_ ? std::to_string(*eos_) : "<none>") << ", adds [";
  for (size_t k = 0; k < template_.prefix.size(); ++k) d << (k ? " " : "") << template_.prefix[k];
  d << "] before / [";
  for (size_t k = 0; k < template_.suffix.size(); ++k) d << (k ? " " : "") << template_.suffix[k];
  d << "] after";
  description_ = d.str();
}

std::optional<TokenId> HfTokenizer::resolve(const std::optional<std::string>& token) const {
  if (!token) return std::nullopt;
  auto id = token_to_id(*token);
  if (!id) log_warn("[tokenizer] special token '", *token, "' from the config is not in ", path_);
  return id;
}

std::vector<TokenId> HfTokenizer::encode(const std::string& text, bool add_special_tokens) const {
  size_t bad = find_invalid_utf8(text);
  if (bad != std::string::npos) {
    throw bad_input("[tokenizer] input text is not valid UTF-8: byte 0x", std::hex,
                    static_cast<int>(static_cast<unsigned char>(text[bad])), std::dec,
                    " at offset ", bad);
  }
  std::vector<TokenId> ids(template_.prefix);
  ids.reserve(text.size() / 3 + 8);
  std::vector<Piece> pieces;
  auto run_pieces = [&](std::vector<Piece>& ps) {
    if (pre_tokenizer_) pre_tokenizer_->pre_tokenize(ps);
    for (const auto& p : ps) model_->tokenize(p.text, ids);
  };
  for (const Segment& raw : added_.split(text, false)) {
    if (raw.id) {
      ids.push_back(*raw.id);
      continue;
    }
    Piece piece{text.substr(raw.start, raw.end - raw.start), raw.start == 0};
    if (normalizer_) normalizer_->normalize(piece);
    for (const Segment& seg : added_.split(piece.text, true)) {
      if (seg.id) {
        ids.push_back(*seg.id);
        continue;
      }
      pieces.clear();
      if (seg.start == 0 && seg.end == piece.text.size()) {
        pieces.push_back(std::move(piece));
      } else {
        pieces.push_back(
            Piece{piece.text.substr(seg.start, seg.end - seg.start), piece.at_origin && seg.start == 0});
      }
      run_pieces(pieces);
    }
  }
  if (!add_special_tokens) ids.erase(ids.begin(), ids.begin() + template_.prefix.size());
  else ids.insert(ids.end(), template_.suffix.begin(), template_.suffix.end());
  return ids;
}

const std::string* HfTokenizer::token_string(TokenId id) const {
  if (const AddedToken* a = added_.by_id(id)) return &a->content;
  return model_->id_to_token(id);
}

std::string HfTokenizer::decode(const std::vector<TokenId>& ids, bool skip_special_tokens) const {
  std::vector<std::string> tokens;
  tokens.reserve(ids.size());
  for (TokenId id : ids) {
    const std::string* t = token_string(id);
    if (!t) throw bad_input("[tokenizer] cannot decode token id ", id, ": not in the vocabulary of ",
                            path_, " (", vocab_size_, " tokens)");
    if (skip_special_tokens && is_special(id)) continue;
    tokens.push_back(*t);
  }
  if (!decoder_) {
    std::string out;
    for (size_t k = 0; k < tokens.size(); ++k) out += (k ? " " : "") + tokens[k];
    return out;
  }
  decoder_->decode_chain(tokens);
  std::string out;
  for (const auto& t : tokens) out += t;
  return out;
}

std::optional<TokenId> HfTokenizer::token_to_id(const std::string& token) const {
  if (const AddedToken* a = added_.by_content(token)) return a->id;
  return model_->token_to_id(token);
}

std::string HfTokenizer::id_to_token(TokenId id) const {
  const std::string* t = token_string(id);
  if (!t) throw bad_input("[tokenizer] token id ", id, " is out of range for ", path_, " (", vocab_size_, " tokens)");
  return *t;
}

bool HfTokenizer::is_special(TokenId id) const {
  const AddedToken* a = added_.by_id(id);
  return a && a->special;
}

}  // namespace llmprune::tok
