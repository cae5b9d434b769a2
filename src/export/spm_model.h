// A SentencePiece tokenizer.model (a serialized sentencepiece.ModelProto) read without
// libsentencepiece: the pieces with their scores and types, and the model type. Only the
// fields GGUF needs are decoded; the rest is skipped by wire type.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace llmprune {

struct SpmPiece {
  std::string piece;
  float score = 0.0f;
  int32_t type = 1;  // NORMAL=1 UNKNOWN=2 CONTROL=3 USER_DEFINED=4 UNUSED=5 BYTE=6
};

struct SpmModel {
  std::vector<SpmPiece> pieces;
  bool bpe = false;  // trainer_spec.model_type == BPE (else Unigram, word or char)
};

// bad_input naming `path` for a file that is not a well-formed ModelProto.
SpmModel read_spm_model(const std::string& path);

}  // namespace llmprune
