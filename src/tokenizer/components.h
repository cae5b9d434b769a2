// The pipeline stages of a tokenizer.json (normalizer, pre-tokenizer, decoder), each built
// from its JSON object by a factory that rejects unknown "type"s by name.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "util/json.h"

namespace llmprune::tok {

class Regex;

// A span of text on its way to the model. `at_origin` says whether its first character
// maps to byte 0 of the original input (HF's offsets_original().0 == 0), which Metaspace's
// prepend_scheme "first" depends on.
struct Piece {
  std::string text;
  bool at_origin = false;
};

class Normalizer {
 public:
  virtual ~Normalizer() = default;
  virtual void normalize(Piece& p) const = 0;
};

class PreTokenizer {
 public:
  virtual ~PreTokenizer() = default;
  // Split/transform every piece of `pieces` in place; empty pieces are dropped.
  virtual void pre_tokenize(std::vector<Piece>& pieces) const = 0;
};

class Decoder {
 public:
  virtual ~Decoder() = default;
  // HF's decode_chain: tokens in, (possibly fewer) strings out; the caller concatenates.
  virtual void decode_chain(std::vector<std::string>& tokens) const = 0;
};

// Factories. `where` names the file for error messages ("<dir>/tokenizer.json"). A JSON
// null gives nullptr (no stage). Unknown types throw bad_input:
//   "[tokenizer] unsupported pre_tokenizer type 'X' in <where>".
std::unique_ptr<Normalizer> make_normalizer(const json& j, const std::string& where);
std::unique_ptr<PreTokenizer> make_pre_tokenizer(const json& j, const std::string& where);
std::unique_ptr<Decoder> make_decoder(const json& j, const std::string& where);

// How a Split keeps the delimiters it finds (HF's SplitDelimiterBehavior).
enum class SplitBehavior { kRemoved, kIsolated, kMergedWithPrevious, kMergedWithNext, kContiguous };

// Shared by pre-tokenizers: `spans` cover piece.text completely, in order, each flagged as
// a match (delimiter) or not; append the resulting non-empty pieces to `out`.
struct Span {
  size_t start, end;
  bool is_match;
};
void split_piece(const Piece& piece, const std::vector<Span>& spans, SplitBehavior behavior,
                 std::vector<Piece>& out);

// Helpers for reading component JSON with errors naming the file and component.
const json& require_field(const json& j, const char* key, const std::string& what,
                          const std::string& where);
std::string type_of(const json& j, const std::string& what, const std::string& where);
// The components a "Sequence" stands for, nested Sequences expanded in application order
// (a Sequence of Sequences applies the same steps as one flat Sequence), nulls dropped.
// Walked with an explicit stack: nesting is legitimate, so its depth must not be able to
// exhaust ours. `list_key` is the field holding the parts ("normalizers", "decoders", ...).
std::vector<const json*> flatten_sequence(const json& j, const char* list_key,
                                          const std::string& what, const std::string& where);
// "pattern": {"String": s} or {"Regex": r}: returns (s, nullptr) or ("", compiled r).
std::pair<std::string, std::unique_ptr<Regex>> parse_pattern(const json& j, const std::string& what,
                                                             const std::string& where);

}  // namespace llmprune::tok
