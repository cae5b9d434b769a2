// Added-token matching (see added_tokens.h); follows HF's AddedVocabulary::find_matches.
#include "tokenizer/added_tokens.h"

#include <algorithm>

#include "tokenizer/components.h"
#include "tokenizer/unicode.h"

namespace llmprune::tok {

AddedToken added_token_from_json(const nlohmann::json& t, TokenId id) {
  AddedToken a;
  a.id = id;
  a.content = t.at("content").get<std::string>();
  a.special = t.value("special", false);
  a.lstrip = t.value("lstrip", false);
  a.rstrip = t.value("rstrip", false);
  a.single_word = t.value("single_word", false);
  a.normalized = t.value("normalized", !a.special);
  return a;
}

namespace {

// Last / first code point of a string (s non-empty, valid UTF-8).
char32_t last_char(std::string_view s) {
  size_t start = s.size() - 1;
  while (start > 0 && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80) --start;
  size_t i = start;
  return next_code_point(s, i);
}
bool is_word_char(char32_t c) { return c == '_' || is_alphanumeric(c); }

// Start of the whitespace run that ends `s` (s.size() when none).
size_t trailing_space_start(std::string_view s) {
  size_t end = s.size();
  while (end > 0) {
    size_t start = end - 1;
    while (start > 0 && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80) --start;
    size_t i = start;
    if (!is_whitespace(next_code_point(s, i))) break;
    end = start;
  }
  return end;
}
// Length of the whitespace run that starts `s`.
size_t leading_space_len(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    size_t j = i;
    if (!is_whitespace(next_code_point(s, j))) break;
    i = j;
  }
  return i;
}

}  // namespace

void AddedVocab::add(const AddedToken& t) {
  auto it = by_content_.find(t.content);
  if (it != by_content_.end()) {
    by_id_.erase(tokens_[it->second].id);
    tokens_[it->second] = t;
    by_id_[t.id] = it->second;
    return;
  }
  by_content_[t.content] = tokens_.size();
  by_id_[t.id] = tokens_.size();
  tokens_.push_back(t);
}

void AddedVocab::build_matcher(Matcher& m, bool normalized, const Normalizer* normalizer) {
  m = Matcher();
  for (size_t k = 0; k < tokens_.size(); ++k) {
    const AddedToken& t = tokens_[k];
    if (t.normalized != normalized || t.content.empty()) continue;
    std::string pattern = t.content;
    if (normalized && normalizer) {
      Piece p{pattern, true};
      normalizer->normalize(p);
      pattern = p.text;
    }
    if (pattern.empty()) continue;
    m.by_first_byte[static_cast<unsigned char>(pattern[0])].push_back(m.patterns.size());
    m.patterns.push_back(pattern);
    m.token_index.push_back(k);
  }
  for (auto& list : m.by_first_byte) {
    std::stable_sort(list.begin(), list.end(), [&](size_t a, size_t b) {
      return m.patterns[a].size() > m.patterns[b].size();
    });
  }
}

void AddedVocab::build(const Normalizer* normalizer) {
  build_matcher(raw_, false, normalizer);
  build_matcher(normalized_, true, normalizer);
}

std::vector<Segment> AddedVocab::split(std::string_view text, bool normalized_set) const {
  const Matcher& m = normalized_set ? normalized_ : raw_;
  std::vector<Segment> out;
  size_t offset = 0;  // end of the last emitted part
  if (!m.patterns.empty()) {
    for (size_t i = 0; i < text.size();) {
      const auto& cands = m.by_first_byte[static_cast<unsigned char>(text[i])];
      const std::string* hit = nullptr;
      size_t hit_k = 0;
      for (size_t c : cands) {
        const std::string& p = m.patterns[c];
        if (text.compare(i, p.size(), p) == 0) {
          hit = &p;
          hit_k = c;
          break;
        }
      }
      if (!hit) {
        ++i;
        continue;
      }
      size_t start = i, stop = i + hit->size();
      i = stop;  // matches never overlap, whatever we keep
      const AddedToken& t = tokens_[m.token_index[hit_k]];
      if (t.single_word) {
        bool start_ok = start == 0 || !is_word_char(last_char(text.substr(0, start)));
        bool stop_ok = stop == text.size() || [&] {
          size_t j = stop;
          return !is_word_char(next_code_point(text, j));
        }();
        if (!start_ok || !stop_ok) continue;
      }
      if (t.lstrip) start = std::max(trailing_space_start(text.substr(0, start)), offset);
      if (t.rstrip) stop += leading_space_len(text.substr(stop));
      if (offset < start) out.push_back({offset, start, std::nullopt});
      out.push_back({start, stop, t.id});
      offset = stop;
      i = std::max(i, stop);
    }
  }
  if (offset < text.size()) out.push_back({offset, text.size(), std::nullopt});
  return out;
}

const AddedToken* AddedVocab::by_id(TokenId id) const {
  auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : &tokens_[it->second];
}

const AddedToken* AddedVocab::by_content(const std::string& content) const {
  auto it = by_content_.find(content);
  return it == by_content_.end() ? nullptr : &tokens_[it->second];
}

}  // namespace llmprune::tok
