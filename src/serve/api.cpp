// Request parsing (see api.h).
#include "serve/api.h"

#include <cmath>

namespace llmprune {

json ApiError::body() const {
  json e = {{"message", message}, {"type", type}};
  e["param"] = param.empty() ? json(nullptr) : json(param);
  return {{"error", e}};
}

namespace {

[[noreturn]] void fail(const std::string& param, const std::string& msg) {
  throw ApiError{400, param.empty() ? msg : "\"" + param + "\": " + msg, param};
}

double number(const json& body, const char* key, double def, double lo, double hi) {
  if (!body.contains(key) || body.at(key).is_null()) return def;
  const json& v = body.at(key);
  if (!v.is_number()) fail(key, "must be a number, got " + v.dump());
  const double x = v.get<double>();
  if (!std::isfinite(x) || x < lo || x > hi)
    fail(key, "must be in [" + json(lo).dump() + ", " + json(hi).dump() + "], got " + v.dump());
  return x;
}

int64_t integer(const json& body, const char* key, int64_t def, int64_t lo, int64_t hi) {
  if (!body.contains(key) || body.at(key).is_null()) return def;
  const json& v = body.at(key);
  if (!v.is_number_integer() && !v.is_number_unsigned())
    fail(key, "must be an integer, got " + v.dump());
  if (v.is_number_unsigned() && v.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX))
    fail(key, "must be at most " + std::to_string(hi) + ", got " + v.dump());
  const int64_t x = v.get<int64_t>();
  if (x < lo || x > hi)
    fail(key,
         "must be in [" + std::to_string(lo) + ", " + std::to_string(hi) + "], got " + v.dump());
  return x;
}

}  // namespace

CompletionRequest parse_completion(const std::string& text, const ApiLimits& limits, bool chat) {
  if (text.size() > limits.max_body_bytes)
    fail("body", "the request body has " + std::to_string(text.size()) + " bytes; the limit is " +
                     std::to_string(limits.max_body_bytes));
  json body;
  try {
    body = json::parse(text);
  } catch (const json::exception& e) {
    fail("body", std::string("malformed JSON: ") + e.what());
  }
  if (!body.is_object()) fail("body", "must be a JSON object");
  CompletionRequest r;
  if (chat) {
    if (!body.contains("messages") || !body.at("messages").is_array() ||
        body.at("messages").empty())
      fail("messages", "required: a non-empty array of {role, content}");
    for (const json& m : body.at("messages")) {
      if (!m.is_object() || !m.contains("role") || !m.at("role").is_string() ||
          !m.contains("content") || !m.at("content").is_string())
        fail("messages", "each message must be {\"role\": string, \"content\": string}");
      const std::string role = m.at("role").get<std::string>();
      if (role != "system" && role != "user" && role != "assistant")
        fail("messages", "role must be system, user or assistant, got \"" + role + "\"");
      r.messages.push_back({role, m.at("content").get<std::string>()});
    }
  } else {
    if (!body.contains("prompt")) fail("prompt", "required");
    const json& p = body.at("prompt");
    if (p.is_string()) {
      r.prompt = p.get<std::string>();
    } else if (p.is_array() && p.size() == 1 && p[0].is_string()) {
      r.prompt = p[0].get<std::string>();
    } else {
      fail("prompt", "must be a string");
    }
    if (r.prompt.empty()) fail("prompt", "must not be empty");
  }
  r.gen.max_new_tokens = integer(
      body, chat && body.contains("max_completion_tokens") ? "max_completion_tokens" : "max_tokens",
      limits.default_max_tokens, 1, limits.max_tokens);
  r.gen.sampling.temperature = number(body, "temperature", 0.0, 0.0, 2.0);
  r.gen.sampling.top_p = number(body, "top_p", 1.0, 1e-9, 1.0);
  r.gen.sampling.top_k = integer(body, "top_k", 0, 0, 1 << 20);
  r.gen.sampling.seed = static_cast<uint64_t>(integer(body, "seed", 0, 0, INT64_MAX));
  if (body.contains("stop") && !body.at("stop").is_null()) {
    const json& s = body.at("stop");
    if (s.is_string()) {
      r.stop.push_back(s.get<std::string>());
    } else if (s.is_array() && s.size() <= 4) {
      for (const json& x : s) {
        if (!x.is_string()) fail("stop", "must be a string or an array of up to 4 strings");
        r.stop.push_back(x.get<std::string>());
      }
    } else {
      fail("stop", "must be a string or an array of up to 4 strings");
    }
    for (const auto& x : r.stop)
      if (x.empty() || x.size() > 256) fail("stop", "each stop sequence needs 1 to 256 bytes");
  }
  if (body.contains("stream") && !body.at("stream").is_null()) {
    if (!body.at("stream").is_boolean()) fail("stream", "must be true or false");
    r.stream = body.at("stream").get<bool>();
  }
  if (body.contains("ignore_eos") && !body.at("ignore_eos").is_null()) {
    if (!body.at("ignore_eos").is_boolean()) fail("ignore_eos", "must be true or false");
    r.ignore_eos = body.at("ignore_eos").get<bool>();
  }
  if (body.contains("n") && !(body.at("n").is_number_integer() && body.at("n").get<int64_t>() == 1))
    fail("n", "only n = 1 is supported");
  return r;
}

StopScan scan_stop(const std::string& text, const std::vector<std::string>& stop) {
  StopScan s;
  s.sendable = text.size();
  size_t first = std::string::npos;
  for (const auto& x : stop) first = std::min(first, text.find(x));
  if (first != std::string::npos) {
    s.sendable = first;
    s.stopped = true;
    return s;
  }
  // Hold back the longest tail that is a proper prefix of a stop sequence.
  for (const auto& x : stop)
    for (size_t len = std::min(x.size() - 1, text.size()); len > 0; --len)
      if (text.compare(text.size() - len, len, x, 0, len) == 0) {
        s.sendable = std::min(s.sendable, text.size() - len);
        break;
      }
  return s;
}

std::string utf8_sanitize(const std::string& b, bool hold_tail) {
  std::string out;
  const size_t n = b.size();
  size_t i = 0;
  while (i < n) {
    const auto c = static_cast<unsigned char>(b[i]);
    size_t len = c < 0x80           ? 1
                 : (c >> 5) == 0x6  ? 2
                 : (c >> 4) == 0xE  ? 3
                 : (c >> 3) == 0x1E ? 4
                                    : 0;
    if (c == 0xC0 || c == 0xC1 || c > 0xF4) len = 0;  // overlong or beyond U+10FFFF
    if (len == 1) {
      out += b[i++];
      continue;
    }
    bool ok = len > 0, incomplete = false;
    for (size_t k = 1; ok && k < len; ++k) {
      if (i + k >= n) {
        incomplete = true;
        break;
      }
      const auto d = static_cast<unsigned char>(b[i + k]);
      ok = (d & 0xC0) == 0x80;
      // Second-byte ranges that exclude overlong forms, surrogates and > U+10FFFF.
      if (ok && k == 1)
        ok = !(c == 0xE0 && d < 0xA0) && !(c == 0xED && d > 0x9F) && !(c == 0xF0 && d < 0x90) &&
             !(c == 0xF4 && d > 0x8F);
    }
    if (ok && incomplete) {
      if (hold_tail) break;
      ok = false;
    }
    if (ok) {
      out.append(b, i, len);
      i += len;
    } else {
      out += "\xEF\xBF\xBD";
      ++i;
    }
  }
  return out;
}

}  // namespace llmprune
