// Minimal protobuf wire-format reader for sentencepiece.ModelProto (see spm_model.h):
// ModelProto { repeated SentencePiece pieces = 1; TrainerSpec trainer_spec = 2; ... },
// SentencePiece { string piece = 1; float score = 2; Type type = 3; },
// TrainerSpec { ModelType model_type = 3 (UNIGRAM=1, BPE=2, WORD=3, CHAR=4); ... }.
#include "export/spm_model.h"

#include <cstring>

#include "util/error.h"
#include "util/fs.h"

namespace llmprune {
namespace {

class Wire {
 public:
  Wire(const std::string& buf, size_t begin, size_t end, const std::string& path)
      : b_(buf), pos_(begin), end_(end), path_(path) {}
  bool done() const { return pos_ >= end_; }
  size_t pos() const { return pos_; }

  uint64_t varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      need(1);
      const uint8_t c = static_cast<uint8_t>(b_[pos_++]);
      v |= static_cast<uint64_t>(c & 0x7f) << shift;
      if (!(c & 0x80)) return v;
    }
    fail("varint longer than 10 bytes");
  }
  // A length-delimited field: returns [begin, end) and moves past it.
  std::pair<size_t, size_t> bytes() {
    const uint64_t n = varint();
    need(n);
    const size_t b = pos_;
    pos_ += n;
    return {b, pos_};
  }
  float fixed32_float() {
    need(4);
    float f;
    std::memcpy(&f, b_.data() + pos_, 4);
    pos_ += 4;
    return f;
  }
  void skip(uint32_t wire_type) {
    switch (wire_type) {
      case 0:
        varint();
        break;
      case 1:
        need(8);
        pos_ += 8;
        break;
      case 2:
        bytes();
        break;
      case 5:
        need(4);
        pos_ += 4;
        break;
      default:
        fail("unsupported wire type ", wire_type);
    }
  }
  template <typename... A>
  [[noreturn]] void fail(const A&... what) const {
    throw bad_input("[tokenizer] ", path_, ": not a SentencePiece model: ", what..., " at byte ",
                    pos_);
  }

 private:
  void need(uint64_t n) const {
    if (n > end_ - pos_) fail("field of ", n, " bytes runs past its end");
  }
  const std::string& b_;
  size_t pos_, end_;
  const std::string& path_;
};

SpmPiece read_piece(const std::string& buf, std::pair<size_t, size_t> r, const std::string& path) {
  SpmPiece p;
  Wire w(buf, r.first, r.second, path);
  while (!w.done()) {
    const uint64_t key = w.varint();
    const uint32_t field = static_cast<uint32_t>(key >> 3), wt = key & 7;
    if (field == 1 && wt == 2) {
      auto [b, e] = w.bytes();
      p.piece = buf.substr(b, e - b);
    } else if (field == 2 && wt == 5) {
      p.score = w.fixed32_float();
    } else if (field == 3 && wt == 0) {
      const uint64_t t = w.varint();
      if (t < 1 || t > 6) w.fail("piece type ", t);
      p.type = static_cast<int32_t>(t);
    } else {
      w.skip(wt);
    }
  }
  return p;
}

}  // namespace

SpmModel read_spm_model(const std::string& path) {
  const std::string buf = read_file(path);
  SpmModel m;
  Wire w(buf, 0, buf.size(), path);
  bool model_type_seen = false;
  while (!w.done()) {
    const uint64_t key = w.varint();
    const uint32_t field = static_cast<uint32_t>(key >> 3), wt = key & 7;
    if (field == 1 && wt == 2) {
      m.pieces.push_back(read_piece(buf, w.bytes(), path));
    } else if (field == 2 && wt == 2) {
      auto r = w.bytes();
      Wire t(buf, r.first, r.second, path);
      while (!t.done()) {
        const uint64_t k = t.varint();
        if ((k >> 3) == 3 && (k & 7) == 0) {
          m.bpe = t.varint() == 2;
          model_type_seen = true;
        } else {
          t.skip(k & 7);
        }
      }
    } else {
      w.skip(wt);
    }
  }
  if (m.pieces.empty()) w.fail("no pieces");
  if (!model_type_seen) m.bpe = false;  // the proto default is UNIGRAM
  return m;
}

}  // namespace llmprune
