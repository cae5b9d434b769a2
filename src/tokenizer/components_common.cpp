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

std::vector<const json*> flatten_sequence(const json& j, const char* list_key,
                                          const std::string& what, const std::string& where) {
  std::vector<const json*> out;
  // (list, next index) frames; the top frame is the innermost Sequence being expanded.
  std::vector<std::pair<const json*, size_t>> stack;
  auto push = [&](const json& seq) {
    const json& list = require_field(seq, list_key, what, where);
    if (!list.is_array())
      throw bad_input("[tokenizer] ", what, " Sequence '", list_key, "' is not a list in ", where);
    stack.emplace_back(&list, 0);
  };
  push(j);
  while (!stack.empty()) {
    auto& [list, k] = stack.back();
    if (k == list->size()) {
      stack.pop_back();
      continue;
    }
    const json& sub = (*list)[k++];
    if (sub.is_null()) continue;
    if (type_of(sub, what, where) == "Sequence") push(sub);  // invalidates list/k: loop again
    else out.push_back(&sub);
  }
  return out;
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
