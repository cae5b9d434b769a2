// Post-processors: which special tokens encode(..., add_special_tokens=true) adds where
// (TemplateProcessing, BertProcessing, RobertaProcessing, ByteLevel (ids unchanged), Sequence).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "tokenizer/tokenizer.h"
#include "util/json.h"

namespace llmprune::tok {

// The single-sequence template, flattened: ids before and after the sequence.
struct SingleTemplate {
  std::vector<TokenId> prefix, suffix;
};

// Build from tokenizer.json's "post_processor" (null gives an empty template). Throws
// bad_input for unknown types: "unsupported post_processor type 'X' in <where>".
SingleTemplate make_post_processor(const json& j, const std::string& where);

}  // namespace llmprune::tok
