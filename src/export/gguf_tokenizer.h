// Tokenizer metadata of a GGUF export (tokenizer.ggml.*): SentencePiece-style vocabularies as
// llama.cpp's "llama" model (tokens, scores, token types) from tokenizer.json or
// tokenizer.model, byte-level BPE as "gpt2" (tokens, merges, types, pre-tokenizer name),
// special token ids, add_bos / add_eos and the chat template.
#pragma once

#include <cstdint>
#include <string>

#include "io/gguf.h"

namespace llmprune {

// llama.cpp's token types (llama_token_type).
enum class GgufTokenType : int32_t {
  kNormal = 1,
  kUnknown = 2,
  kControl = 3,
  kUserDefined = 4,
  kUnused = 5,
  kByte = 6,
};

// The tokenizer.* keys for the model folder `dir`, with `n_vocab` tokens (the embedding rows:
// missing ids are padded as llama.cpp's converter does, "[PAD<id>]" unused tokens). `config`
// is config.json (fallback for bos/eos ids). bad_input naming the file for a tokenizer GGUF
// cannot express (an unknown pre-tokenizer, a Unigram model, no tokenizer file at all).
GgufMetadata gguf_tokenizer_metadata(const std::string& dir, int64_t n_vocab, const json& config);

}  // namespace llmprune
