// A minimal byte-level BPE tokenizer.json (256 byte tokens, no merges, GPT-2 byte mapping):
// any text encodes (one token per byte) and round-trips. For synthetic test models.
#pragma once

#include <string>

namespace llmprune {

// The tokenizer.json text; ids 0..255 are the bytes, 256 is "<|endoftext|>" (BOS/EOS).
std::string byte_level_tokenizer_json();

}  // namespace llmprune
