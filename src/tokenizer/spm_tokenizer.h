// Tokenizer for a SentencePiece tokenizer.model, through the dlopen'ed libllmprune_spm
// shim (never linked directly: see spm_shim/spm_shim.cc for why).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "tokenizer/added_tokens.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/tokenizer_config.h"

namespace llmprune::tok {

struct SpmShim;  // the resolved shim functions

class SpmTokenizer : public Tokenizer {
 public:
  SpmTokenizer(const std::string& model_path, const TokenizerConfig& cfg);
  ~SpmTokenizer() override;

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
  std::vector<TokenId> sp_encode(const std::string& text) const;
  std::string sp_decode(const std::vector<TokenId>& ids) const;

  const SpmShim* shim_;
  void* handle_ = nullptr;
  std::string path_;
  int32_t n_pieces_ = 0;
  int64_t vocab_size_ = 0;
  AddedVocab added_;  // control pieces + config special/added tokens, split before encoding
  std::optional<TokenId> bos_, eos_;
  bool add_bos_ = true, add_eos_ = false;
  std::string description_;
};

// Path the shim was (or would be) loaded from, for messages and tests.
std::string spm_shim_path();

}  // namespace llmprune::tok
