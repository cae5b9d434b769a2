// `llmprune serve`: an OpenAI-compatible HTTP server (cpp-httplib) over a staged model.
// POST /v1/completions, POST /v1/chat/completions (server-sent events with "stream": true),
// GET /v1/models, /health, /metrics (Prometheus) and / (the embedded page). Every answer
// carries an "llmprune" field: the stage that answered and the entropy that chose it.
#pragma once

#include <memory>
#include <string>

#include "serve/api.h"
#include "serve/chat_template.h"
#include "serve/router.h"
#include "serve/staged_model.h"
#include "tokenizer/tokenizer.h"

namespace llmprune {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;       // 0: any free port
  int parallel = 1;      // sequences generated at once; the rest wait in a FIFO queue
  int queue_limit = 64;  // requests that may wait; one more gets 503 + Retry-After (0: none)
  int http_threads = 0;  // connection threads (0: parallel + 16)
  ApiLimits limits;
  std::string model_id = "llmprune";
};

class HttpServer {
 public:
  HttpServer(StagedModel& model, const Tokenizer& tokenizer, ChatTemplate chat, RoutePolicy policy,
             ServerOptions opts);
  ~HttpServer();
  // Bind the listening socket; returns the port. bad_input when it cannot be bound (in use).
  int bind();
  // Serve until stop(); returns after the requests already running have finished.
  void run();
  // Stop accepting connections (thread-safe, callable from a signal-watching thread).
  void stop();
  int port() const;
  bool stopping() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The embedded page served at "/" (static HTML + JS, no external assets).
const std::string& index_page();

}  // namespace llmprune
