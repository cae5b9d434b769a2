// GGUF streaming writer: header from the declarations, then tensor bytes one at a time with
// zero padding to the alignment after each.
#include <cerrno>
#include <cstring>
#include <fstream>
#include <set>

#include "io/gguf.h"
#include "util/error.h"

namespace llmprune {

struct GgufStreamWriter::Out {
  std::string path;
  std::ofstream f;
  uint64_t pos = 0;

  void check() const {
    // The environment (disk full, permissions), not the input: exit 1.
    if (!f) throw internal_error("[gguf] cannot write ", path, ": ", std::strerror(errno));
  }
  void put(const void* data, uint64_t n) {
    f.write(static_cast<const char*>(data), static_cast<std::streamsize>(n));
    pos += n;
  }
  template <typename T>
  void pod(T v) {
    put(&v, sizeof v);
  }
  void str(const std::string& s) {
    pod<uint64_t>(s.size());
    put(s.data(), s.size());
  }
  void pad(uint64_t alignment) {
    static const char zeros[64] = {};
    uint64_t n = (alignment - pos % alignment) % alignment;
    while (n > 0) {
      const uint64_t k = n < sizeof zeros ? n : sizeof zeros;
      put(zeros, k);
      n -= k;
    }
  }
  void value(const GgufValue& v) {
    switch (v.type) {
      case GgufType::kU8:
        pod<uint8_t>(static_cast<uint8_t>(v.u));
        break;
      case GgufType::kI8:
        pod<int8_t>(static_cast<int8_t>(v.i));
        break;
      case GgufType::kU16:
        pod<uint16_t>(static_cast<uint16_t>(v.u));
        break;
      case GgufType::kI16:
        pod<int16_t>(static_cast<int16_t>(v.i));
        break;
      case GgufType::kU32:
        pod<uint32_t>(static_cast<uint32_t>(v.u));
        break;
      case GgufType::kI32:
        pod<int32_t>(static_cast<int32_t>(v.i));
        break;
      case GgufType::kU64:
        pod<uint64_t>(v.u);
        break;
      case GgufType::kI64:
        pod<int64_t>(v.i);
        break;
      case GgufType::kF32:
        pod<float>(static_cast<float>(v.f));
        break;
      case GgufType::kF64:
        pod<double>(v.f);
        break;
      case GgufType::kBool:
        pod<uint8_t>(v.u ? 1 : 0);
        break;
      case GgufType::kString:
        str(v.s);
        break;
      case GgufType::kArray:
        pod<uint32_t>(static_cast<uint32_t>(v.elem));
        pod<uint64_t>(v.items.size());
        for (const GgufValue& x : v.items) value(x);
        break;
    }
  }
};

namespace {
void check_value(const std::string& key, const GgufValue& v) {
  if (v.type != GgufType::kArray) return;
  for (const GgufValue& x : v.items) {
    LLMPRUNE_ASSERT(x.type == v.elem, "gguf writer: key ", key, ": array of ",
                    gguf_type_name(v.elem), " holds a ", gguf_type_name(x.type));
    check_value(key, x);
  }
}
}  // namespace

GgufStreamWriter::GgufStreamWriter(const std::string& path, const GgufMetadata& metadata,
                                   std::vector<GgufTensorDecl> tensors)
    : out_(std::make_unique<Out>()), decls_(std::move(tensors)) {
  std::set<std::string> keys, names;
  for (const auto& [key, v] : metadata) {
    LLMPRUNE_ASSERT(!key.empty() && keys.insert(key).second, "gguf writer: key \"", key,
                    "\" is empty or given twice");
    check_value(key, v);
    if (key == "general.alignment") {
      LLMPRUNE_ASSERT(v.type == GgufType::kU32 && v.u > 0 && (v.u & (v.u - 1)) == 0,
                      "gguf writer: general.alignment must be a u32 power of two");
      alignment_ = v.u;
    }
  }
  std::vector<uint64_t> offsets;
  uint64_t offset = 0;
  for (const GgufTensorDecl& d : decls_) {
    LLMPRUNE_ASSERT(names.insert(d.name).second, "gguf writer: tensor ", d.name, " given twice");
    LLMPRUNE_ASSERT(!d.ne.empty() && d.ne.size() <= 4, "gguf writer: tensor ", d.name, " has ",
                    d.ne.size(), " dimensions");
    offsets.push_back(offset);
    offset += d.bytes();
    offset = (offset + alignment_ - 1) / alignment_ * alignment_;
  }

  out_->path = path;
  out_->f.open(path, std::ios::binary | std::ios::trunc);
  out_->check();
  out_->put("GGUF", 4);
  out_->pod<uint32_t>(3);
  out_->pod<uint64_t>(decls_.size());
  out_->pod<uint64_t>(metadata.size());
  for (const auto& [key, v] : metadata) {
    out_->str(key);
    out_->pod<uint32_t>(static_cast<uint32_t>(v.type));
    out_->value(v);
  }
  for (size_t k = 0; k < decls_.size(); ++k) {
    const GgufTensorDecl& d = decls_[k];
    out_->str(d.name);
    out_->pod<uint32_t>(static_cast<uint32_t>(d.ne.size()));
    for (int64_t n : d.ne) out_->pod<uint64_t>(static_cast<uint64_t>(n));
    out_->pod<uint32_t>(static_cast<uint32_t>(d.type));
    out_->pod<uint64_t>(offsets[k]);
  }
  out_->pad(alignment_);
  out_->check();
}

GgufStreamWriter::~GgufStreamWriter() = default;

void GgufStreamWriter::write(const std::string& name, const void* data, uint64_t bytes) {
  LLMPRUNE_ASSERT(next_ < decls_.size(), "gguf writer: tensor ", name,
                  " written after the last declared one");
  const GgufTensorDecl& d = decls_[next_];
  LLMPRUNE_ASSERT(name == d.name, "gguf writer: expected tensor ", d.name, ", got ", name);
  LLMPRUNE_ASSERT(bytes == d.bytes(), "gguf writer: tensor ", name, ": ", bytes, " bytes given, ",
                  d.bytes(), " declared");
  out_->put(data, bytes);
  out_->pad(alignment_);
  out_->check();
  ++next_;
}

uint64_t GgufStreamWriter::finish() {
  LLMPRUNE_ASSERT(next_ == decls_.size(), "gguf writer: ", decls_.size() - next_,
                  " declared tensors were never written");
  out_->f.flush();
  out_->check();
  out_->f.close();
  out_->check();
  return out_->pos;
}

}  // namespace llmprune
