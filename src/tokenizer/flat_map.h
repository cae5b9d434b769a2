// Open-addressing hash tables for the BPE hot paths: token string -> id (looked up with a
// string_view, no allocation) and (id, id) pair -> merge. 2-4x faster than the node-based
// std::unordered_map on 128k-token vocabularies and 280k merges (Llama-3).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace llmprune::tok {

inline uint64_t hash_bytes(std::string_view s) {
  uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a, then a final avalanche
  for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ull;
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  return h;
}

inline uint64_t hash_u64(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdull;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ull;
  x ^= x >> 33;
  return x;
}

// String -> int32 map; keys are stored once in `keys_`.
class StringIdMap {
 public:
  void reserve(size_t n) {
    size_t cap = 16;
    while (cap < n * 2) cap <<= 1;
    slots_.assign(cap, Slot{0, -1});
    keys_.reserve(n);
  }
  // Insert or overwrite.
  void set(std::string_view key, int32_t value) {
    if ((keys_.size() + 1) * 2 > slots_.size()) grow();
    uint64_t h = hash_bytes(key);
    size_t mask = slots_.size() - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
      Slot& s = slots_[i];
      if (s.key < 0) {
        s = Slot{h, static_cast<int32_t>(keys_.size())};
        keys_.emplace_back(key);
        values_.push_back(value);
        return;
      }
      if (s.hash == h && keys_[s.key] == key) {
        values_[s.key] = value;
        return;
      }
    }
  }
  // Pointer to the value, nullptr when absent.
  const int32_t* find(std::string_view key) const {
    if (slots_.empty()) return nullptr;
    uint64_t h = hash_bytes(key);
    size_t mask = slots_.size() - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
      const Slot& s = slots_[i];
      if (s.key < 0) return nullptr;
      if (s.hash == h && keys_[s.key] == key) return &values_[s.key];
    }
  }
  size_t size() const { return keys_.size(); }
  const std::vector<std::string>& keys() const { return keys_; }
  const std::vector<int32_t>& values() const { return values_; }

 private:
  struct Slot {
    uint64_t hash;
    int32_t key;  // index into keys_, -1 = empty
  };
  void grow() {
    std::vector<Slot> old = std::move(slots_);
    slots_.assign(old.empty() ? 16 : old.size() * 2, Slot{0, -1});
    size_t mask = slots_.size() - 1;
    for (const Slot& s : old) {
      if (s.key < 0) continue;
      size_t i = s.hash & mask;
      while (slots_[i].key >= 0) i = (i + 1) & mask;
      slots_[i] = s;
    }
  }
  std::vector<Slot> slots_;
  std::vector<std::string> keys_;
  std::vector<int32_t> values_;
};

// uint64 -> V map with a reserved empty key (~0ull never occurs: ids are < 2^31).
template <typename V>
class U64Map {
 public:
  void reserve(size_t n) {
    size_t cap = 16;
    while (cap < n * 2) cap <<= 1;
    slots_.assign(cap, Slot{kEmpty, V{}});
  }
  // Insert or overwrite (HF collects merges into a HashMap: a repeated pair keeps the
  // last rank).
  void set(uint64_t key, const V& value) {
    if ((size_ + 1) * 2 > slots_.size()) grow();
    size_t mask = slots_.size() - 1;
    for (size_t i = hash_u64(key) & mask;; i = (i + 1) & mask) {
      if (slots_[i].key == kEmpty) {
        slots_[i] = Slot{key, value};
        ++size_;
        return;
      }
      if (slots_[i].key == key) {
        slots_[i].value = value;
        return;
      }
    }
  }
  const V* find(uint64_t key) const {
    if (slots_.empty()) return nullptr;
    size_t mask = slots_.size() - 1;
    for (size_t i = hash_u64(key) & mask;; i = (i + 1) & mask) {
      if (slots_[i].key == key) return &slots_[i].value;
      if (slots_[i].key == kEmpty) return nullptr;
    }
  }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

 private:
  static constexpr uint64_t kEmpty = ~0ull;
  struct Slot {
    uint64_t key;
    V value;
  };
  void grow() {
    std::vector<Slot> old = std::move(slots_);
    slots_.assign(old.empty() ? 16 : old.size() * 2, Slot{kEmpty, V{}});
    size_ = 0;
    for (const Slot& s : old)
      if (s.key != kEmpty) set(s.key, s.value);
  }
  std::vector<Slot> slots_;
  size_t size_ = 0;
};

}  // namespace llmprune::tok
