// Request parsing, stop-sequence scanning and chat-template rendering against hand-written
// expectations (the renderings are what the published Jinja templates produce).
#include "serve/api.h"

#include <gtest/gtest.h>

#include "serve/chat_template.h"

namespace llmprune {
namespace {

std::string param_of(const std::string& body) {
  try {
    parse_completion(body, ApiLimits{}, false);
  } catch (const ApiError& e) {
    EXPECT_EQ(e.status, 400);
    return e.param;
  }
  return "";
}

TEST(Api, ParsesAndChecksFields) {
  CompletionRequest r = parse_completion(
      R"({"prompt": "hi", "max_tokens": 5, "temperature": 0.7, "top_p": 0.9, "top_k": 40,
          "seed": 3, "stop": ["\n", "END"], "stream": true})",
      ApiLimits{}, false);
  EXPECT_EQ(r.prompt, "hi");
  EXPECT_EQ(r.gen.max_new_tokens, 5);
  EXPECT_DOUBLE_EQ(r.gen.sampling.temperature, 0.7);
  EXPECT_DOUBLE_EQ(r.gen.sampling.top_p, 0.9);
  EXPECT_EQ(r.gen.sampling.top_k, 40);
  EXPECT_EQ(r.gen.sampling.seed, 3u);
  EXPECT_EQ(r.stop, (std::vector<std::string>{"\n", "END"}));
  EXPECT_TRUE(r.stream);
  EXPECT_EQ(parse_completion(R"({"prompt": "hi"})", ApiLimits{}, false).gen.max_new_tokens, 16);
  EXPECT_EQ(param_of("nope"), "body");
  EXPECT_EQ(param_of(R"({"prompt": ""})"), "prompt");
  EXPECT_EQ(param_of(R"({"prompt": "a", "max_tokens": 0})"), "max_tokens");
  EXPECT_EQ(param_of(R"({"prompt": "a", "max_tokens": 1.5})"), "max_tokens");
  EXPECT_EQ(param_of(R"({"prompt": "a", "max_tokens": 18446744073709551615})"), "max_tokens");
  EXPECT_EQ(param_of(R"({"prompt": "a", "seed": -1})"), "seed");
  EXPECT_EQ(param_of(R"({"prompt": "a", "stop": ["a","b","c","d","e"]})"), "stop");
  EXPECT_EQ(param_of(R"({"prompt": "a", "n": 2})"), "n");
  EXPECT_EQ(param_of(R"({"prompt": "a", "ignore_eos": 1})"), "ignore_eos");
}

TEST(Api, StopScanHoldsBackPossibleStarts) {
  // "Hello wor" with stop "world": "wor" may become it, so only "Hello " may be sent.
  StopScan s = scan_stop("Hello wor", {"world"});
  EXPECT_FALSE(s.stopped);
  EXPECT_EQ(s.sendable, 6u);
  s = scan_stop("Hello world!", {"world", "lo"});
  EXPECT_TRUE(s.stopped);
  EXPECT_EQ(s.sendable, 3u);  // "lo" at 3 comes first
  s = scan_stop("abc", {});
  EXPECT_EQ(s.sendable, 3u);
}

TEST(Api, Utf8SanitizeIsPrefixStable) {
  const std::string ok = "a\xC3\xA9\xE2\x82\xAC";  // a, U+00E9, U+20AC
  EXPECT_EQ(utf8_sanitize(ok, false), ok);
  EXPECT_EQ(utf8_sanitize("\xBF"
                          "x",
                          false),
            "\xEF\xBF\xBD"
            "x");                                    // lone continuation byte
  EXPECT_EQ(utf8_sanitize("x\xE2\x82", true), "x");  // incomplete: held back
  EXPECT_EQ(utf8_sanitize("x\xE2\x82", false), "x\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(utf8_sanitize("\xC0\x80", false), "\xEF\xBF\xBD\xEF\xBF\xBD");  // overlong
  // Every prefix's held result is a prefix of the whole's.
  const std::string mixed = "\xF0\x9F\x98\x80z\xE2(\xC3\xA9\xFF";
  const std::string whole = utf8_sanitize(mixed, false);
  for (size_t i = 0; i <= mixed.size(); ++i)
    EXPECT_EQ(whole.rfind(utf8_sanitize(mixed.substr(0, i), true), 0), 0u) << i;
}

TEST(ChatTemplate, RendersTheCommonTemplates) {
  const std::vector<ChatMessage> conv = {
      {"system", "Be brief."}, {"user", "Hi"}, {"assistant", "Hello."}, {"user", "Why?"}};
  // ChatML (Qwen2's template, with its default system prompt when none is given).
  ChatTemplate chatml = ChatTemplate::recognise(
      "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
      "{{ '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}{% endif %}"
      "{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}"
      "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}",
      "", "<|im_end|>");
  EXPECT_EQ(std::string(chatml.name()), "chatml");
  EXPECT_EQ(chatml.render(conv),
            "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
            "<|im_start|>assistant\nHello.<|im_end|>\n<|im_start|>user\nWhy?<|im_end|>\n"
            "<|im_start|>assistant\n");
  EXPECT_EQ(chatml.render({{"user", "Hi"}}),
            "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nHi"
            "<|im_end|>\n<|im_start|>assistant\n");
  // Llama-2-chat.
  ChatTemplate llama2 = ChatTemplate::recognise(
      "{% if messages[0]['role'] == 'system' %}... '<<SYS>>\\n' + system_message + "
      "'\\n<</SYS>>\\n\\n' ... bos_token + '[INST] ' + content.strip() + ' [/INST]' ... ' '  + "
      "content.strip() + ' ' + eos_token",
      "<s>", "</s>");
  EXPECT_EQ(std::string(llama2.name()), "llama-2");
  EXPECT_EQ(
      llama2.render(conv),
      "<s>[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nHi [/INST] Hello. </s><s>[INST] Why? [/INST]");
  // Mistral-7B-Instruct-v0.1: no system role.
  ChatTemplate mistral = ChatTemplate::recognise(
      "{{ bos_token }}{% for message in messages %}... '[INST] ' + message['content'] + "
      "' [/INST]' ... message['content'] + eos_token ...",
      "<s>", "</s>");
  EXPECT_EQ(std::string(mistral.name()), "mistral");
  EXPECT_EQ(mistral.render({{"user", "Hi"}, {"assistant", "Hello."}, {"user", "Why?"}}),
            "<s>[INST] Hi [/INST]Hello.</s>[INST] Why? [/INST]");
  EXPECT_THROW(mistral.render(conv), ApiError);
  // Zephyr.
  ChatTemplate zephyr = ChatTemplate::recognise(
      "{% for message in messages %}{% if message['role'] == 'user' %}{{ '<|user|>\\n' + "
      "message['content'] + eos_token }}...{{ '<|assistant|>' }}",
      "<s>", "</s>");
  EXPECT_EQ(std::string(zephyr.name()), "zephyr");
  EXPECT_EQ(zephyr.render({{"system", "S"}, {"user", "Hi"}}),
            "<|system|>\nS</s>\n<|user|>\nHi</s>\n<|assistant|>\n");
  // Anything else: refused with the reason.
  ChatTemplate other = ChatTemplate::recognise("{{ messages | tojson }}", "", "");
  EXPECT_FALSE(other.usable());
  try {
    other.render({{"user", "x"}});
    FAIL() << "rendered an unknown template";
  } catch (const ApiError& e) {
    EXPECT_EQ(e.param, "messages");
    EXPECT_NE(e.message.find("supported: ChatML"), std::string::npos);
  }
}

}  // namespace
}  // namespace llmprune
