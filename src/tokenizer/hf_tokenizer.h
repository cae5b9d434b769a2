// Tokenizer driven by a Hugging Face tokenizer.json: added tokens -> normalizer ->
// pre-tokenizer -> BPE -> post-processor, and the decoder chain back.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "tokenizer/added_tokens.h"
#include "tokenizer/bpe_model.h"
#include "tokenizer/components.h"
#include "tokenizer/post_processor.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/tokenizer_config.h"

namespace llmprune::tok {

class HfTokenizer : public Tokenizer {
 public:
  // Parse `path` (a tokenizer.json) with the folder's transformers settings `cfg`.
  HfTokenizer(const std::string& path, const TokenizerConfig& cfg);

  std::vector<TokenId> encode(const std::string& text, bool add_special_tokens = true) const override;
  std::string decode(const std::vector<TokenId>& ids, bool skip_special_tokens = false) const override;
  int64_t vocab_size() const override { return vocab_size_; }
  std::optional<TokenId> token_to_id(const std::string& token) const override;
  std::string id_to_token(TokenId id) const override;
  std::optional<TokenId> bos_id() const override { return bos_; }
  std::optional<TokenId> eos_id() const override { return eos_; }
  bool is_special(TokenId id) const override;
  std::string describe() const override { return description_; }

 private:
  const std::string* token_string(TokenId id) const;  // nullptr when unknown
  std::optional<TokenId> resolve(const std::optional<std::string>& token) const;

  std::string path_;
  std::unique_ptr<Normalizer> normalizer_;
  std::unique_ptr<PreTokenizer> pre_tokenizer_;
  std::unique_ptr<BpeModel> model_;
  std::unique_ptr<Decoder> decoder_;
  AddedVocab added_;
  SingleTemplate template_;
  std::optional<TokenId> bos_, eos_;
  int64_t vocab_size_ = 0;
  std::string description_;
};

}  // namespace llmprune::tok
