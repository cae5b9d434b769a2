// tokenizer.json normalizers: Sequence, Prepend, Replace, NFC/NFD/NFKC/NFKD, Lowercase,
// Strip, StripAccents. Semantics follow Hugging Face tokenizers (normalizers/*.rs).
#include <utf8proc.h>

#include "tokenizer/components.h"
#include "tokenizer/regex.h"
#include "tokenizer/unicode.h"
#include "util/error.h"

namespace llmprune::tok {
namespace {

class SequenceNormalizer : public Normalizer {
 public:
  explicit SequenceNormalizer(std::vector<std::unique_ptr<Normalizer>> parts)
      : parts_(std::move(parts)) {}
  void normalize(Piece& p) const override {
    for (const auto& n : parts_) n->normalize(p);
  }

 private:
  std::vector<std::unique_ptr<Normalizer>> parts_;
};

// Prepend: adds its string in front of any non-empty text (SentencePiece's dummy prefix).
class PrependNormalizer : public Normalizer {
 public:
  explicit PrependNormalizer(std::string s) : prepend_(std::move(s)) {}
  void normalize(Piece& p) const override {
    if (!p.text.empty()) p.text.insert(0, prepend_);
  }

 private:
  std::string prepend_;
};

// Replace every occurrence of a literal string or a regex with `content`.
class ReplaceNormalizer : public Normalizer {
 public:
  ReplaceNormalizer(std::string literal, std::unique_ptr<Regex> re, std::string content)
      : literal_(std::move(literal)), re_(std::move(re)), content_(std::move(content)) {}
  void normalize(Piece& p) const override {
    std::vector<Match> matches;
    if (re_) {
      matches = re_->find_all(p.text);
    } else if (!literal_.empty()) {
      for (size_t pos = p.text.find(literal_); pos != std::string::npos;
           pos = p.text.find(literal_, pos + literal_.size()))
        matches.push_back({pos, pos + literal_.size()});
    }
    if (matches.empty()) return;
    std::string out;
    out.reserve(p.text.size());
    size_t prev = 0;
    for (const auto& m : matches) {
      out.append(p.text, prev, m.start - prev);
      out += content_;
      prev = m.end;
    }
    out.append(p.text, prev, std::string::npos);
    // Deleting the first character moves the start away from the original origin.
    if (content_.empty() && matches.front().start == 0 && matches.front().end > 0)
      p.at_origin = false;
    p.text = std::move(out);
  }

 private:
  std::string literal_;
  std::unique_ptr<Regex> re_;
  std::string content_;
};

class UnicodeNormalizer : public Normalizer {
 public:
  explicit UnicodeNormalizer(std::string form) : form_(std::move(form)) {}
  void normalize(Piece& p) const override { p.text = normalize_unicode(p.text, form_); }

 private:
  std::string form_;
};

class LowercaseNormalizer : public Normalizer {
 public:
  void normalize(Piece& p) const override { p.text = to_lower(p.text); }
};

// Strip: remove leading and/or trailing Unicode whitespace.
class StripNormalizer : public Normalizer {
 public:
  StripNormalizer(bool left, bool right) : left_(left), right_(right) {}
  void normalize(Piece& p) const override {
    size_t begin = 0, end = p.text.size();
    if (left_) {
      while (begin < end) {
        size_t i = begin;
        if (!is_whitespace(next_code_point(p.text, i))) break;
        begin = i;
      }
    }
    if (right_) {
      while (end > begin) {
        size_t start = end - 1;
        while (start > begin && (static_cast<unsigned char>(p.text[start]) & 0xC0) == 0x80) --start;
        size_t i = start;
        if (!is_whitespace(next_code_point(p.text, i))) break;
        end = start;
      }
    }
    if (begin > 0) p.at_origin = false;
    p.text = p.text.substr(begin, end - begin);
  }

 private:
  bool left_, right_;
};

// StripAccents: drop combining marks (category Mn); used after NFD.
class StripAccentsNormalizer : public Normalizer {
 public:
  void normalize(Piece& p) const override {
    std::string out;
    out.reserve(p.text.size());
    for (size_t i = 0; i < p.text.size();) {
      size_t start = i;
      char32_t c = next_code_point(p.text, i);
      if (utf8proc_category(static_cast<utf8proc_int32_t>(c)) == UTF8PROC_CATEGORY_MN) continue;
      out.append(p.text, start, i - start);
    }
    p.text = std::move(out);
  }
};

}  // namespace

// "pattern": {"String": "..."} or {"Regex": "..."}; returns (literal, regex-or-null).
std::pair<std::string, std::unique_ptr<Regex>> parse_pattern(const json& j, const std::string& what,
                                                             const std::string& where) {
  const json& pat = require_field(j, "pattern", what, where);
  if (pat.is_object() && pat.contains("String") && pat["String"].is_string())
    return {pat["String"].get<std::string>(), nullptr};
  if (pat.is_object() && pat.contains("Regex") && pat["Regex"].is_string())
    return {"", std::make_unique<Regex>(pat["Regex"].get<std::string>())};
  throw bad_input("[tokenizer] ", what, " pattern must be {\"String\": ...} or {\"Regex\": ...} in ",
                  where);
}

std::unique_ptr<Normalizer> make_normalizer(const json& j, const std::string& where) {
  if (j.is_null()) return nullptr;
  const std::string what = "normalizer";
  std::string type = type_of(j, what, where);
  try {
    if (type == "Sequence") {
      std::vector<std::unique_ptr<Normalizer>> parts;
      for (const json* sub : flatten_sequence(j, "normalizers", what, where))
        parts.push_back(make_normalizer(*sub, where));  // never a Sequence: no recursion
      return std::make_unique<SequenceNormalizer>(std::move(parts));
    }
    if (type == "Prepend")
      return std::make_unique<PrependNormalizer>(
          require_field(j, "prepend", what, where).get<std::string>());
    if (type == "Replace") {
      auto [literal, re] = parse_pattern(j, "Replace normalizer", where);
      return std::make_unique<ReplaceNormalizer>(
          literal, std::move(re), require_field(j, "content", what, where).get<std::string>());
    }
    if (type == "NFC" || type == "NFD" || type == "NFKC" || type == "NFKD")
      return std::make_unique<UnicodeNormalizer>(type);
    if (type == "Lowercase") return std::make_unique<LowercaseNormalizer>();
    if (type == "Strip")
      return std::make_unique<StripNormalizer>(j.value("strip_left", true),
                                               j.value("strip_right", true));
    if (type == "StripAccents") return std::make_unique<StripAccentsNormalizer>();
  } catch (const json::exception& e) {
    throw bad_input("[tokenizer] malformed ", type, " normalizer in ", where, ": ", e.what());
  }
  throw bad_input("[tokenizer] unsupported normalizer type '", type, "' in ", where);
}

}  // namespace llmprune::tok
