// Added tokens (special and user-added): matched in the text before the model runs,
// longest first at the leftmost position, honouring lstrip / rstrip / single_word, with
// non-normalized tokens matched on the raw text and normalized ones after normalization.
#pragma once

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace llmprune::tok {

class Normalizer;

struct AddedToken {
  std::string content;
  TokenId id = 0;
  bool special = false, lstrip = false, rstrip = false, single_word = false, normalized = false;
};

// An added-token object as tokenizer.json's "added_tokens" and tokenizer_config.json's
// "added_tokens_decoder" write it ({"content", "special", "lstrip", ...}; "normalized"
// defaults to !special as in HF). Throws nlohmann's exceptions on missing/mistyped keys.
AddedToken added_token_from_json(const nlohmann::json& t, TokenId id);

// A part of a text: either plain text [start, end) or an added token's id.
struct Segment {
  size_t start, end;
  std::optional<TokenId> id;
};

class AddedVocab {
 public:
  void add(const AddedToken& t);  // a token with the same content replaces the earlier one
  // Build the two matchers; `normalizer` (may be null) is applied to normalized tokens'
  // content, as HF does, so they match normalized text.
  void build(const Normalizer* normalizer);

  // Split `text` on the raw (normalized=false) or normalized (normalized=true) token set.
  std::vector<Segment> split(std::string_view text, bool normalized_set) const;

  const AddedToken* by_id(TokenId id) const;
  const AddedToken* by_content(const std::string& content) const;
  const std::vector<AddedToken>& tokens() const { return tokens_; }
  bool empty() const { return tokens_.empty(); }

 private:
  struct Matcher {
    // first byte -> indices into patterns, longest first
    std::vector<std::vector<size_t>> by_first_byte = std::vector<std::vector<size_t>>(256);
    std::vector<std::string> patterns;
    std::vector<size_t> token_index;  // pattern -> tokens_ index
  };
  void build_matcher(Matcher& m, bool normalized, const Normalizer* normalizer);

  std::vector<AddedToken> tokens_;
  std::unordered_map<TokenId, size_t> by_id_;
  std::unordered_map<std::string, size_t> by_content_;
  Matcher raw_, normalized_;
};

}  // namespace llmprune::tok
