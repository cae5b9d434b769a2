// GGUF metadata values and ggml type traits (see gguf.h).
#include <cmath>

#include "io/gguf.h"
#include "util/checked.h"
#include "util/error.h"

namespace llmprune {

const char* gguf_type_name(GgufType t) {
  switch (t) {
    case GgufType::kU8:
      return "u8";
    case GgufType::kI8:
      return "i8";
    case GgufType::kU16:
      return "u16";
    case GgufType::kI16:
      return "i16";
    case GgufType::kU32:
      return "u32";
    case GgufType::kI32:
      return "i32";
    case GgufType::kF32:
      return "f32";
    case GgufType::kBool:
      return "bool";
    case GgufType::kString:
      return "string";
    case GgufType::kArray:
      return "array";
    case GgufType::kU64:
      return "u64";
    case GgufType::kI64:
      return "i64";
    case GgufType::kF64:
      return "f64";
  }
  return "?";
}

const GgmlTypeTraits* ggml_type_traits(uint32_t t) {
  // Block sizes and bytes of ggml's common types (ggml.c type_traits); i-quants are absent.
  static const std::map<uint32_t, GgmlTypeTraits> table = {
      {0, {"F32", 1, 4}},       {1, {"F16", 1, 2}},       {2, {"Q4_0", 32, 18}},
      {3, {"Q4_1", 32, 20}},    {6, {"Q5_0", 32, 22}},    {7, {"Q5_1", 32, 24}},
      {8, {"Q8_0", 32, 34}},    {9, {"Q8_1", 32, 36}},    {10, {"Q2_K", 256, 84}},
      {11, {"Q3_K", 256, 110}}, {12, {"Q4_K", 256, 144}}, {13, {"Q5_K", 256, 176}},
      {14, {"Q6_K", 256, 210}}, {15, {"Q8_K", 256, 292}}, {24, {"I8", 1, 1}},
      {25, {"I16", 1, 2}},      {26, {"I32", 1, 4}},      {27, {"I64", 1, 8}},
      {28, {"F64", 1, 8}},      {30, {"BF16", 1, 2}},
  };
  auto it = table.find(t);
  return it == table.end() ? nullptr : &it->second;
}

const char* ggml_type_name(uint32_t t) {
  const GgmlTypeTraits* tr = ggml_type_traits(t);
  if (tr) return tr->name;
  static thread_local std::string s;
  s = "type " + std::to_string(t);
  return s.c_str();
}

uint64_t ggml_tensor_bytes(uint32_t type, const std::vector<int64_t>& ne, const std::string& what) {
  const GgmlTypeTraits* tr = ggml_type_traits(type);
  LLMPRUNE_CHECK(tr, what, ": unsupported tensor type ", type);
  int64_t n = 1;
  for (int64_t d : ne) {
    LLMPRUNE_CHECK(d >= 0, what, ": negative dimension ", d);
    n = checked_mul(n, d, what);
  }
  const int64_t row = ne.empty() ? 1 : ne[0];
  LLMPRUNE_CHECK(row % tr->block == 0, what, ": row length ", row, " is not a multiple of the ",
                 tr->name, " block size ", tr->block);
  return static_cast<uint64_t>(checked_mul(n / tr->block, tr->block_bytes, what));
}

std::vector<int64_t> GgufTensorInfo::shape() const { return {ne.rbegin(), ne.rend()}; }

int64_t GgufTensorInfo::numel() const {
  int64_t n = 1;
  for (int64_t d : ne) n *= d;
  return n;
}

uint64_t GgufTensorDecl::bytes() const {
  return ggml_tensor_bytes(static_cast<uint32_t>(type), ne, name);
}

GgufValue GgufValue::uint(GgufType t, uint64_t v) {
  GgufValue x;
  x.type = t;
  x.u = v;
  return x;
}
GgufValue GgufValue::sint(GgufType t, int64_t v) {
  GgufValue x;
  x.type = t;
  x.i = v;
  return x;
}
GgufValue GgufValue::f32(float v) {
  GgufValue x;
  x.type = GgufType::kF32;
  x.f = v;
  return x;
}
GgufValue GgufValue::boolean(bool v) { return uint(GgufType::kBool, v ? 1 : 0); }
GgufValue GgufValue::str(std::string v) {
  GgufValue x;
  x.type = GgufType::kString;
  x.s = std::move(v);
  return x;
}
GgufValue GgufValue::array(GgufType elem, std::vector<GgufValue> items) {
  GgufValue x;
  x.type = GgufType::kArray;
  x.elem = elem;
  x.items = std::move(items);
  return x;
}
GgufValue GgufValue::strings(const std::vector<std::string>& v) {
  std::vector<GgufValue> items;
  items.reserve(v.size());
  for (const auto& s : v) items.push_back(str(s));
  return array(GgufType::kString, std::move(items));
}
GgufValue GgufValue::f32s(const std::vector<float>& v) {
  std::vector<GgufValue> items;
  items.reserve(v.size());
  for (float f : v) items.push_back(f32(f));
  return array(GgufType::kF32, std::move(items));
}
GgufValue GgufValue::i32s(const std::vector<int32_t>& v) {
  std::vector<GgufValue> items;
  items.reserve(v.size());
  for (int32_t i : v) items.push_back(i32(i));
  return array(GgufType::kI32, std::move(items));
}

bool GgufValue::is_int() const {
  switch (type) {
    case GgufType::kU8:
    case GgufType::kI8:
    case GgufType::kU16:
    case GgufType::kI16:
    case GgufType::kU32:
    case GgufType::kI32:
    case GgufType::kU64:
    case GgufType::kI64:
      return true;
    default:
      return false;
  }
}

namespace {
bool is_unsigned(GgufType t) {
  return t == GgufType::kU8 || t == GgufType::kU16 || t == GgufType::kU32 || t == GgufType::kU64 ||
         t == GgufType::kBool;
}
}  // namespace

int64_t GgufValue::as_int(const std::string& key) const {
  LLMPRUNE_CHECK(is_int(), "[gguf] ", key, ": expected an integer, got ", gguf_type_name(type));
  if (is_unsigned(type)) {
    LLMPRUNE_CHECK(u <= static_cast<uint64_t>(INT64_MAX), "[gguf] ", key, ": value ", u,
                   " is too large");
    return static_cast<int64_t>(u);
  }
  return i;
}

double GgufValue::as_float(const std::string& key) const {
  if (type == GgufType::kF32 || type == GgufType::kF64) return f;
  if (is_int()) return is_unsigned(type) ? static_cast<double>(u) : static_cast<double>(i);
  throw bad_input("[gguf] ", key, ": expected a number, got ", gguf_type_name(type));
}

bool GgufValue::as_bool(const std::string& key) const {
  LLMPRUNE_CHECK(type == GgufType::kBool, "[gguf] ", key, ": expected a bool, got ",
                 gguf_type_name(type));
  return u != 0;
}

const std::string& GgufValue::as_string(const std::string& key) const {
  LLMPRUNE_CHECK(type == GgufType::kString, "[gguf] ", key, ": expected a string, got ",
                 gguf_type_name(type));
  return s;
}

bool GgufValue::operator==(const GgufValue& o) const {
  if (type != o.type) return false;
  switch (type) {
    case GgufType::kString:
      return s == o.s;
    case GgufType::kArray:
      return elem == o.elem && items == o.items;
    case GgufType::kF32:
    case GgufType::kF64:
      // Bitwise-equal floats (NaN payloads included) compare equal.
      return f == o.f || (std::isnan(f) && std::isnan(o.f));
    default:
      return is_unsigned(type) ? u == o.u : i == o.i;
  }
}

json GgufValue::to_json(size_t max_items) const {
  switch (type) {
    case GgufType::kString:
      return utf8_for_json(s);
    case GgufType::kBool:
      return u != 0;
    case GgufType::kF32:
    case GgufType::kF64:
      return std::isfinite(f) ? json(f) : json(std::to_string(f));
    case GgufType::kArray: {
      json a = json::array();
      for (size_t k = 0; k < items.size() && k < max_items; ++k)
        a.push_back(items[k].to_json(max_items));
      if (items.size() > max_items)
        a.push_back("... " + std::to_string(items.size() - max_items) + " more");
      return a;
    }
    default:
      return is_unsigned(type) ? json(u) : json(i);
  }
}

}  // namespace llmprune
