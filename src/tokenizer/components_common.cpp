// Shared pieces of the component factories: field access with clear errors and the
// delimiter-behaviour logic used by every splitting pre-tokenizer.
#include "tokenizer/components.h"

#include <algorithm>

#include "util/error.h"

namespace llmprune::tok {

const json& require_field(const json& j, const char* key, const std::string& what,
                          const std::string& where) {
  if (!j.is_object() || !j.contains(key)) {
    throw bad_input("[tokenizer] ", what, " has no field '", key, "' in ", where);
  }
  return j.at(key);
}

std::string type_of(const json& j, const std::string& what, const std::string& where) {
  const json& t = require_field(j, "type", what, where);
  if (!t.is_string()) throw bad_input("[tokenizer] ", what, " 'type' is not a string in ", where);
  return t.get<std::string>();
}

void split_piece(const Piece& piece, const std::vector<Span>& spans, SplitBehavior behavior,
                 std::vector<Piece>& out) {
  // Merge spans per behaviour into [start, end) ranges to keep, mirroring HF's
  // NormalizedString::split.
  std::vector<std::pair<size_t, size_t>> keep;
  keep.reserve(spans.size());
  switch (behavior) {
    case SplitBehavior::kRemoved:
      for (const auto& s : spans)
        if (!s.is_match) keep.emplace_back(s.start, s.end);
      break;
    case SplitBehavior::kIsolated:
      for (const auto& s : spans) keep.emplace_back(s.start, s.end);
      break;
    case SplitBehavior::kContiguous: {
      bool prev_match = false;
      for (const auto& s : spans) {
        if (s.is_match == prev_match && !keep.empty()) keep.back().second = s.end;
        else keep.emplace_back(s.start, s.end);
        prev_match = s.is_match;
      }
      break;
    }
    case SplitBehavior::kMergedWithPrevious: {
      bool prev_match = false;
      for (const auto& s : spans) {
        if (s.is_match && !prev_match && !keep.empty()) keep.back().second = s.end;
        else keep.emplace_back(s.start, s.end);
        prev_match = s.is_match;
      }
      break;
    }
    case SplitBehavior::kMergedWithNext: {
      bool prev_match = false;
      for (auto it = spans.rbegin(); it != spans.rend(); ++it) {
        if (it->is_match && !prev_match && !keep.empty()) keep.back().first = it->start;
        else keep.emplace_back(it->start, it->end);
        prev_match = it->is_match;
      }
      std::reverse(keep.begin(), keep.end());
      break;
    }
  }
  for (const auto& [a, b] : keep) {
    if (a == b) continue;
    out.push_back(Piece{piece.text.substr(a, b - a), piece.at_origin && a == 0});
  }
}

}  // namespace llmprune::tok
