// The HTTP server against a real client on a free loopback port: completions (plain and SSE),
// 8 concurrent clients x 5 requests equal to single-client answers, malformed and oversized
// bodies (400 naming the field, then still serving), a client leaving mid-stream (its slot
// freed), a full queue (503 overloaded, then serving again), chat templates, /v1/models, /metrics,
// and SIGTERM / port-in-use on the binary.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <fstream>
#include <mutex>
#include <thread>

#include "http_fixtures.h"
#include "model/synthetic.h"
#include "serve/metrics.h"
#include "serve/staged_generate.h"
#include "tokenizer/byte_tokenizer.h"

namespace llmprune {
namespace {

using test::RunningServer;

json post(httplib::Client& c, const std::string& path, const json& body, int* status = nullptr) {
  auto r = c.Post(path.c_str(), body.dump(), "application/json");
  EXPECT_TRUE(r) << "no response from " << path;
  if (!r) return {};
  if (status) *status = r->status;
  return json::parse(r->body);
}

// The text staged_generate gives directly (the server must say exactly this).
// The server sends valid UTF-8 (the toy model emits arbitrary bytes): compare sanitized text.
std::string direct_text(RunningServer& s, const std::string& prompt, int64_t n,
                        bool special = true) {
  auto ids32 = s.tok->encode(prompt, special);
  GenerateOptions g;
  g.max_new_tokens = n;
  RoutePolicy p;
  p.low = 0.0;
  p.high = 1e9;  // everything on AB (matches the server below)
  StagedResult r =
      staged_generate(*s.model, std::vector<int64_t>(ids32.begin(), ids32.end()), g, p);
  return utf8_sanitize(s.tok->decode(std::vector<TokenId>(r.tokens.begin(), r.tokens.end()), true),
                       false);
}

struct HttpFixture : ::testing::Test {
  static void SetUpTestSuite() {
    f = new test::StagedFixture(test::make_staged("http", "angular", 2));
  }
  static void TearDownTestSuite() { delete f; }
  static test::StagedFixture* f;
  static RoutePolicy ab_policy() {
    RoutePolicy p;
    p.low = 0.0;
    p.high = 1e9;
    return p;
  }
};
test::StagedFixture* HttpFixture::f = nullptr;

TEST_F(HttpFixture, CompletionPlainAndStreamed) {
  ServerOptions o;
  o.parallel = 2;
  RunningServer s(f->a, f->bundles, ab_policy(), o);
  auto c = s.client();
  const std::string want = direct_text(s, "Hello there", 12);
  int status = 0;
  json j = post(c, "/v1/completions", {{"prompt", "Hello there"}, {"max_tokens", 12}}, &status);
  ASSERT_EQ(status, 200) << j.dump();
  EXPECT_EQ(j.at("object"), "text_completion");
  EXPECT_EQ(j.at("choices")[0].at("text"), want);
  EXPECT_EQ(j.at("llmprune").at("stage"), "AB");
  EXPECT_TRUE(j.at("llmprune").at("entropy").is_number());
  EXPECT_EQ(j.at("usage").at("prompt_tokens"), s.tok->encode("Hello there", true).size());
  // Streamed: events parsed, the text pieces concatenate to the same answer.
  auto r = c.Post("/v1/completions",
                  json{{"prompt", "Hello there"}, {"max_tokens", 12}, {"stream", true}}.dump(),
                  "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_NE(r->get_header_value("Content-Type").find("text/event-stream"), std::string::npos);
  auto events = test::sse_data(r->body);
  ASSERT_GE(events.size(), 3u);
  EXPECT_EQ(events.back(), "[DONE]");
  json first = json::parse(events.front());
  EXPECT_EQ(first.at("llmprune").at("stage"), "AB");
  std::string text;
  for (size_t i = 0; i + 1 < events.size(); ++i) {
    json e = json::parse(events[i]);
    text += e.at("choices")[0].at("text").get<std::string>();
  }
  EXPECT_EQ(text, want);
  json last = json::parse(events[events.size() - 2]);
  EXPECT_FALSE(last.at("choices")[0].at("finish_reason").is_null());
  EXPECT_EQ(last.at("llmprune").at("stage"), "AB");
  // Stop sequences cut the text (the stop string itself is not returned).
  size_t cut = 1;  // an ASCII character after the first one (the text may hold U+FFFD)
  while (cut < want.size() && !(want[cut] > ' ' && want[cut] < 127)) ++cut;
  if (cut < want.size()) {
    const std::string stop = want.substr(cut, 1);
    j = post(c, "/v1/completions", {{"prompt", "Hello there"}, {"max_tokens", 12}, {"stop", stop}});
    EXPECT_EQ(j.at("choices")[0].at("text"), want.substr(0, want.find(stop)));
    EXPECT_EQ(j.at("choices")[0].at("finish_reason"), "stop");
  }
  // /v1/models, /health, /metrics, /
  auto m = c.Get("/v1/models");
  ASSERT_TRUE(m);
  EXPECT_EQ(json::parse(m->body).at("data")[0].at("llmprune").at("stages").size(), 3u);
  auto h = c.Get("/health");
  ASSERT_TRUE(h);
  EXPECT_EQ(json::parse(h->body).at("status"), "ok");
  auto met = c.Get("/metrics");
  ASSERT_TRUE(met);
  EXPECT_NE(met->body.find("llmprune_requests_total{stage=\"AB\"} 3"), std::string::npos)
      << met->body;
  EXPECT_NE(met->body.find("llmprune_request_latency_seconds_bucket{stage=\"AB\",le=\"+Inf\"} 3"),
            std::string::npos);
  auto page = c.Get("/");
  ASSERT_TRUE(page);
  EXPECT_NE(page->body.find("/v1/completions"), std::string::npos);
}

TEST_F(HttpFixture, EightClientsFiveRequestsEachEqualSingleClientAnswers) {
  ServerOptions o;
  o.parallel = 3;  // fewer slots than clients: the queue is exercised too
  RunningServer s(f->a, f->bundles, ab_policy(), o);
  std::vector<std::string> prompts, want;
  for (int i = 0; i < 8; ++i) {
    prompts.push_back("client " + std::to_string(i) + " says");
    want.push_back(direct_text(s, prompts.back(), 10));
  }
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  std::vector<std::string> failures(8);
  for (int i = 0; i < 8; ++i)
    threads.emplace_back([&, i] {
      auto c = s.client();
      for (int k = 0; k < 5; ++k) {
        const bool stream = k % 2 == 1;
        auto r = c.Post("/v1/completions",
                        json{{"prompt", prompts[i]}, {"max_tokens", 10}, {"stream", stream}}.dump(),
                        "application/json");
        if (!r || r->status != 200) {
          failures[i] += "request failed; ";
          continue;
        }
        std::string text;
        if (stream) {
          for (const auto& e : test::sse_data(r->body))
            if (e != "[DONE]")
              text += json::parse(e).at("choices")[0].at("text").get<std::string>();
        } else {
          text = json::parse(r->body).at("choices")[0].at("text").get<std::string>();
        }
        if (text == want[i])
          ++ok;
        else
          failures[i] += "\"" + text + "\" != \"" + want[i] + "\"; ";
      }
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 40);
  for (int i = 0; i < 8; ++i) EXPECT_EQ(failures[i], "") << "client " << i;
}

TEST_F(HttpFixture, BadRequestsAre400NamingTheFieldAndTheServerGoesOn) {
  ServerOptions o;
  o.limits.max_body_bytes = 4096;
  o.limits.max_tokens = 64;
  o.limits.max_prompt_tokens = 100;
  RunningServer s(f->a, f->bundles, ab_policy(), o);
  auto c = s.client();
  struct Case {
    std::string body, param;
  };
  const std::vector<Case> cases = {
      {"{not json", "body"},
      {"[1, 2]", "body"},
      {R"({"max_tokens": 4})", "prompt"},
      {R"({"prompt": 7})", "prompt"},
      {R"({"prompt": "hi", "max_tokens": -1})", "max_tokens"},
      {R"({"prompt": "hi", "max_tokens": 65})", "max_tokens"},
      {R"({"prompt": "hi", "max_tokens": "ten"})", "max_tokens"},
      {R"({"prompt": "hi", "temperature": 9})", "temperature"},
      {R"({"prompt": "hi", "top_p": 0})", "top_p"},
      {R"({"prompt": "hi", "top_k": -3})", "top_k"},
      {R"({"prompt": "hi", "stream": "yes"})", "stream"},
      {R"({"prompt": "hi", "stop": [1]})", "stop"},
      {R"({"prompt": ")" + std::string(150, 'x') + R"("})", "prompt"},  // 150 tokens > 100
      {R"({"prompt": ")" + std::string(5000, 'x') + R"("})", "body"},   // 5 kB > 4 kB
  };
  for (const auto& k : cases) {
    auto r = c.Post("/v1/completions", k.body, "application/json");
    ASSERT_TRUE(r) << k.body.substr(0, 60);
    EXPECT_EQ(r->status, 400) << k.body.substr(0, 60);
    json j = json::parse(r->body);
    EXPECT_EQ(j.at("error").at("param"), k.param) << k.body.substr(0, 60) << " -> " << r->body;
    EXPECT_NE(j.at("error").at("message").get<std::string>().find(k.param), std::string::npos);
  }
  // No chat template in this model: 400 naming the problem.
  int status = 0;
  json j = post(c, "/v1/chat/completions", {{"messages", {{{"role", "user"}, {"content", "hi"}}}}},
                &status);
  EXPECT_EQ(status, 400);
  EXPECT_EQ(j.at("error").at("param"), "messages");
  EXPECT_NE(j.at("error").at("message").get<std::string>().find("chat"), std::string::npos)
      << j.dump();
  // Still serving.
  j = post(c, "/v1/completions", {{"prompt", "hi"}, {"max_tokens", 3}}, &status);
  EXPECT_EQ(status, 200);
  auto met = c.Get("/metrics");
  ASSERT_TRUE(met);
  EXPECT_NE(met->body.find("llmprune_http_errors_total{status=\"400\"} " +
                           std::to_string(cases.size() + 1)),
            std::string::npos);
}

// A plain (one-stage) model slow enough that a long answer is still running when the test acts:
// hidden 128, 4 layers, a context of 2048.
std::string slow_model() {
  static std::string dir;
  if (dir.empty()) {
    dir = test::temp_dir("slow") + "/M";
    SyntheticOptions o = test::prune_model_options(4);
    o.hidden = 128;
    o.intermediate = 256;
    o.max_position_embeddings = 2048;
    make_test_model("llama", dir, o);
    write_file_atomic(join_path(dir, "tokenizer.json"), byte_level_tokenizer_json());
  }
  return dir;
}

const json kLong = {
    {"prompt", "abc"}, {"max_tokens", 1500}, {"stream", true}, {"ignore_eos", true}};

TEST(HttpSlow, ClientLeavingMidStreamFreesItsSlot) {
  ServerOptions o;
  o.parallel = 1;
  o.limits.max_tokens = 2000;
  RunningServer s(slow_model(), "", RoutePolicy{}, o);
  httplib::Client c("127.0.0.1", s.port);
  int chunks = 0;
  httplib::Request q;
  q.method = "POST";
  q.path = "/v1/completions";
  q.body = kLong.dump();
  q.set_header("Content-Type", "application/json");
  q.content_receiver = [&](const char*, size_t, uint64_t, uint64_t) { return ++chunks < 3; };
  c.send(q);  // returns once the receiver refuses: the connection is closed
  EXPECT_EQ(chunks, 3);
  // The slot comes back (poll /health), the generation was cancelled, the server serves on.
  int busy = -1;
  for (int i = 0; i < 400 && busy != 0; ++i) {
    auto h = s.client().Get("/health");
    ASSERT_TRUE(h);
    busy = json::parse(h->body).at("slots_busy").get<int>();
    if (busy != 0) std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  EXPECT_EQ(busy, 0);
  auto met = s.client().Get("/metrics");
  ASSERT_TRUE(met);
  EXPECT_NE(met->body.find("llmprune_stops_total{reason=\"cancelled\"} 1"), std::string::npos)
      << met->body;
  // Cancelled early: far fewer than 1500 tokens were generated.
  const std::string key = "llmprune_completion_tokens_total{stage=\"A\"} ";
  auto at = met->body.find(key);
  ASSERT_NE(at, std::string::npos);
  EXPECT_LT(std::stoll(met->body.substr(at + key.size())), 1500);
  auto after = s.client().Post("/v1/completions", json{{"prompt", "x"}, {"max_tokens", 2}}.dump(),
                               "application/json");
  ASSERT_TRUE(after);
  EXPECT_EQ(after->status, 200);
}

// --parallel 1 --queue-limit 0: while a long streaming request holds the only slot, another
// request is turned away at once with 503 (JSON error of type "overloaded", Retry-After),
// counted in /metrics; once the first has finished, a third request is served.
TEST(HttpSlow, QueueLimitTurnsAwayWithOverloaded503) {
  ServerOptions o;
  o.parallel = 1;
  o.queue_limit = 0;
  o.limits.max_tokens = 2000;
  RunningServer s(slow_model(), "", RoutePolicy{}, o);
  std::mutex mu;
  std::condition_variable cv;
  bool streaming = false;
  std::string body;
  std::thread first([&] {
    httplib::Client c("127.0.0.1", s.port);
    c.set_read_timeout(120, 0);
    httplib::Request q;
    q.method = "POST";
    q.path = "/v1/completions";
    q.body = json{{"prompt", "abc"}, {"max_tokens", 1500}, {"stream", true}, {"ignore_eos", true}}
                 .dump();
    q.set_header("Content-Type", "application/json");
    q.content_receiver = [&](const char* data, size_t n, uint64_t, uint64_t) {
      std::lock_guard<std::mutex> lock(mu);
      body.append(data, n);
      streaming = true;
      cv.notify_all();
      return true;
    };
    c.send(q);
  });
  {
    // The first event arrived: its generation holds the slot (1500 tokens, ~0.7 s here, are
    // still to come; the second request below takes milliseconds).
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return streaming; });
  }
  auto second = s.client().Post("/v1/completions", json{{"prompt", "x"}, {"max_tokens", 2}}.dump(),
                                "application/json");
  ASSERT_TRUE(second);
  EXPECT_EQ(second->status, 503);
  EXPECT_EQ(second->get_header_value("Retry-After"), "1");
  json err = json::parse(second->body);
  EXPECT_EQ(err.at("error").at("type"), "overloaded") << second->body;
  EXPECT_NE(err.at("error").at("message").get<std::string>().find("--queue-limit"),
            std::string::npos);
  first.join();
  auto events = test::sse_data(body);
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back(), "[DONE]");  // the first request ran to its end, undisturbed
  EXPECT_EQ(json::parse(events[events.size() - 2]).at("usage").at("completion_tokens"), 1500);
  auto third = s.client().Post("/v1/completions", json{{"prompt", "x"}, {"max_tokens", 2}}.dump(),
                               "application/json");
  ASSERT_TRUE(third);
  EXPECT_EQ(third->status, 200) << third->body;
  auto met = s.client().Get("/metrics");
  ASSERT_TRUE(met);
  EXPECT_NE(met->body.find("llmprune_requests_rejected_total 1\n"), std::string::npos) << met->body;
  EXPECT_NE(met->body.find("llmprune_http_errors_total{status=\"503\"} 1\n"), std::string::npos);
  EXPECT_NE(met->body.find("llmprune_queue_limit 0\n"), std::string::npos);
}

// The pool itself with a queue of one: a second taker waits, a third is refused at once, and
// the waiter gets the slot when it is released.
TEST(SlotPool, QueueLimitOne) {
  SlotPool pool(1, 1);
  ASSERT_TRUE(pool.acquire());
  std::atomic<bool> got{false};
  std::thread waiter([&] { got = pool.acquire(); });
  while (pool.waiting() != 1) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  EXPECT_FALSE(pool.acquire());  // one already waits: the limit
  EXPECT_EQ(pool.waiting(), 1);
  pool.release();
  waiter.join();
  EXPECT_TRUE(got);
  EXPECT_EQ(pool.busy(), 1);
  pool.release();
  SlotPool unlimited(1);  // no limit: acquire never refuses (here: a free slot at once)
  EXPECT_TRUE(unlimited.acquire());
}

TEST_F(HttpFixture, ChatWithAChatMLTemplate) {
  // A copy of A whose tokenizer_config.json has a ChatML template.
  const std::string dir = test::temp_dir("chat") + "/A";
  std::filesystem::copy(f->a, dir, std::filesystem::copy_options::recursive);
  write_json_file(join_path(dir, "tokenizer_config.json"),
                  {{"chat_template",
                    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + "
                    "message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if "
                    "add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"}});
  RunningServer s(dir, f->bundles, ab_policy());
  auto c = s.client();
  int status = 0;
  json j = post(
      c, "/v1/chat/completions",
      {{"messages",
        {{{"role", "system"}, {"content", "Be brief."}}, {{"role", "user"}, {"content", "Hi"}}}},
       {"max_tokens", 6}},
      &status);
  ASSERT_EQ(status, 200) << j.dump();
  EXPECT_EQ(j.at("object"), "chat.completion");
  EXPECT_EQ(j.at("choices")[0].at("message").at("role"), "assistant");
  const std::string rendered =
      "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
      "<|im_start|>assistant\n";
  // The rendered text, encoded without special tokens (the template carries them).
  EXPECT_EQ(j.at("usage").at("prompt_tokens"), s.tok->encode(rendered, false).size());
  EXPECT_EQ(j.at("choices")[0].at("message").at("content"),
            direct_text(s, rendered, 6, /*special=*/false));
  json bad = post(c, "/v1/chat/completions",
                  {{"messages", {{{"role", "robot"}, {"content", "x"}}}}}, &status);
  EXPECT_EQ(status, 400);
  EXPECT_EQ(bad.at("error").at("param"), "messages");
}

TEST(HttpSlow, SigtermFinishesTheRunningRequestAndExitsZero) {
  test::ChildServer child(
      {"serve", "--model", slow_model(), "--port", "0", "--max-tokens", "2000"});
  ASSERT_GT(child.port, 0) << child.err;
  httplib::Client c("127.0.0.1", child.port);
  c.set_read_timeout(120, 0);
  std::atomic<int> events_seen{0};
  std::string body;
  std::mutex mu;
  std::thread t([&] {
    httplib::Request q;
    q.method = "POST";
    q.path = "/v1/completions";
    q.body = kLong.dump();
    q.set_header("Content-Type", "application/json");
    q.content_receiver = [&](const char* d, size_t n, uint64_t, uint64_t) {
      std::lock_guard<std::mutex> lock(mu);
      body.append(d, n);
      events_seen = static_cast<int>(test::sse_data(body).size());
      return true;
    };
    c.send(q);
  });
  while (events_seen < 2) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  kill(child.pid, SIGTERM);
  const int at_signal = events_seen;
  t.join();
  EXPECT_EQ(child.wait_exit(), 0) << child.err;
  auto events = test::sse_data(body);
  ASSERT_GE(events.size(), 2u);
  EXPECT_EQ(events.back(), "[DONE]");  // the running request was finished, not cut
  json last = json::parse(events[events.size() - 2]);
  EXPECT_EQ(last.at("usage").at("completion_tokens"), 1500);
  EXPECT_LT(at_signal, static_cast<int>(events.size()) - 10) << "the answer was not running";
  EXPECT_NE(child.err.find("finishing running requests"), std::string::npos) << child.err;
  // After the exit nothing listens there any more.
  httplib::Client gone("127.0.0.1", child.port);
  EXPECT_FALSE(gone.Get("/health"));
}

TEST_F(HttpFixture, PortInUseIsBadInput) {
  RunningServer s(f->a, f->bundles, ab_policy());
  test::expect_bad_input(test::run_llmprune("serve --model " + f->a + " --bundles-dir " +
                                            f->bundles + " --port " + std::to_string(s.port)),
                         "in use");
}

}  // namespace
}  // namespace llmprune
