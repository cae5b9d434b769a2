// HTTP server (see http_server.h). Each request holds one sequence slot while it generates (or
// gets 503 when --queue-limit requests already wait for one); a streaming response writes one
// SSE event per piece of text, and a failed write (client gone) cancels the generation, which
// frees the slot.
#include "serve/http_server.h"

#include <httplib.h>
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <csignal>

#include "serve/metrics.h"
#include "serve/staged_generate.h"
#include "util/error.h"
#include "util/log.h"
#include "util/timer.h"

namespace llmprune {

struct HttpServer::Impl {
  StagedModel& model;
  const Tokenizer& tok;
  ChatTemplate chat;
  RoutePolicy policy;
  ServerOptions opts;
  httplib::Server svr;
  SlotPool slots;
  Metrics metrics;
  std::atomic<bool> stopping{false};
  std::atomic<uint64_t> next_id{1};
  int port = 0;

  Impl(StagedModel& m, const Tokenizer& t, ChatTemplate c, RoutePolicy p, ServerOptions o)
      : model(m),
        tok(t),
        chat(std::move(c)),
        policy(p),
        opts(std::move(o)),
        slots(std::max(1, opts.parallel), opts.queue_limit),
        metrics(stage_names(m)) {}

  static std::vector<std::string> stage_names(const StagedModel& m) {
    std::vector<std::string> v;
    for (int i = 0; i < m.n_stages(); ++i) v.push_back(m.info(i).name);
    return v;
  }

  void send_error(httplib::Response& res, const ApiError& e) {
    metrics.http_error(e.status);
    res.status = e.status;
    res.set_content(e.body().dump(), "application/json");
  }

  // Prompt ids for a request; throws ApiError for a template or length problem.
  std::vector<int64_t> prompt_ids(const CompletionRequest& cr, bool chat_request) {
    std::vector<TokenId> ids;
    if (chat_request) {
      ids = tok.encode(chat.render(cr.messages), /*add_special_tokens=*/false);
    } else {
      ids = tok.encode(cr.prompt, /*add_special_tokens=*/true);
    }
    const char* field = chat_request ? "messages" : "prompt";
    if (ids.empty())
      throw ApiError{400, std::string("\"") + field + "\": encodes to no tokens", field};
    const int64_t n = static_cast<int64_t>(ids.size());
    const int64_t ctx = model.stage(0).spec().max_position_embeddings;
    if (n > opts.limits.max_prompt_tokens || (ctx > 0 && n >= ctx))
      throw ApiError{400,
                     std::string("\"") + field + "\": " + std::to_string(n) +
                         " tokens; the limit is " +
                         std::to_string(std::min(opts.limits.max_prompt_tokens,
                                                 ctx > 0 ? ctx - 1 : INT64_MAX)),
                     field};
    return std::vector<int64_t>(ids.begin(), ids.end());
  }

  struct Outcome {
    StagedResult r;
    std::string text, finish;
    int64_t prompt_tokens = 0;
  };

  // A held sequence slot, released when the last copy goes (a streaming response keeps one in
  // its content provider); null when the queue is full.
  using Slot = std::shared_ptr<SlotPool>;
  Slot take_slot() {
    if (!slots.acquire()) return nullptr;
    return Slot(&slots, [](SlotPool* p) { p->release(); });
  }

  void send_overloaded(httplib::Response& res) {
    metrics.rejected();
    res.set_header("Retry-After", "1");
    send_error(res, ApiError{503,
                             "all " + std::to_string(slots.total()) + " slots are busy and " +
                                 std::to_string(slots.queue_limit()) +
                                 " requests wait (--queue-limit): retry later",
                             "", "overloaded"});
  }

  // Generate (the caller holds a slot), passing text pieces to `on_text` (false: the client is
  // gone). `since`: the request's arrival, for the latency metric.
  Outcome generate(const std::vector<int64_t>& ids, const CompletionRequest& cr,
                   const std::function<bool(const std::string&)>& on_text,
                   const RouteSink& on_route, const Timer& since) {
    const Timer& timer = since;
    Outcome o;
    o.prompt_tokens = static_cast<int64_t>(ids.size());
    StreamDecoder dec(tok);
    std::string text;
    size_t sent = 0;
    bool stopped = false, gone = false;
    auto flush_to = [&](size_t upto) {
      if (upto <= sent) return true;
      if (on_text && !on_text(text.substr(sent, upto - sent))) {
        gone = true;
        return false;
      }
      sent = upto;
      return true;
    };
    GenerateOptions gen = cr.gen;
    gen.stop_at_eos = !cr.ignore_eos;
    // `raw`: the decoded bytes; `text`: their valid UTF-8 (an incomplete tail held back).
    std::string raw;
    o.r = staged_generate(
        model, ids, gen, policy,
        [&](int64_t id) {
          raw += dec.push(static_cast<TokenId>(id));
          text = utf8_sanitize(raw, /*hold_tail=*/true);
          StopScan sc = scan_stop(text, cr.stop);
          if (!flush_to(sc.sendable)) return false;
          if (sc.stopped) stopped = true;
          return !stopped;
        },
        on_route);
    if (!stopped && !gone) {
      raw += dec.flush();
      text = utf8_sanitize(raw, /*hold_tail=*/false);
      StopScan sc = scan_stop(text, cr.stop);
      stopped = sc.stopped;
      flush_to(stopped ? sc.sendable : text.size());
    }
    o.text = text.substr(0, sent);
    o.finish = stopped || o.r.stop_reason == "eos" ? "stop" : gone ? "cancelled" : "length";
    metrics.record(model.info(o.r.stage).name, o.prompt_tokens,
                   static_cast<int64_t>(o.r.tokens.size()), timer.seconds(), o.r.entropy,
                   o.r.drafted, o.r.accepted, gone ? "cancelled" : o.finish);
    return o;
  }

  json extra(const StagedResult& r) const {
    return {{"stage", model.info(r.stage).name},
            {"entropy", r.entropy},
            {"final_stage", model.info(r.final_stage).name},
            {"escalations", r.escalations.size()},
            {"drafted", r.drafted},
            {"accepted", r.accepted},
            {"thresholds", {policy.low, policy.high}},
            {"prefill_seconds", r.prefill_seconds},
            {"decode_seconds", r.decode_seconds}};
  }

  json usage(const Outcome& o) const {
    const int64_t c = static_cast<int64_t>(o.r.tokens.size());
    return {{"prompt_tokens", o.prompt_tokens},
            {"completion_tokens", c},
            {"total_tokens", o.prompt_tokens + c}};
  }

  void completion(const httplib::Request& req, httplib::Response& res, bool chat_request) {
    CompletionRequest cr;
    std::vector<int64_t> ids;
    try {
      cr = parse_completion(req.body, opts.limits, chat_request);
      ids = prompt_ids(cr, chat_request);
    } catch (const ApiError& e) {
      send_error(res, e);
      return;
    }
    const Timer arrived;
    Slot slot = take_slot();
    if (!slot) {
      send_overloaded(res);
      return;
    }
    const std::string id = (chat_request ? "chatcmpl-" : "cmpl-") + std::to_string(next_id++);
    const int64_t created = static_cast<int64_t>(std::time(nullptr));
    const std::string object = chat_request ? "chat.completion" : "text_completion";
    if (!cr.stream) {
      Outcome o = generate(ids, cr, {}, {}, arrived);
      json choice = {{"index", 0}, {"finish_reason", o.finish}, {"logprobs", nullptr}};
      if (chat_request)
        choice["message"] = {{"role", "assistant"}, {"content", o.text}};
      else
        choice["text"] = o.text;
      json body = {{"id", id},
                   {"object", object},
                   {"created", created},
                   {"model", opts.model_id},
                   {"choices", {choice}},
                   {"usage", usage(o)},
                   {"llmprune", extra(o.r)}};
      res.set_content(body.dump(), "application/json");
      return;
    }
    res.set_header("Cache-Control", "no-cache");
    res.set_chunked_content_provider(
        "text/event-stream", [this, cr, ids, id, created, chat_request, arrived, slot](
                                 size_t, httplib::DataSink& sink) mutable {
          const std::string obj = chat_request ? "chat.completion.chunk" : "text_completion";
          auto event = [&](const json& j) {
            const std::string s = "data: " + j.dump() + "\n\n";
            return sink.write(s.data(), s.size());
          };
          auto chunk = [&](const std::string& text, const json& finish) {
            json choice = {{"index", 0}, {"finish_reason", finish}};
            if (chat_request)
              choice["delta"] = {{"content", text}};
            else
              choice["text"] = text;
            return json{{"id", id},
                        {"object", obj},
                        {"created", created},
                        {"model", opts.model_id},
                        {"choices", {choice}}};
          };
          try {
            Outcome o = generate(
                ids, cr, [&](const std::string& t) { return event(chunk(t, nullptr)); },
                [&](int stage, double entropy) {
                  // First event: who answers and why (before any text).
                  json j = chunk("", nullptr);
                  if (chat_request) j["choices"][0]["delta"] = {{"role", "assistant"}};
                  j["llmprune"] = {{"stage", model.info(stage).name}, {"entropy", entropy}};
                  event(j);
                },
                arrived);
            slot.reset();  // free the slot before the last writes
            if (o.finish == "cancelled") return false;
            json last = chunk("", o.finish);
            if (chat_request) last["choices"][0]["delta"] = json::object();
            last["usage"] = usage(o);
            last["llmprune"] = extra(o.r);
            if (!event(last)) return false;
            const std::string done = "data: [DONE]\n\n";
            sink.write(done.data(), done.size());
          } catch (const std::exception& e) {
            json err = ApiError{500, e.what(), ""}.body();
            event(err);
          }
          sink.done();
          return true;
        });
  }

  void routes() {
    svr.Post("/v1/completions",
             [this](const httplib::Request& q, httplib::Response& r) { completion(q, r, false); });
    svr.Post("/v1/chat/completions",
             [this](const httplib::Request& q, httplib::Response& r) { completion(q, r, true); });
    svr.Get("/v1/models", [this](const httplib::Request&, httplib::Response& r) {
      json stages = json::array();
      for (int i = 0; i < model.n_stages(); ++i)
        stages.push_back({{"name", model.info(i).name}, {"layers", model.info(i).spec.n_layers()}});
      json m = {{"id", opts.model_id},
                {"object", "model"},
                {"created", 0},
                {"owned_by", "llmprune"},
                {"llmprune", {{"stages", stages}, {"chat_template", chat.name()}}}};
      r.set_content(json{{"object", "list"}, {"data", {m}}}.dump(), "application/json");
    });
    svr.Get("/health", [this](const httplib::Request&, httplib::Response& r) {
      json j = {{"status", stopping ? "stopping" : "ok"}, {"slots_busy", slots.busy()},
                {"slots_total", slots.total()},           {"queue_waiting", slots.waiting()},
                {"queue_limit", slots.queue_limit()},     {"stages", stage_names(model)},
                {"requests", metrics.summary()}};
      r.set_content(j.dump(), "application/json");
    });
    svr.Get("/metrics", [this](const httplib::Request&, httplib::Response& r) {
      r.set_content(metrics.prometheus(slots), "text/plain; version=0.0.4");
    });
    svr.Get("/", [](const httplib::Request&, httplib::Response& r) {
      r.set_content(index_page(), "text/html; charset=utf-8");
    });
    svr.set_exception_handler(
        [this](const httplib::Request&, httplib::Response& r, std::exception_ptr ep) {
          std::string msg = "internal error";
          try {
            std::rethrow_exception(ep);
          } catch (const std::exception& e) {
            msg = e.what();
          } catch (...) {
          }
          send_error(r, ApiError{500, msg, ""});
        });
  }
};

HttpServer::HttpServer(StagedModel& model, const Tokenizer& tokenizer, ChatTemplate chat,
                       RoutePolicy policy, ServerOptions opts)
    : impl_(std::make_unique<Impl>(model, tokenizer, std::move(chat), policy, std::move(opts))) {
  LLMPRUNE_CHECK(impl_->opts.parallel >= 1, "--parallel must be >= 1, got ", impl_->opts.parallel);
  const int threads =
      impl_->opts.http_threads > 0 ? impl_->opts.http_threads : impl_->opts.parallel + 16;
  impl_->svr.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  // Bodies beyond our own limit still arrive, so the 400 can name the field; far beyond it
  // httplib answers 413 itself.
  impl_->svr.set_payload_max_length(impl_->opts.limits.max_body_bytes * 8 + 4096);
  impl_->svr.set_keep_alive_timeout(2);
  // SO_REUSEADDR only: httplib's default adds SO_REUSEPORT, which lets a second server bind a
  // port that is in use (and share its connections) instead of failing.
  impl_->svr.set_socket_options([](int sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
  impl_->routes();
}

HttpServer::~HttpServer() = default;

int HttpServer::bind() {
  auto& s = impl_->svr;
  if (impl_->opts.port == 0) {
    impl_->port = s.bind_to_any_port(impl_->opts.host);
    LLMPRUNE_CHECK(impl_->port > 0, "cannot listen on ", impl_->opts.host,
                   " (no free port, or not a local address)");
  } else {
    LLMPRUNE_CHECK(s.bind_to_port(impl_->opts.host, impl_->opts.port), "cannot listen on ",
                   impl_->opts.host, ":", impl_->opts.port,
                   ": the port is in use or the address is not local (--host, --port)");
    impl_->port = impl_->opts.port;
  }
  return impl_->port;
}

void HttpServer::run() {
  // A client that vanishes must not kill the process (writes to its socket raise SIGPIPE).
  std::signal(SIGPIPE, SIG_IGN);
  impl_->svr.listen_after_bind();
}

void HttpServer::stop() {
  impl_->stopping = true;
  impl_->svr.stop();
}

int HttpServer::port() const { return impl_->port; }
bool HttpServer::stopping() const { return impl_->stopping; }

}  // namespace llmprune
