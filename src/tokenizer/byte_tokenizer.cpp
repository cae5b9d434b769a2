// Byte-level tokenizer.json fixture (see byte_tokenizer.h).
#include "tokenizer/byte_tokenizer.h"

#include "tokenizer/unicode.h"
#include "util/json.h"

namespace llmprune {

std::string byte_level_tokenizer_json() {
  json vocab = json::object();
  const auto& table = tok::byte_to_unicode();
  for (int b = 0; b < 256; ++b) vocab[table[b]] = b;
  vocab["<|endoftext|>"] = 256;
  json byte_level{{"type", "ByteLevel"},
                  {"add_prefix_space", false},
                  {"trim_offsets", true},
                  {"use_regex", true}};
  json tok{{"version", "1.0"},
           {"truncation", nullptr},
           {"padding", nullptr},
           {"added_tokens",
            {{{"id", 256},
              {"content", "<|endoftext|>"},
              {"single_word", false},
              {"lstrip", false},
              {"rstrip", false},
              {"normalized", false},
              {"special", true}}}},
           {"normalizer", nullptr},
           {"pre_tokenizer", byte_level},
           {"post_processor",
            {{"type", "TemplateProcessing"},
             {"single", {{{"SpecialToken", {{"id", "<|endoftext|>"}, {"type_id", 0}}}},
                         {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}}},
             {"pair", {{{"Sequence", {{"id", "A"}, {"type_id", 0}}}},
                       {{"Sequence", {{"id", "B"}, {"type_id", 1}}}}}},
             {"special_tokens",
              {{"<|endoftext|>", {{"id", "<|endoftext|>"}, {"ids", {256}}, {"tokens", {"<|endoftext|>"}}}}}}}},
           {"decoder", byte_level},
           {"model",
            {{"type", "BPE"},
             {"dropout", nullptr},
             {"unk_token", nullptr},
             {"continuing_subword_prefix", nullptr},
             {"end_of_word_suffix", nullptr},
             {"fuse_unk", false},
             {"byte_fallback", false},
             {"vocab", vocab},
             {"merges", json::array()}}}};
  return tok.dump(1);
}

}  // namespace llmprune
