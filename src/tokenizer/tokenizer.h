// Tokenizer: Hugging Face-exact encoding/decoding for a model folder.
//
// CONTRACT (used by eval/, calib/, serve/): the declarations below are stable; the
// implementation may add members but must keep these signatures and semantics.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace llmprune {

using TokenId = int32_t;
// Largest token id accepted from any file or flag: far above real vocabularies (256k) and
// equal to the config limit (arch/hf_config.h kMaxVocabSize - 1), so id tables stay small.
constexpr TokenId kMaxTokenId = (1 << 24) - 1;

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  // Load from a model folder: tokenizer.json when present, else tokenizer.model
  // (SentencePiece), plus tokenizer_config.json / special_tokens_map.json.
  // Throws bad_input naming the file when nothing usable is there or it is malformed.
  static std::unique_ptr<Tokenizer> from_dir(const std::string& dir);

  // add_special_tokens: apply the post-processor / add_bos_token / add_eos_token rules,
  // exactly as HF tokenizer.encode(text, add_special_tokens=...) does.
  virtual std::vector<TokenId> encode(const std::string& text,
                                      bool add_special_tokens = true) const = 0;
  virtual std::string decode(const std::vector<TokenId>& ids,
                             bool skip_special_tokens = false) const = 0;

  virtual int64_t vocab_size() const = 0;  // including added tokens
  virtual std::optional<TokenId> token_to_id(const std::string& token) const = 0;
  virtual std::string id_to_token(TokenId id) const = 0;  // bad_input when out of range
  virtual std::optional<TokenId> bos_id() const = 0;
  virtual std::optional<TokenId> eos_id() const = 0;
  virtual bool is_special(TokenId id) const = 0;
  // Human summary: "tokenizer.json BPE (byte-level), 50257 tokens, bos=<none>, eos=50256".
  virtual std::string describe() const = 0;
};

// Incremental detokenizer for streaming generation: push ids one at a time, get the new
// text that is complete (incomplete UTF-8 sequences and pending SentencePiece spaces held back).
// Works like HF's DecodeStream: it decodes a short window of recent ids, emits what the
// window adds beyond the text already emitted, and holds text back while it ends in an
// incomplete UTF-8 sequence or U+FFFD (a byte-fallback/byte-level character still in parts).
class StreamDecoder {
 public:
  explicit StreamDecoder(const Tokenizer& tok, bool skip_special_tokens = true);
  std::string push(TokenId id);  // newly printable text (may be empty)
  std::string flush();           // whatever is still held back

 private:
  const Tokenizer& tok_;
  bool skip_special_;
  std::vector<TokenId> ids_;    // the window: context ids + ids not yet emitted
  size_t emitted_bytes_ = 0;    // length of decode(ids_[0, prefix_index_))
  size_t prefix_index_ = 0;     // ids_[0, prefix_index_) are context already emitted
};

}  // namespace llmprune
