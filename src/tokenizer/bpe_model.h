// The BPE model of a tokenizer.json: vocab, merges as a hash map (id, id) -> (rank, new id),
// byte fallback, unk fusing, ignore_merges, subword prefix/suffix, and a per-word cache.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tokenizer/flat_map.h"
#include "tokenizer/tokenizer.h"
#include "util/json.h"

namespace llmprune::tok {

class BpeModel {
 public:
  // `model` is tokenizer.json's "model" object; `where` names the file for errors.
  BpeModel(const json& model, const std::string& where);

  // Append the ids of one pre-tokenized word (HF BPE::tokenize).
  void tokenize(const std::string& word, std::vector<TokenId>& out) const;

  std::optional<TokenId> token_to_id(const std::string& token) const;
  // Token string of `id`; nullptr when the model has no such id.
  const std::string* id_to_token(TokenId id) const;
  int64_t size() const { return static_cast<int64_t>(vocab_.size()); }
  // True when words are cut before each "▁" that follows another character (see
  // tokenize()); exposed for tests.
  bool splits_at_metaspace() const { return split_at_metaspace_; }
  TokenId max_id() const { return static_cast<TokenId>(tokens_.size()) - 1; }
  bool byte_fallback() const { return byte_fallback_; }
  size_t n_merges() const { return merges_.size(); }

 private:
  struct Merge {
    int32_t rank;
    TokenId new_id;
  };
  static uint64_t pair_key(TokenId a, TokenId b) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
  }
  const Merge* find_merge(TokenId a, TokenId b) const { return merges_.find(pair_key(a, b)); }
  void tokenize_piece(std::string_view word, std::vector<TokenId>& out) const;
  void merge_word(std::string_view word, std::vector<TokenId>& out) const;

  StringIdMap vocab_;
  std::vector<const std::string*> tokens_;  // by id (nullptr for holes), into vocab_ keys
  U64Map<Merge> merges_;
  bool split_at_metaspace_ = false;
  std::optional<TokenId> unk_id_;
  std::string prefix_, suffix_;  // continuing_subword_prefix, end_of_word_suffix
  bool byte_fallback_ = false, fuse_unk_ = false, ignore_merges_ = false;
  TokenId byte_ids_[256];  // id of "<0xXX>" or -1

  // Word -> ids cache (words under kCacheMaxWordBytes), cleared when it grows too large.
  mutable std::mutex cache_mu_;
  mutable std::unordered_map<std::string, std::vector<TokenId>> cache_;
};

}  // namespace llmprune::tok
