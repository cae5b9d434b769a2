// PCRE2 wrapper for tokenizer regexes (UTF + UCP so \p{L}, \s, \w are Unicode-aware, JIT
// compiled): the Oniguruma patterns found in tokenizer.json files run unchanged.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace llmprune::tok {

struct Match {
  size_t start, end;  // byte offsets
};

class Regex {
 public:
  // Throws bad_input naming `pattern` and PCRE2's message (with its offset) when it does
  // not compile.
  explicit Regex(const std::string& pattern);
  ~Regex();
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;

  // All non-overlapping matches, left to right. `s` must be valid UTF-8. An empty match
  // advances by one character (as Oniguruma's find_iter does).
  std::vector<Match> find_all(std::string_view s) const;
  const std::string& pattern() const { return pattern_; }

 private:
  std::string pattern_;
  void* code_ = nullptr;  // pcre2_code_8*
};

// Escape a literal string for use inside a PCRE2 pattern.
std::string regex_escape(std::string_view literal);

}  // namespace llmprune::tok
