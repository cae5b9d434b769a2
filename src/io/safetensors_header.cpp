// One safetensors header: parse and validate (see safetensors_header.h). The rules follow
// Hugging Face's reference implementation: tensors sorted by offsets must tile the data
// section exactly (no overlap, no gap, nothing after the last tensor).
#include "io/safetensors_header.h"

#include <algorithm>
#include <sstream>

#include "util/error.h"
#include "util/json.h"

namespace llmprune::detail {

std::string one_line(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    if (c == '\n') out += "\\n";
    else if (c == '\r') out += "\\r";
    else if (c == '\t') out += "\\t";
    else if (c < 0x20 || c == 0x7f) {
      static const char* hex = "0123456789abcdef";
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

namespace {

std::string shape_str(const std::vector<int64_t>& shape) {
  std::ostringstream os;
  os << "[";
  for (size_t i = 0; i < shape.size(); ++i) os << (i ? ", " : "") << shape[i];
  os << "]";
  return os.str();
}

// Every dtype the safetensors format defines, so an unsupported one gets a clear message
// instead of "unknown".
bool is_known_dtype(const std::string& s) {
  static const char* known[] = {"BOOL", "U8",  "I8",  "F8_E5M2", "F8_E4M3", "I16", "U16",
                                "F16",  "BF16", "I32", "U32",     "F32",     "F64", "I64",
                                "U64",  "F4",  "F6_E2M3", "F6_E3M2", "F8_E8M0", "C64"};
  return std::find_if(std::begin(known), std::end(known),
                      [&](const char* k) { return s == k; }) != std::end(known);
}

const char* type_of(const json& j) { return j.type_name(); }

// A non-negative integer JSON value (rejects floats like 2.0 and negatives).
bool as_u64(const json& j, uint64_t* out) {
  if (j.is_number_unsigned()) {
    *out = j.get<uint64_t>();
    return true;
  }
  if (j.is_number_integer() && j.get<int64_t>() >= 0) {
    *out = static_cast<uint64_t>(j.get<int64_t>());
    return true;
  }
  return false;
}

}  // namespace

ParsedHeader parse_header(const std::string& path, const uint8_t* data, uint64_t size) {
  const std::string where = "[safetensors] " + path + ": ";
  LLMPRUNE_CHECK(size >= 8, where, "file is ", size,
                 " bytes, shorter than the 8-byte header length (not a safetensors file?)");
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | data[i];  // little-endian u64
  LLMPRUNE_CHECK(n <= size - 8, where, "header length ", n, " runs past the end of the file (",
                 size, " bytes; not a safetensors file?)");
  LLMPRUNE_CHECK(n <= kMaxHeaderBytes, where, "header length ", n, " exceeds the ",
                 kMaxHeaderBytes, "-byte limit");
  // As Hugging Face's reader: the header must start with '{' (a JSON object).
  LLMPRUNE_CHECK(n >= 2 && data[8] == '{', where,
                 "header is not a JSON object (does not start with '{'; not a safetensors file?)");

  // Duplicate keys are refused: nlohmann keeps the last silently, which would either hide
  // a tensor or misreport its bytes as a gap.
  json header = parse_json(std::string_view(reinterpret_cast<const char*>(data + 8), n),
                           where + "header is not valid JSON: ", /*reject_duplicate_keys=*/true);
  LLMPRUNE_CHECK(header.is_object(), where, "header is not a JSON object (", type_of(header), ")");

  ParsedHeader out;
  out.data_start = 8 + n;
  const uint64_t data_size = size - out.data_start;
  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string& key = it.key();
    const json& v = it.value();
    if (key == "__metadata__") {
      LLMPRUNE_CHECK(v.is_object(), where, "__metadata__ is not an object (", type_of(v), ")");
      for (auto m = v.begin(); m != v.end(); ++m) {
        LLMPRUNE_CHECK(m.value().is_string(), where, "__metadata__ value for ",
                       one_line(m.key()), " is not a string (", type_of(m.value()), ")");
        out.metadata[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    const std::string t = where + "tensor " + one_line(key) + ": ";
    LLMPRUNE_CHECK(v.is_object(), t, "entry is not an object (", type_of(v), ")");
    for (const char* field : {"dtype", "shape", "data_offsets"})
      LLMPRUNE_CHECK(v.contains(field), t, "missing \"", field, "\"");

    TensorEntry e;
    e.name = key;
    e.file = path;
    const json& jd = v["dtype"];
    LLMPRUNE_CHECK(jd.is_string(), t, "\"dtype\" is not a string (", type_of(jd), ")");
    std::string ds = jd.get<std::string>();
    if (ds == "F32") e.dtype = DType::kF32;
    else if (ds == "F16") e.dtype = DType::kF16;
    else if (ds == "BF16") e.dtype = DType::kBF16;
    else if (is_known_dtype(ds))
      throw bad_input(t, "dtype ", ds, " is not supported (supported: F32, F16, BF16)");
    else
      throw bad_input(t, "unknown dtype \"", one_line(ds), "\"");

    const json& js = v["shape"];
    LLMPRUNE_CHECK(js.is_array(), t, "\"shape\" is not an array (", type_of(js), ")");
    for (const json& d : js) {
      LLMPRUNE_CHECK(d.is_number_integer(), t, "shape ", json_excerpt(js),
                     " has a non-integer dimension");
      // Unsigned first: 2^64-1 read as int64 would be reported as -1.
      uint64_t u = 0;
      if (as_u64(d, &u)) {
        LLMPRUNE_CHECK(u <= static_cast<uint64_t>(INT64_MAX), t, "dimension ", u, " in shape ",
                       json_excerpt(js), " exceeds 2^63-1");
        e.shape.push_back(static_cast<int64_t>(u));
        continue;
      }
      throw bad_input(t, "negative dimension ", d.get<int64_t>(), " in shape ", json_excerpt(js));
    }

    const json& jo = v["data_offsets"];
    LLMPRUNE_CHECK(jo.is_array() && jo.size() == 2, t,
                   "\"data_offsets\" is not an array of two integers (", json_excerpt(jo), ")");
    LLMPRUNE_CHECK(as_u64(jo[0], &e.begin) && as_u64(jo[1], &e.end), t, "data_offsets ",
                   json_excerpt(jo), " are not non-negative integers");
    LLMPRUNE_CHECK(e.begin <= e.end, t, "data_offsets [", e.begin, ", ", e.end,
                   "]: begin is after end");
    LLMPRUNE_CHECK(e.end <= data_size, t, "data_offsets [", e.begin, ", ", e.end,
                   "] end beyond the data section (", data_size, " bytes)");

    // numel x itemsize, with overflow checks: a huge shape must not wrap to a small span.
    uint64_t bytes = dtype_size(e.dtype);
    bool overflow = false;
    for (int64_t d : e.shape) {
      if (d != 0 && bytes > UINT64_MAX / static_cast<uint64_t>(d)) overflow = true;
      bytes *= static_cast<uint64_t>(d);
    }
    if (std::find(e.shape.begin(), e.shape.end(), 0) != e.shape.end()) bytes = 0;
    LLMPRUNE_CHECK(!overflow && bytes == e.end - e.begin, t, "shape ", shape_str(e.shape), " x ",
                   dtype_size(e.dtype), " bytes (", ds, ") = ",
                   overflow ? std::string("overflow") : std::to_string(bytes),
                   " bytes but data_offsets [", e.begin, ", ", e.end, "] span ", e.end - e.begin,
                   " bytes");
    out.entries.push_back(std::move(e));
  }

  // The tensors, sorted by offsets, must tile [0, data_size) exactly.
  std::vector<const TensorEntry*> order;
  for (const auto& e : out.entries) order.push_back(&e);
  std::sort(order.begin(), order.end(), [](const TensorEntry* a, const TensorEntry* b) {
    return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
  });
  uint64_t cursor = 0;
  const TensorEntry* prev = nullptr;
  for (const TensorEntry* e : order) {
    LLMPRUNE_CHECK(e->begin >= cursor, where, "tensor ", one_line(e->name), " [", e->begin, ", ",
                   e->end, ") overlaps tensor ", prev ? one_line(prev->name) : "", " [",
                   prev ? prev->begin : 0, ", ", prev ? prev->end : 0, ")");
    LLMPRUNE_CHECK(e->begin == cursor, where, "data section bytes [", cursor, ", ", e->begin,
                   ") before tensor ", one_line(e->name), " belong to no tensor (gap)");
    cursor = e->end;
    if (e->end > e->begin) prev = e;
  }
  LLMPRUNE_CHECK(cursor == data_size, where, "data section bytes [", cursor, ", ", data_size,
                 ") after the last tensor belong to no tensor");
  return out;
}

}  // namespace llmprune::detail
