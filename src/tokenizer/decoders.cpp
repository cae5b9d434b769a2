// tokenizer.json decoders: ByteLevel, ByteFallback, Metaspace, Replace, Fuse, Strip,
// Sequence (and BPEDecoder for end-of-word suffixes). Semantics follow Hugging Face
// tokenizers (decoders/*.rs): each maps a list of token strings to a list of strings.
#include "tokenizer/components.h"
#include "tokenizer/regex.h"
#include "tokenizer/unicode.h"
#include "util/error.h"

namespace llmprune::tok {
namespace {

const char* kReplacementChar = "\xEF\xBF\xBD";  // U+FFFD

class SequenceDecoder : public Decoder {
 public:
  explicit SequenceDecoder(std::vector<std::unique_ptr<Decoder>> parts) : parts_(std::move(parts)) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (const auto& d : parts_) d->decode_chain(tokens);
  }

 private:
  std::vector<std::unique_ptr<Decoder>> parts_;
};

// ByteLevel: every char maps back to its byte; the bytes of all tokens are joined and made
// valid UTF-8 (invalid bytes become U+FFFD). Chars outside the table pass through as UTF-8.
class ByteLevelDecoder : public Decoder {
 public:
  void decode_chain(std::vector<std::string>& tokens) const override {
    std::string bytes;
    for (const auto& t : tokens) {
      for (size_t i = 0; i < t.size();) {
        size_t start = i;
        int b = unicode_to_byte(next_code_point(t, i));
        if (b >= 0) bytes += static_cast<char>(b);
        else bytes.append(t, start, i - start);
      }
    }
    tokens.assign(1, utf8_lossy(bytes));
  }
};

// ByteFallback: runs of "<0xXX>" tokens become their bytes; an invalid run gives one
// U+FFFD per byte token.
class ByteFallbackDecoder : public Decoder {
 public:
  void decode_chain(std::vector<std::string>& tokens) const override {
    std::vector<std::string> out;
    out.reserve(tokens.size());
    std::string pending;
    size_t pending_count = 0;
    auto flush = [&] {
      if (pending_count == 0) return;
      if (find_invalid_utf8(pending) == std::string::npos) {
        out.push_back(pending);
      } else {
        for (size_t k = 0; k < pending_count; ++k) out.push_back(kReplacementChar);
      }
      pending.clear();
      pending_count = 0;
    };
    for (auto& t : tokens) {
      int byte = parse_byte_token(t);
      if (byte >= 0) {
        pending += static_cast<char>(byte);
        ++pending_count;
      } else {
        flush();
        out.push_back(std::move(t));
      }
    }
    flush();
    tokens = std::move(out);
  }

  // "<0x41>" -> 0x41; -1 for anything else.
  static int parse_byte_token(const std::string& t) {
    if (t.size() != 6 || t.compare(0, 3, "<0x") != 0 || t[5] != '>') return -1;
    int v = 0;
    for (int k = 3; k < 5; ++k) {
      char c = t[k];
      int d = (c >= '0' && c <= '9') ? c - '0'
              : (c >= 'A' && c <= 'F') ? c - 'A' + 10
              : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
      if (d < 0) return -1;
      v = v * 16 + d;
    }
    return v;
  }
};

// Metaspace: the replacement char becomes a space, except in the first token when a
// prefix was prepended at encode time (there it is dropped).
class MetaspaceDecoder : public Decoder {
 public:
  MetaspaceDecoder(std::string rep, bool strip_first) : rep_(std::move(rep)), strip_first_(strip_first) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (size_t i = 0; i < tokens.size(); ++i) {
      std::string out;
      const std::string& t = tokens[i];
      for (size_t pos = 0; pos < t.size();) {
        if (!rep_.empty() && t.compare(pos, rep_.size(), rep_) == 0) {
          if (!(i == 0 && strip_first_)) out += ' ';
          pos += rep_.size();
        } else {
          out += t[pos++];
        }
      }
      tokens[i] = std::move(out);
    }
  }

 private:
  std::string rep_;
  bool strip_first_;
};

class ReplaceDecoder : public Decoder {
 public:
  ReplaceDecoder(std::string literal, std::unique_ptr<Regex> re, std::string content)
      : literal_(std::move(literal)), re_(std::move(re)), content_(std::move(content)) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (auto& t : tokens) {
      std::vector<Match> ms;
      if (re_) {
        ms = re_->find_all(t);
      } else if (!literal_.empty()) {
        for (size_t p = t.find(literal_); p != std::string::npos; p = t.find(literal_, p + literal_.size()))
          ms.push_back({p, p + literal_.size()});
      }
      if (ms.empty()) continue;
      std::string out;
      size_t prev = 0;
      for (const auto& m : ms) {
        out.append(t, prev, m.start - prev);
        out += content_;
        prev = m.end;
      }
      out.append(t, prev, std::string::npos);
      t = std::move(out);
    }
  }

 private:
  std::string literal_;
  std::unique_ptr<Regex> re_;
  std::string content_;
};

class FuseDecoder : public Decoder {
 public:
  void decode_chain(std::vector<std::string>& tokens) const override {
    std::string all;
    for (const auto& t : tokens) all += t;
    tokens.assign(1, std::move(all));
  }
};

// Strip: remove up to `start` leading and `stop` trailing copies of one char per token.
class StripDecoder : public Decoder {
 public:
  StripDecoder(std::string content, size_t start, size_t stop)
      : content_(std::move(content)), start_(start), stop_(stop) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    const size_t w = content_.size();
    if (w == 0) return;  // nothing to strip; also keeps the loops below advancing
    for (auto& t : tokens) {
      size_t begin = 0, end = t.size();
      for (size_t k = 0; k < start_ && begin + w <= end && t.compare(begin, w, content_) == 0; ++k)
        begin += w;
      for (size_t k = 0; k < stop_ && end >= begin + w && t.compare(end - w, w, content_) == 0; ++k)
        end -= w;
      t = t.substr(begin, end - begin);
    }
  }

 private:
  std::string content_;
  size_t start_, stop_;
};

// BPEDecoder: the end-of-word suffix becomes a space (none after the last token).
class BpeSuffixDecoder : public Decoder {
 public:
  explicit BpeSuffixDecoder(std::string suffix) : suffix_(std::move(suffix)) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (size_t i = 0; i < tokens.size(); ++i) {
      std::string& t = tokens[i];
      std::string rep = i + 1 == tokens.size() ? "" : " ";
      std::string out;
      for (size_t p = 0; p < t.size();) {
        if (!suffix_.empty() && t.compare(p, suffix_.size(), suffix_) == 0) {
          out += rep;
          p += suffix_.size();
        } else {
          out += t[p++];
        }
      }
      t = std::move(out);
    }
  }

 private:
  std::string suffix_;
};

}  // namespace

std::unique_ptr<Decoder> make_decoder(const json& j, const std::string& where) {
  if (j.is_null()) return nullptr;
  const std::string what = "decoder";
  std::string type = type_of(j, what, where);
  try {
    if (type == "Sequence") {
      std::vector<std::unique_ptr<Decoder>> parts;
      for (const json* sub : flatten_sequence(j, "decoders", what, where))
        parts.push_back(make_decoder(*sub, where));  // never a Sequence: no recursion
      return std::make_unique<SequenceDecoder>(std::move(parts));
    }
    if (type == "ByteLevel") return std::make_unique<ByteLevelDecoder>();
    if (type == "ByteFallback") return std::make_unique<ByteFallbackDecoder>();
    if (type == "Fuse") return std::make_unique<FuseDecoder>();
    if (type == "Metaspace") {
      // HF stores the replacement as one char; an empty one would never advance the scan.
      std::string rep = j.value("replacement", std::string("\xE2\x96\x81"));
      if (rep.empty())
        throw bad_input("[tokenizer] Metaspace decoder has an empty 'replacement' in ", where);
      bool strip_first = true;
      if (j.contains("prepend_scheme") && j["prepend_scheme"].is_string())
        strip_first = j["prepend_scheme"].get<std::string>() != "never";
      else if (j.contains("add_prefix_space"))
        strip_first = j["add_prefix_space"].get<bool>();
      return std::make_unique<MetaspaceDecoder>(rep, strip_first);
    }
    if (type == "Replace") {
      auto [literal, re] = parse_pattern(j, "Replace decoder", where);
      return std::make_unique<ReplaceDecoder>(
          literal, std::move(re), require_field(j, "content", what, where).get<std::string>());
    }
    if (type == "Strip") {
      // HF: content is one char, start/stop are usize counts.
      std::string content = require_field(j, "content", what, where).get<std::string>();
      if (content.empty())
        throw bad_input("[tokenizer] Strip decoder has an empty 'content' in ", where);
      auto count = [&](const char* key) {
        return j.contains(key) ? json_int(j[key], "[tokenizer] " + where + ": Strip decoder " + key, 0)
                               : int64_t{0};
      };
      return std::make_unique<StripDecoder>(content, static_cast<size_t>(count("start")),
                                            static_cast<size_t>(count("stop")));
    }
    if (type == "BPEDecoder")
      return std::make_unique<BpeSuffixDecoder>(j.value("suffix", std::string("</w>")));
  } catch (const json::exception& e) {
    throw bad_input("[tokenizer] malformed ", type, " decoder in ", where, ": ", e.what());
  }
  throw bad_input("[tokenizer] unsupported decoder type '", type, "' in ", where);
}

}  // namespace llmprune::tok
