// Chat prompts: the chat_template of tokenizer_config.json is recognised by structure as one
// of the common templates (ChatML, Llama-2, Mistral [INST], Zephyr) and rendered natively; any
// other template (or none) is refused with the reason. No general Jinja interpreter.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "serve/api.h"

namespace llmprune {

struct ChatTemplate {
  enum class Kind { kNone, kUnsupported, kChatML, kLlama2, kMistral, kZephyr };
  Kind kind = Kind::kNone;
  std::string bos, eos;        // token strings the template inserts
  std::string default_system;  // ChatML templates that add one (Qwen2)
  std::string why;             // kNone / kUnsupported: the reason, for the 400

  // From a model folder's tokenizer_config.json (missing file or key: kNone).
  static ChatTemplate from_dir(const std::string& dir);
  // From the template text and the special token strings.
  static ChatTemplate recognise(const std::string& text, const std::string& bos,
                                const std::string& eos);
  const char* name() const;
  bool usable() const { return kind != Kind::kNone && kind != Kind::kUnsupported; }
  // The prompt text with the generation prompt appended (encode it without adding special
  // tokens). Throws ApiError (400, param "messages") for what the template cannot express.
  std::string render(const std::vector<ChatMessage>& messages) const;
};

}  // namespace llmprune
