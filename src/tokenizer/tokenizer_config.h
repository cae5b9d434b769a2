// The transformers-side settings of a model folder: tokenizer_config.json and
// special_tokens_map.json (BOS/EOS/UNK/PAD strings, add_bos_token / add_eos_token, the
// tokenizer class, added_tokens_decoder).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "tokenizer/added_tokens.h"

namespace llmprune::tok {

struct TokenizerConfig {
  std::optional<std::string> bos, eos, unk, pad;
  std::optional<bool> add_bos, add_eos;
  std::string tokenizer_class;  // "" when not given
  std::vector<AddedToken> added_tokens_decoder;
  std::vector<std::string> files;  // which files were read (for describe())

  // transformers' Llama-style fast tokenizers rebuild the post-processor from
  // add_bos_token / add_eos_token (LlamaTokenizerFast.update_post_processor).
  bool llama_style() const;
};

// Read both files when present (tokenizer_config.json wins); missing files give defaults,
// malformed ones throw bad_input naming the file.
TokenizerConfig read_tokenizer_config(const std::string& dir);

}  // namespace llmprune::tok
