// Training data for healing: Alpaca-style JSON (instruction / input / output, the standard
// Alpaca prompt template, loss on the response only unless train_on_inputs) or plain text /
// jsonl "text" (causal LM on packed windows). Each example is a window of seq_len tokens with
// a mask of the tokens that are scored.
#pragma once

#include <torch/torch.h>

#include <string>

#include "tokenizer/tokenizer.h"

namespace llmprune {

struct TrainData {
  torch::Tensor ids;    // [N, T] int64
  torch::Tensor mask;   // [N, T] bool: token t scored (as the target of position t - 1)
  std::string format;   // "alpaca" | "text"
  int64_t records = 0;  // records read (alpaca) or text tokens (text)
  int64_t size() const { return ids.defined() ? ids.size(0) : 0; }
};

struct DataOptions {
  int64_t seq_len = 256;
  bool train_on_inputs = false;
};

// The Alpaca prompt (everything before the response).
std::string alpaca_prompt(const std::string& instruction, const std::string& input);

// Read `path`: .json (a list of alpaca records, or of {"text"} / strings), .jsonl (one object
// per line: alpaca fields or "text"), anything else plain text. bad_input for an empty file,
// malformed JSON (file and line / record named), or a record missing its field.
TrainData load_train_data(const std::string& path, const Tokenizer& tok, const DataOptions& o);

// Rows [begin, end) of `d`.
TrainData slice(const TrainData& d, int64_t begin, int64_t end);

}  // namespace llmprune
