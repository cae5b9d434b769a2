// Loading a tokenizer with an explicit choice of file (from_dir picks tokenizer.json
// first); used by tests and the CLI's --tokenizer-source option.
#pragma once

#include <memory>
#include <string>

#include "tokenizer/tokenizer.h"

namespace llmprune::tok {

enum class TokenizerSource { kAuto, kTokenizerJson, kSentencePiece };

// kAuto: tokenizer.json when present, else tokenizer.model. Throws bad_input naming the
// folder when the chosen file is missing.
std::unique_ptr<Tokenizer> load_tokenizer(const std::string& dir,
                                          TokenizerSource source = TokenizerSource::kAuto);

// "auto" | "json" | "spm" -> TokenizerSource (bad_input otherwise).
TokenizerSource parse_tokenizer_source(const std::string& s);

}  // namespace llmprune::tok
