// The JSON entry point (see json.h).
#include "util/json.h"

#include <cmath>
#include <set>
#include <vector>

#include "util/fs.h"

namespace llmprune {

namespace {
// Bracket depth of `text` outside strings, scanned before parsing: nlohmann parses deep
// nesting fine but the value it builds would be walked recursively later. Malformed text
// is left to the parser's own message.
void check_depth(std::string_view text, const std::string& context) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (in_string) {
      if (c == '\\') ++i;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > kMaxJsonDepth)
        throw bad_input(context, "nested deeper than ", kMaxJsonDepth, " levels at byte ", i);
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
}

// nlohmann's messages are one line already except for what they quote from the input.
std::string one_line_message(const char* what) {
  std::string s(what);
  for (char& c : s)
    if (c == '\n' || c == '\r') c = ' ';
  return s;
}
}  // namespace

json parse_json(std::string_view text, const std::string& context, bool reject_duplicate_keys) {
  check_depth(text, context);
  try {
    if (!reject_duplicate_keys) return json::parse(text.begin(), text.end());
    // One set of keys per open object (depth is bounded by check_depth).
    std::vector<std::set<std::string>> keys;
    json::parser_callback_t cb = [&](int, json::parse_event_t event, json& parsed) {
      if (event == json::parse_event_t::object_start) keys.emplace_back();
      else if (event == json::parse_event_t::object_end) keys.pop_back();
      else if (event == json::parse_event_t::key && !keys.back().insert(parsed.get<std::string>()).second)
        throw bad_input(context, "duplicate key ", json_excerpt(parsed));
      return true;
    };
    return json::parse(text.begin(), text.end(), cb);
  } catch (const json::exception& e) {  // parse_error, out_of_range (1e400), ...
    throw bad_input(context, one_line_message(e.what()));
  }
}

json read_json_file(const std::string& path) {
  return parse_json(read_file(path), "malformed JSON in " + path + ": ");
}

void write_json_file(const std::string& path, const json& j) {
  // Strings from outside (a model path that is not UTF-8) must not make the report unwritable:
  // invalid bytes become U+FFFD.
  write_file_atomic(path, j.dump(2, ' ', false, json::error_handler_t::replace) + "\n");
}

std::string utf8_for_json(const std::string& s) {
  return json::parse(json(s).dump(-1, ' ', false, json::error_handler_t::replace))
      .get<std::string>();
}

std::string json_excerpt(const json& v) {
  std::string s = v.dump(-1, ' ', false, json::error_handler_t::replace);
  constexpr size_t kMax = 80;
  if (s.size() > kMax) s = s.substr(0, kMax) + "...";
  return s;
}

int64_t json_int(const json& v, const std::string& what, int64_t lo, int64_t hi) {
  auto fail = [&]() {
    return bad_input(what, " must be an integer in [", lo, ", ", hi, "], got ", json_excerpt(v));
  };
  if (v.is_number_unsigned()) {
    uint64_t u = v.get<uint64_t>();
    if (hi < 0 || u > static_cast<uint64_t>(hi)) throw fail();
    int64_t x = static_cast<int64_t>(u);
    if (x < lo) throw fail();
    return x;
  }
  if (v.is_number_integer()) {
    int64_t x = v.get<int64_t>();
    if (x < lo || x > hi) throw fail();
    return x;
  }
  if (v.is_number_float()) {
    double d = v.get<double>();
    // [-2^63, 2^63) is exactly the doubles that convert to int64 without UB.
    if (!std::isfinite(d) || std::floor(d) != d || d < -9223372036854775808.0 ||
        d >= 9223372036854775808.0)
      throw fail();
    int64_t x = static_cast<int64_t>(d);
    if (x < lo || x > hi) throw fail();
    return x;
  }
  throw fail();
}

}  // namespace llmprune
