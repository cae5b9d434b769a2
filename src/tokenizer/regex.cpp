// PCRE2 wrapper (see regex.h).
#define PCRE2_CODE_UNIT_WIDTH 8
#include "tokenizer/regex.h"

#include <pcre2.h>

#include "tokenizer/unicode.h"
#include "util/error.h"

namespace llmprune::tok {

namespace {
// Oniguruma's (and so Hugging Face's) \s: U+0009-000D, U+0085 and the Zs/Zl/Zp separators.
// PCRE2's \s adds U+180E (MONGOLIAN VOWEL SEPARATOR, whitespace until Unicode 6.3 and still
// in PCRE2's horizontal-space list), which changed ids on Mongolian text.
constexpr const char* kOnigSpace = R"(\t-\r\x{85}\x{2028}\x{2029}\p{Zs})";

// `pattern` with \s and \S spelled as Oniguruma means them. Inside a character class \s
// becomes the list itself; \S inside a class has no such spelling and is kept (no pattern
// seen in tokenizer.json files uses it).
std::string onig_whitespace(const std::string& pattern) {
  std::string out;
  bool in_class = false;
  for (size_t i = 0; i < pattern.size(); ++i) {
    char c = pattern[i];
    if (c == '\\' && i + 1 < pattern.size()) {
      char n = pattern[++i];
      if (n == 's') out += in_class ? std::string(kOnigSpace) : "[" + std::string(kOnigSpace) + "]";
      else if (n == 'S' && !in_class) out += "[^" + std::string(kOnigSpace) + "]";
      else (out += c) += n;
      continue;
    }
    out += c;
    if (!in_class && c == '[') {
      in_class = true;
      // A ']' first in the class (after an optional '^') is a literal.
      if (i + 1 < pattern.size() && pattern[i + 1] == '^') out += pattern[++i];
      if (i + 1 < pattern.size() && pattern[i + 1] == ']') out += pattern[++i];
    } else if (in_class && c == '[' && i + 1 < pattern.size() && pattern[i + 1] == ':') {
      size_t end = pattern.find(":]", i + 2);  // POSIX class [:alpha:] inside a class
      if (end != std::string::npos) {
        out.append(pattern, i + 1, end + 2 - (i + 1));
        i = end + 1;
      }
    } else if (in_class && c == ']') {
      in_class = false;
    }
  }
  return out;
}
}  // namespace

Regex::Regex(const std::string& pattern) : pattern_(pattern) {
  int err = 0;
  PCRE2_SIZE err_off = 0;
  const std::string compiled = onig_whitespace(pattern);
  pcre2_code* code =
      pcre2_compile(reinterpret_cast<PCRE2_SPTR>(compiled.data()), compiled.size(),
                    PCRE2_UTF | PCRE2_UCP | PCRE2_NO_UTF_CHECK, &err, &err_off, nullptr);
  if (!code) {
    PCRE2_UCHAR msg[256];
    pcre2_get_error_message(err, msg, sizeof msg);
    throw bad_input("[tokenizer] cannot compile regex '", pattern, "': ",
                    reinterpret_cast<const char*>(msg), " at offset ", err_off);
  }
  pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);  // falls back to the interpreter on failure
  code_ = code;
}

Regex::~Regex() { pcre2_code_free(static_cast<pcre2_code*>(code_)); }

std::vector<Match> Regex::find_all(std::string_view s) const {
  auto* code = static_cast<pcre2_code*>(code_);
  std::vector<Match> out;
  pcre2_match_data* md = pcre2_match_data_create_from_pattern(code, nullptr);
  LLMPRUNE_ASSERT(md, "pcre2_match_data_create failed");
  auto subject = reinterpret_cast<PCRE2_SPTR>(s.data());
  size_t pos = 0;
  while (pos <= s.size()) {
    int rc = pcre2_match(code, subject, s.size(), pos, PCRE2_NO_UTF_CHECK, md, nullptr);
    if (rc == PCRE2_ERROR_NOMATCH) break;
    if (rc < 0) {
      pcre2_match_data_free(md);
      PCRE2_UCHAR msg[256];
      pcre2_get_error_message(rc, msg, sizeof msg);
      // Resource limits depend on the pattern (from tokenizer.json) and the text: bad input.
      if (rc == PCRE2_ERROR_MATCHLIMIT || rc == PCRE2_ERROR_DEPTHLIMIT ||
          rc == PCRE2_ERROR_HEAPLIMIT || rc == PCRE2_ERROR_JIT_STACKLIMIT)
        throw bad_input("[tokenizer] regex '", pattern_, "' gave up at byte ", pos,
                        " of a ", s.size(), "-byte text: ", reinterpret_cast<const char*>(msg));
      throw internal_error("[tokenizer] regex '", pattern_, "' failed: ",
                           reinterpret_cast<const char*>(msg));
    }
    PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
    size_t start = ov[0], end = ov[1];
    out.push_back({start, end});
    if (end == start) {
      if (end >= s.size()) break;
      pos = end + utf8_len(static_cast<unsigned char>(s[end]));
    } else {
      pos = end;
    }
  }
  pcre2_match_data_free(md);
  return out;
}

std::string regex_escape(std::string_view literal) {
  std::string out;
  for (char c : literal) {
    if (std::string_view("\\^$.|?*+()[]{}-/#").find(c) != std::string_view::npos) out += '\\';
    out += c;
  }
  return out;
}

}  // namespace llmprune::tok
