// BPE model (see bpe_model.h). The merge loop follows HF's Word::merge_all: a min-heap of
// (rank, position) candidates, stale entries skipped when the pair no longer yields the
// same new id, so ties go to the leftmost pair exactly as in the reference library.
#include "tokenizer/bpe_model.h"

#include <algorithm>
#include <cstdio>
#include <queue>

#include "tokenizer/unicode.h"
#include "util/error.h"

namespace llmprune::tok {
namespace {
constexpr size_t kCacheMaxWordBytes = 256;
constexpr size_t kCacheMaxEntries = 200000;

struct Symbol {
  TokenId id;
  int32_t prev, next;
  bool removed;
};

struct Candidate {
  int32_t rank;
  int32_t pos;
  TokenId new_id;
  bool operator>(const Candidate& o) const {
    return rank != o.rank ? rank > o.rank : pos > o.pos;
  }
};
}  // namespace

BpeModel::BpeModel(const json& model, const std::string& where) {
  try {
    const json& vocab = model.at("vocab");
    if (!vocab.is_object()) throw bad_input("[tokenizer] model.vocab is not an object in ", where);
    vocab_.reserve(vocab.size());
    TokenId max_id = -1;
    for (auto it = vocab.begin(); it != vocab.end(); ++it) {
      // Bounded: the id -> token table below is sized by the largest id.
      int64_t id = json_int(it.value(), "[tokenizer] " + where + ": vocab id of '" + it.key() + "'",
                            0, kMaxTokenId);
      vocab_.set(it.key(), static_cast<TokenId>(id));
      max_id = std::max(max_id, static_cast<TokenId>(id));
    }
    tokens_.assign(static_cast<size_t>(max_id + 1), nullptr);
    for (size_t k = 0; k < vocab_.size(); ++k) tokens_[vocab_.values()[k]] = &vocab_.keys()[k];

    auto opt_string = [&](const char* key) {
      return model.contains(key) && model[key].is_string() ? model[key].get<std::string>() : "";
    };
    prefix_ = opt_string("continuing_subword_prefix");
    suffix_ = opt_string("end_of_word_suffix");
    byte_fallback_ = model.value("byte_fallback", false);
    fuse_unk_ = model.value("fuse_unk", false);
    ignore_merges_ = model.value("ignore_merges", false);
    if (model.contains("dropout") && model["dropout"].is_number() && model["dropout"].get<double>() > 0)
      throw bad_input("[tokenizer] BPE dropout ", model["dropout"].get<double>(),
                      " is not supported (training-time randomness) in ", where);
    std::string unk = opt_string("unk_token");
    if (!unk.empty()) {
      const TokenId* id = vocab_.find(unk);
      if (!id) throw bad_input("[tokenizer] unk_token '", unk, "' is not in the vocab of ", where);
      unk_id_ = *id;
    }
    for (int b = 0; b < 256; ++b) {
      char name[8];
      std::snprintf(name, sizeof name, "<0x%02X>", b);
      const TokenId* id = vocab_.find(name);
      byte_ids_[b] = id ? *id : -1;
    }

    const json& merges = model.at("merges");
    if (!merges.is_array()) throw bad_input("[tokenizer] model.merges is not a list in ", where);
    merges_.reserve(merges.size());
    std::string merged;
    int32_t rank = 0;
    for (const auto& m : merges) {
      std::string_view a, b;
      if (m.is_string()) {  // "a b"
        std::string_view s = m.get_ref<const std::string&>();
        size_t sp = s.find(' ');
        if (sp == std::string_view::npos || s.find(' ', sp + 1) != std::string_view::npos)
          throw bad_input("[tokenizer] merge ", rank, " '", s,
                          "' is not two tokens separated by one space in ", where);
        a = s.substr(0, sp);
        b = s.substr(sp + 1);
      } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
        a = m[0].get_ref<const std::string&>();
        b = m[1].get_ref<const std::string&>();
      } else {
        throw bad_input("[tokenizer] merge ", rank, " is neither \"a b\" nor [a, b] in ", where);
      }
      const TokenId* ia = vocab_.find(a);
      const TokenId* ib = vocab_.find(b);
      if (!ia || !ib)
        throw bad_input("[tokenizer] merge ", rank, " ('", a, "', '", b,
                        "') uses a token missing from the vocab of ", where);
      merged.assign(a);
      if (!prefix_.empty() && b.substr(0, prefix_.size()) == prefix_) merged.append(b.substr(prefix_.size()));
      else merged.append(b);
      const TokenId* im = vocab_.find(merged);
      if (!im)
        throw bad_input("[tokenizer] merge ", rank, " result '", merged,
                        "' is missing from the vocab of ", where);
      merges_.set(pair_key(*ia, *ib), Merge{rank, *im});
      ++rank;
    }
  } catch (const json::exception& e) {
    throw bad_input("[tokenizer] malformed BPE model in ", where, ": ", e.what());
  }

  // SentencePiece-style files often run BPE over a whole text with no pre-tokenizer split
  // (Metaspace split=false), which makes one huge word. When no token has "▁" right after
  // another character, no merge can ever join across such a point, and merges on either
  // side never touch each other, so cutting the word there (before each "▁" that follows a
  // non-"▁" character) gives exactly the same ids, with short, cacheable pieces.
  const std::string meta = "\xE2\x96\x81";
  if (vocab_.find(meta) && prefix_.empty() && suffix_.empty() && !ignore_merges_) {
    split_at_metaspace_ = true;
    for (const auto& key : vocab_.keys()) {
      for (size_t pos = key.find(meta, 1); pos != std::string::npos; pos = key.find(meta, pos + 1)) {
        if (pos < meta.size() || key.compare(pos - meta.size(), meta.size(), meta) != 0) {
          split_at_metaspace_ = false;
          break;
        }
      }
      if (!split_at_metaspace_) break;
    }
  }
}

std::optional<TokenId> BpeModel::token_to_id(const std::string& token) const {
  const TokenId* id = vocab_.find(token);
  if (!id) return std::nullopt;
  return *id;
}

const std::string* BpeModel::id_to_token(TokenId id) const {
  if (id < 0 || static_cast<size_t>(id) >= tokens_.size()) return nullptr;
  return tokens_[id];
}

void BpeModel::tokenize(const std::string& word, std::vector<TokenId>& out) const {
  if (word.empty()) return;
  if (ignore_merges_) {
    if (const TokenId* id = vocab_.find(word)) {
      out.push_back(*id);
      return;
    }
  }
  if (!split_at_metaspace_ || word.size() < kCacheMaxWordBytes) {
    tokenize_piece(word, out);
    return;
  }
  const std::string_view w(word);
  const std::string_view meta("\xE2\x96\x81");
  size_t start = 0;
  for (size_t pos = w.find(meta, 1); pos != std::string_view::npos; pos = w.find(meta, pos + 1)) {
    bool after_meta = pos >= meta.size() && w.compare(pos - meta.size(), meta.size(), meta) == 0;
    if (after_meta) continue;
    if (pos > start) tokenize_piece(w.substr(start, pos - start), out);
    start = pos;
  }
  tokenize_piece(w.substr(start), out);
}

void BpeModel::tokenize_piece(std::string_view word, std::vector<TokenId>& out) const {
  const bool cacheable = word.size() < kCacheMaxWordBytes;
  std::string key;
  if (cacheable) {
    key.assign(word);
    std::lock_guard<std::mutex> lock(cache_mu_);
    auto it = cache_.find(key);
    if (it != cache_.end()) {
      out.insert(out.end(), it->second.begin(), it->second.end());
      return;
    }
  }
  size_t before = out.size();
  merge_word(word, out);
  if (cacheable) {
    std::lock_guard<std::mutex> lock(cache_mu_);
    if (cache_.size() >= kCacheMaxEntries) cache_.clear();
    cache_.emplace(std::move(key), std::vector<TokenId>(out.begin() + before, out.end()));
  }
}

void BpeModel::merge_word(std::string_view word, std::vector<TokenId>& out) const {
  // 1. One symbol per character (with prefix/suffix), byte fallback or unk when unknown.
  std::vector<Symbol> syms;
  syms.reserve(word.size());
  auto add = [&](TokenId id) { syms.push_back({id, 0, 0, false}); };
  TokenId pending_unk = -1;  // an unk not yet added (HF fuses consecutive ones)
  std::string s;
  for (size_t i = 0; i < word.size();) {
    size_t start = i;
    i += utf8_len(static_cast<unsigned char>(word[i]));
    if (i > word.size()) i = word.size();
    s.clear();
    if (start > 0) s += prefix_;
    s.append(word, start, i - start);
    if (i == word.size()) s += suffix_;
    if (const TokenId* id = vocab_.find(s)) {
      if (pending_unk >= 0) add(pending_unk), pending_unk = -1;
      add(*id);
      continue;
    }
    if (byte_fallback_) {
      bool all = true;
      for (unsigned char b : s) all &= byte_ids_[b] >= 0;
      if (all) {
        // HF adds the byte tokens without flushing a pending unk first; keep that order.
        for (unsigned char b : s) add(byte_ids_[b]);
        continue;
      }
    }
    if (unk_id_) {
      if (pending_unk >= 0 && !fuse_unk_) add(pending_unk);
      pending_unk = *unk_id_;
    }
  }
  if (pending_unk >= 0) add(pending_unk);
  const int32_t n = static_cast<int32_t>(syms.size());
  for (int32_t k = 0; k < n; ++k) {
    syms[k].prev = k - 1;
    syms[k].next = k + 1 < n ? k + 1 : -1;
  }

  // 2. Merge the lowest-ranked adjacent pair until none is left (HF Word::merge_all).
  if (n > 1 && !merges_.empty()) {
    std::vector<Candidate> heap_storage;
    heap_storage.reserve(n);
    std::priority_queue<Candidate, std::vector<Candidate>, std::greater<Candidate>> queue(
        std::greater<Candidate>(), std::move(heap_storage));
    for (int32_t k = 0; k + 1 < n; ++k) {
      if (const Merge* m = find_merge(syms[k].id, syms[k + 1].id)) queue.push({m->rank, k, m->new_id});
    }
    while (!queue.empty()) {
      Candidate top = queue.top();
      queue.pop();
      Symbol& cur = syms[top.pos];
      if (cur.removed || cur.next == -1) continue;
      Symbol& right = syms[cur.next];
      const Merge* m = find_merge(cur.id, right.id);
      if (!m || m->new_id != top.new_id) continue;  // stale entry
      cur.id = top.new_id;
      right.removed = true;
      cur.next = right.next;
      if (cur.next != -1) syms[cur.next].prev = top.pos;
      if (cur.prev != -1) {
        if (const Merge* pm = find_merge(syms[cur.prev].id, cur.id))
          queue.push({pm->rank, cur.prev, pm->new_id});
      }
      if (cur.next != -1) {
        if (const Merge* nm = find_merge(cur.id, syms[cur.next].id))
          queue.push({nm->rank, top.pos, nm->new_id});
      }
    }
  }
  for (const auto& sym : syms)
    if (!sym.removed) out.push_back(sym.id);
}

}  // namespace llmprune::tok
