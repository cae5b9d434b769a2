// Chat templates (see chat_template.h). The renderings follow the templates as published with
// the models (ChatML: Qwen2 / OpenHermes; Llama-2-chat; Mistral-7B-Instruct-v0.1; Zephyr).
#include "serve/chat_template.h"

#include "util/fs.h"
#include "util/json.h"

namespace llmprune {

namespace {

bool has(const std::string& s, const char* needle) { return s.find(needle) != std::string::npos; }

std::string strip(const std::string& s) {
  const size_t b = s.find_first_not_of(" \t\n\r"), e = s.find_last_not_of(" \t\n\r");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

std::string token_string(const json& cfg, const char* key) {
  if (!cfg.contains(key)) return "";
  const json& v = cfg.at(key);
  if (v.is_string()) return v.get<std::string>();
  if (v.is_object() && v.contains("content") && v.at("content").is_string())
    return v.at("content").get<std::string>();
  return "";
}

[[noreturn]] void refuse(const std::string& msg) { throw ApiError{400, msg, "messages"}; }

}  // namespace

ChatTemplate ChatTemplate::from_dir(const std::string& dir) {
  const std::string path = join_path(dir, "tokenizer_config.json");
  ChatTemplate t;
  if (!path_exists(path)) {
    t.why = "the model has no tokenizer_config.json, so no chat template";
    return t;
  }
  json cfg = read_json_file(path);
  if (!cfg.contains("chat_template") || cfg.at("chat_template").is_null()) {
    t.why = "the model's tokenizer_config.json has no chat_template";
    return t;
  }
  std::string text;
  const json& ct = cfg.at("chat_template");
  if (ct.is_string()) {
    text = ct.get<std::string>();
  } else if (ct.is_array()) {  // named templates: use "default"
    for (const json& e : ct)
      if (e.is_object() && e.value("name", "") == "default" && e.contains("template") &&
          e.at("template").is_string())
        text = e.at("template").get<std::string>();
  }
  return recognise(text, token_string(cfg, "bos_token"), token_string(cfg, "eos_token"));
}

ChatTemplate ChatTemplate::recognise(const std::string& text, const std::string& bos,
                                     const std::string& eos) {
  ChatTemplate t;
  t.bos = bos;
  t.eos = eos;
  if (text.empty()) {
    t.why = "the model's chat_template is empty";
    return t;
  }
  if (has(text, "<|im_start|>") && has(text, "<|im_end|>")) {
    t.kind = Kind::kChatML;
    if (has(text, "You are a helpful assistant."))
      t.default_system = "You are a helpful assistant.";
  } else if (has(text, "[INST]") && has(text, "<<SYS>>")) {
    t.kind = Kind::kLlama2;
  } else if (has(text, "[INST]") && has(text, "[/INST]")) {
    t.kind = Kind::kMistral;
  } else if (has(text, "<|user|>") && has(text, "<|assistant|>")) {
    t.kind = Kind::kZephyr;
  } else {
    t.kind = Kind::kUnsupported;
    t.why =
        "the model's chat_template is not one llmprune can render (supported: ChatML, "
        "Llama-2, Mistral [INST], Zephyr)";
  }
  return t;
}

const char* ChatTemplate::name() const {
  switch (kind) {
    case Kind::kChatML:
      return "chatml";
    case Kind::kLlama2:
      return "llama-2";
    case Kind::kMistral:
      return "mistral";
    case Kind::kZephyr:
      return "zephyr";
    case Kind::kUnsupported:
      return "unsupported";
    case Kind::kNone:
      break;
  }
  return "none";
}

std::string ChatTemplate::render(const std::vector<ChatMessage>& msgs) const {
  if (!usable()) refuse(why);
  std::string out;
  switch (kind) {
    case Kind::kChatML: {
      if (!default_system.empty() && (msgs.empty() || msgs[0].role != "system"))
        out += "<|im_start|>system\n" + default_system + "<|im_end|>\n";
      for (const auto& m : msgs) out += "<|im_start|>" + m.role + "\n" + m.content + "<|im_end|>\n";
      out += "<|im_start|>assistant\n";
      return out;
    }
    case Kind::kZephyr: {
      for (const auto& m : msgs) out += "<|" + m.role + "|>\n" + m.content + eos + "\n";
      out += "<|assistant|>\n";
      return out;
    }
    case Kind::kLlama2:
    case Kind::kMistral: {
      size_t i = 0;
      std::string system;
      if (!msgs.empty() && msgs[0].role == "system") {
        if (kind == Kind::kMistral) refuse("the Mistral [INST] template has no system role");
        system = msgs[0].content;
        i = 1;
      }
      bool expect_user = true;
      for (; i < msgs.size(); ++i) {
        const auto& m = msgs[i];
        if ((m.role == "user") != expect_user)
          refuse("the " + std::string(name()) +
                 " template needs user and assistant messages alternating, starting with user");
        if (m.role == "user") {
          std::string content = m.content;
          if (!system.empty()) {
            content = "<<SYS>>\n" + system + "\n<</SYS>>\n\n" + content;
            system.clear();
          }
          if (kind == Kind::kLlama2) content = strip(content);
          if (kind == Kind::kLlama2) {
            out += bos + "[INST] " + content + " [/INST]";
          } else {
            out += (out.empty() ? bos : "") + "[INST] " + content + " [/INST]";
          }
        } else {
          out += kind == Kind::kLlama2 ? " " + strip(m.content) + " " + eos : m.content + eos;
        }
        expect_user = !expect_user;
      }
      if (expect_user) refuse("the last message must be from the user");
      return out;
    }
    default:
      break;
  }
  refuse(why);
}

}  // namespace llmprune
