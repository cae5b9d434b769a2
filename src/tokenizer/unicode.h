// UTF-8 and Unicode helpers for the tokenizer: validation, code point iteration, character
// classes (via utf8proc), normalization forms, and GPT-2's byte <-> printable-char table.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace llmprune::tok {

// Length in bytes of the UTF-8 sequence starting with lead byte `b` (1 for invalid leads,
// so iteration always advances).
inline size_t utf8_len(unsigned char b) {
  if (b < 0x80) return 1;
  if ((b >> 5) == 0x6) return 2;
  if ((b >> 4) == 0xE) return 3;
  if ((b >> 3) == 0x1E) return 4;
  return 1;
}

// Byte offset of the first invalid UTF-8 byte in `s`, or npos when `s` is valid.
size_t find_invalid_utf8(std::string_view s);
// Length of the longest prefix of `s` that does not end inside an incomplete (truncated)
// UTF-8 sequence; invalid bytes elsewhere count as complete.
size_t complete_utf8_prefix(std::string_view s);
// Rust's String::from_utf8_lossy: each maximal invalid subpart becomes one U+FFFD.
std::string utf8_lossy(std::string_view s);

// Decode the code point at s[i] (s must be valid UTF-8); advances i.
char32_t next_code_point(std::string_view s, size_t& i);
void append_utf8(std::string& out, char32_t cp);

// Character classes with Rust's definitions (the HF library is written in Rust).
bool is_whitespace(char32_t c);  // Unicode White_Space
bool is_numeric(char32_t c);     // general category Nd | Nl | No
bool is_alphanumeric(char32_t c);  // alphabetic or numeric
bool is_punctuation(char32_t c);   // ASCII punctuation or category P*

// Normalization forms through utf8proc; `form` is "NFC", "NFD", "NFKC" or "NFKD".
std::string normalize_unicode(std::string_view s, const std::string& form);
// Full Unicode lowercase mapping (Rust's str::to_lowercase, minus final-sigma context).
std::string to_lower(std::string_view s);

// GPT-2's bytes_to_unicode(): each byte maps to one printable code point, as UTF-8.
const std::array<std::string, 256>& byte_to_unicode();
// Inverse of byte_to_unicode for a code point; -1 when cp is not in the table.
int unicode_to_byte(char32_t cp);

}  // namespace llmprune::tok
