// tokenizer.json pre-tokenizers: Sequence, ByteLevel, Split, Metaspace, Digits, Whitespace,
// WhitespaceSplit, Punctuation, BertPreTokenizer. Semantics follow Hugging Face tokenizers
// (pre_tokenizers/*.rs): each splits pieces into smaller pieces, never across pieces.
#include <algorithm>
#include <functional>

#include "tokenizer/components.h"
#include "tokenizer/regex.h"
#include "tokenizer/unicode.h"
#include "util/error.h"

namespace llmprune::tok {
namespace {

// GPT-2's pattern, used by ByteLevel when use_regex is true.
const char* kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

// Spans for a regex: matches flagged (or unflagged when inverted), gaps in between.
std::vector<Span> regex_spans(const Regex& re, const std::string& s, bool invert) {
  std::vector<Span> spans;
  size_t prev = 0;
  for (const auto& m : re.find_all(s)) {
    if (prev != m.start) spans.push_back({prev, m.start, invert});
    spans.push_back({m.start, m.end, !invert});
    prev = m.end;
  }
  if (prev != s.size()) spans.push_back({prev, s.size(), invert});
  return spans;
}

// Spans for a literal string delimiter.
std::vector<Span> literal_spans(const std::string& lit, const std::string& s, bool invert) {
  std::vector<Span> spans;
  size_t prev = 0;
  if (!lit.empty()) {
    for (size_t pos = s.find(lit); pos != std::string::npos; pos = s.find(lit, pos + lit.size())) {
      if (prev != pos) spans.push_back({prev, pos, invert});
      spans.push_back({pos, pos + lit.size(), !invert});
      prev = pos + lit.size();
    }
  }
  if (prev != s.size()) spans.push_back({prev, s.size(), invert});
  return spans;
}

// Spans for a character predicate: every matching char alone, runs of others merged.
std::vector<Span> char_spans(const std::string& s, const std::function<bool(char32_t)>& pred) {
  std::vector<Span> spans;
  size_t last = 0;
  for (size_t i = 0; i < s.size();) {
    size_t b = i;
    char32_t c = next_code_point(s, i);
    if (pred(c)) {
      if (last < b) spans.push_back({last, b, false});
      spans.push_back({b, i, true});
      last = i;
    }
  }
  if (last < s.size()) spans.push_back({last, s.size(), false});
  return spans;
}

template <typename SpanFn>
void split_all(std::vector<Piece>& pieces, SplitBehavior behavior, SpanFn spans_of) {
  std::vector<Piece> out;
  out.reserve(pieces.size());
  for (const auto& p : pieces) split_piece(p, spans_of(p.text), behavior, out);
  pieces = std::move(out);
}

class SequencePreTokenizer : public PreTokenizer {
 public:
  explicit SequencePreTokenizer(std::vector<std::unique_ptr<PreTokenizer>> parts)
      : parts_(std::move(parts)) {}
  void pre_tokenize(std::vector<Piece>& pieces) const override {
    for (const auto& p : parts_) p->pre_tokenize(pieces);
  }

 private:
  std::vector<std::unique_ptr<PreTokenizer>> parts_;
};

// ByteLevel: optional prefix space, optional GPT-2 regex split, then every byte mapped to
// its printable stand-in so the BPE vocabulary never sees raw bytes.
class ByteLevelPreTokenizer : public PreTokenizer {
 public:
  ByteLevelPreTokenizer(bool add_prefix_space, bool use_regex)
      : add_prefix_space_(add_prefix_space) {
    if (use_regex) re_ = std::make_unique<Regex>(kGpt2Pattern);
  }
  void pre_tokenize(std::vector<Piece>& pieces) const override {
    if (add_prefix_space_) {
      for (auto& p : pieces)
        if (p.text.empty() || p.text[0] != ' ') p.text.insert(0, " ");
    }
    if (re_) {
      split_all(pieces, SplitBehavior::kIsolated,
                [&](const std::string& s) { return regex_spans(*re_, s, false); });
    }
    const auto& table = byte_to_unicode();
    for (auto& p : pieces) {
      std::string mapped;
      mapped.reserve(p.text.size() * 2);
      for (unsigned char b : p.text) mapped += table[b];
      p.text = std::move(mapped);
    }
    pieces.erase(std::remove_if(pieces.begin(), pieces.end(),
                                [](const Piece& p) { return p.text.empty(); }),
                 pieces.end());
  }

 private:
  bool add_prefix_space_;
  std::unique_ptr<Regex> re_;
};

class SplitPreTokenizer : public PreTokenizer {
 public:
  SplitPreTokenizer(std::string literal, std::unique_ptr<Regex> re, SplitBehavior behavior,
                    bool invert)
      : literal_(std::move(literal)), re_(std::move(re)), behavior_(behavior), invert_(invert) {}
  void pre_tokenize(std::vector<Piece>& pieces) const override {
    split_all(pieces, behavior_, [&](const std::string& s) {
      return re_ ? regex_spans(*re_, s, invert_) : literal_spans(literal_, s, invert_);
    });
  }

 private:
  std::string literal_;
  std::unique_ptr<Regex> re_;
  SplitBehavior behavior_;
  bool invert_;
};

enum class PrependScheme { kAlways, kFirst, kNever };

// Metaspace: spaces become the replacement char ("▁"), which is prepended per the scheme;
// with split, each "▁" starts a new piece.
class MetaspacePreTokenizer : public PreTokenizer {
 public:
  MetaspacePreTokenizer(std::string replacement, PrependScheme scheme, bool split)
      : rep_(std::move(replacement)), scheme_(scheme), split_(split) {}
  void pre_tokenize(std::vector<Piece>& pieces) const override {
    for (auto& p : pieces) {
      std::string out;
      out.reserve(p.text.size() + rep_.size());
      for (char c : p.text) {
        if (c == ' ') out += rep_;
        else out += c;
      }
      bool starts = out.compare(0, rep_.size(), rep_) == 0;
      if (!starts && (scheme_ == PrependScheme::kAlways ||
                      (scheme_ == PrependScheme::kFirst && p.at_origin)))
        out.insert(0, rep_);
      p.text = std::move(out);
    }
    if (split_) {
      split_all(pieces, SplitBehavior::kMergedWithNext,
                [&](const std::string& s) { return literal_spans(rep_, s, false); });
    } else {
      pieces.erase(std::remove_if(pieces.begin(), pieces.end(),
                                  [](const Piece& p) { return p.text.empty(); }),
                   pieces.end());
    }
  }

 private:
  std::string rep_;
  PrependScheme scheme_;
  bool split_;
};

class PredicatePreTokenizer : public PreTokenizer {
 public:
  PredicatePreTokenizer(std::function<bool(char32_t)> pred, SplitBehavior behavior)
      : pred_(std::move(pred)), behavior_(behavior) {}
  void pre_tokenize(std::vector<Piece>& pieces) const override {
    split_all(pieces, behavior_, [&](const std::string& s) { return char_spans(s, pred_); });
  }

 private:
  std::function<bool(char32_t)> pred_;
  SplitBehavior behavior_;
};

SplitBehavior parse_behavior(const json& j, const std::string& where) {
  std::string b = j.get<std::string>();
  if (b == "Removed") return SplitBehavior::kRemoved;
  if (b == "Isolated") return SplitBehavior::kIsolated;
  if (b == "MergedWithPrevious") return SplitBehavior::kMergedWithPrevious;
  if (b == "MergedWithNext") return SplitBehavior::kMergedWithNext;
  if (b == "Contiguous") return SplitBehavior::kContiguous;
  throw bad_input("[tokenizer] unsupported split behavior '", b, "' in ", where);
}

std::unique_ptr<PreTokenizer> whitespace_split() {
  return std::make_unique<PredicatePreTokenizer>(is_whitespace, SplitBehavior::kRemoved);
}

}  // namespace

std::unique_ptr<PreTokenizer> make_pre_tokenizer(const json& j, const std::string& where) {
  if (j.is_null()) return nullptr;
  const std::string what = "pre_tokenizer";
  std::string type = type_of(j, what, where);
  try {
    if (type == "Sequence") {
      std::vector<std::unique_ptr<PreTokenizer>> parts;
      for (const json* sub : flatten_sequence(j, "pretokenizers", what, where))
        parts.push_back(make_pre_tokenizer(*sub, where));  // never a Sequence: no recursion
      return std::make_unique<SequencePreTokenizer>(std::move(parts));
    }
    if (type == "ByteLevel")
      return std::make_unique<ByteLevelPreTokenizer>(j.value("add_prefix_space", true),
                                                     j.value("use_regex", true));
    if (type == "Split") {
      auto [literal, re] = parse_pattern(j, "Split pre_tokenizer", where);
      return std::make_unique<SplitPreTokenizer>(
          literal, std::move(re), parse_behavior(require_field(j, "behavior", what, where), where),
          j.value("invert", false));
    }
    if (type == "Metaspace") {
      std::string rep = j.value("replacement", std::string("\xE2\x96\x81"));
      if (rep.empty())  // HF stores one char; splitting on "" would be meaningless
        throw bad_input("[tokenizer] Metaspace pre_tokenizer has an empty 'replacement' in ", where);
      PrependScheme scheme = PrependScheme::kAlways;
      if (j.contains("prepend_scheme") && j["prepend_scheme"].is_string()) {
        std::string s = j["prepend_scheme"].get<std::string>();
        if (s == "always") scheme = PrependScheme::kAlways;
        else if (s == "first") scheme = PrependScheme::kFirst;
        else if (s == "never") scheme = PrependScheme::kNever;
        else throw bad_input("[tokenizer] unsupported Metaspace prepend_scheme '", s, "' in ", where);
      } else if (j.contains("add_prefix_space")) {  // files written before prepend_scheme
        scheme = j["add_prefix_space"].get<bool>() ? PrependScheme::kAlways : PrependScheme::kNever;
      }
      return std::make_unique<MetaspacePreTokenizer>(rep, scheme, j.value("split", true));
    }
    if (type == "Digits")
      return std::make_unique<PredicatePreTokenizer>(
          is_numeric, j.value("individual_digits", false) ? SplitBehavior::kIsolated
                                                          : SplitBehavior::kContiguous);
    if (type == "WhitespaceSplit") return whitespace_split();
    if (type == "Whitespace") {
      return std::make_unique<SplitPreTokenizer>(
          "", std::make_unique<Regex>(R"(\w+|[^\w\s]+)"), SplitBehavior::kRemoved, true);
    }
    if (type == "Punctuation") {
      SplitBehavior b = j.contains("behavior") ? parse_behavior(j["behavior"], where)
                                               : SplitBehavior::kIsolated;
      return std::make_unique<PredicatePreTokenizer>(is_punctuation, b);
    }
    if (type == "BertPreTokenizer") {
      std::vector<std::unique_ptr<PreTokenizer>> parts;
      parts.push_back(whitespace_split());
      parts.push_back(
          std::make_unique<PredicatePreTokenizer>(is_punctuation, SplitBehavior::kIsolated));
      return std::make_unique<SequencePreTokenizer>(std::move(parts));
    }
  } catch (const json::exception& e) {
    throw bad_input("[tokenizer] malformed ", type, " pre_tokenizer in ", where, ": ", e.what());
  }
  throw bad_input("[tokenizer] unsupported pre_tokenizer type '", type, "' in ", where);
}

}  // namespace llmprune::tok
