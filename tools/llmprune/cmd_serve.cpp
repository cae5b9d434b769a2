// `llmprune serve`: the OpenAI-compatible HTTP server over a staged model (serve/http_server.h).
// SIGTERM / SIGINT stop accepting connections, let running requests finish, then exit 0.
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <thread>

#include "command.h"
#include "serve/http_server.h"
#include "staged_options.h"
#include "util/error.h"
#include "util/log.h"

namespace llmprune::cli {
namespace {

struct ServeCliOptions {
  StagedCliOptions staged;
  ServerOptions server;
  std::string report;
};

// Signals arrive on any thread (LibTorch starts its own): the handler only writes the signal
// number to a pipe; a watcher thread reads it and stops the server.
int g_signal_pipe[2] = {-1, -1};

void on_stop_signal(int sig) {
  const unsigned char b = static_cast<unsigned char>(sig);
  ssize_t ignored = write(g_signal_pipe[1], &b, 1);
  (void)ignored;
}

void run_serve(ServeCliOptions o) {
  LLMPRUNE_CHECK(pipe(g_signal_pipe) == 0, "serve: cannot create the signal pipe");
  struct sigaction sa = {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);

  StagedSetup s = setup_staged(o.staged);
  if (o.server.model_id.empty())
    o.server.model_id = std::filesystem::path(o.staged.model).filename().string();
  if (o.server.model_id.empty()) o.server.model_id = "llmprune";
  ChatTemplate chat = ChatTemplate::from_dir(o.staged.model);
  HttpServer server(*s.model, *s.tokenizer, chat, s.policy, o.server);
  const int port = server.bind();
  std::thread watcher([&] {
    unsigned char sig = 0;
    while (read(g_signal_pipe[0], &sig, 1) < 0 && errno == EINTR) {
    }
    if (sig != 0) {
      log_info("signal ", static_cast<int>(sig), ": finishing running requests, then exiting");
      server.stop();
    }
  });
  log_info("stages ", s.model->stage_names(), "; thresholds ", s.policy.low, ", ", s.policy.high,
           " nats; chat template: ", chat.name(), "; parallel ", o.server.parallel,
           ", queue limit ", o.server.queue_limit);
  std::fprintf(stderr, "listening on http://%s:%d\n", o.server.host.c_str(), port);
  std::fflush(stderr);
  server.run();
  if (!server.stopping()) on_stop_signal(0);  // wake the watcher: nothing to stop
  watcher.join();
  log_info("server stopped");
  write_report(o.report, {{"command", "serve"},
                          {"model", o.staged.model},
                          {"port", port},
                          {"stages", stages_json(*s.model)}});
}

}  // namespace

LLMPRUNE_COMMAND("", 53) {
  auto o = std::make_shared<ServeCliOptions>();
  o->server.model_id.clear();
  CLI::App* cmd = app.add_subcommand(
      "serve", "OpenAI-compatible HTTP server over a depth-pruned model's stages (A, AB, FULL)");
  cmd->footer(
      "Endpoints: POST /v1/completions, POST /v1/chat/completions (when the model's chat\n"
      "template is one llmprune renders: ChatML, Llama-2, Mistral, Zephyr), GET /v1/models,\n"
      "/health, /metrics (Prometheus) and / (a page to try prompts). \"stream\": true answers\n"
      "with server-sent events. Each answer has an \"llmprune\" field: the stage and entropy.\n"
      "Loopback only unless --host says otherwise. SIGTERM finishes running requests, exits 0.\n\n"
      "Example:\n  llmprune serve --model A --bundles-dir BUNDLES --port 8080 --parallel 4\n"
      "  curl -s localhost:8080/v1/completions -d '{\"prompt\": \"Once upon a time\", "
      "\"max_tokens\": 32}'");
  add_staged_options(cmd, o->staged, /*with_generation=*/false);
  auto* g = "Server";
  cmd->add_option("--host", o->server.host, "address to listen on (127.0.0.1: this machine only)")
      ->capture_default_str()
      ->group(g);
  cmd->add_option("--port", o->server.port, "TCP port (0: any free port, printed at start)")
      ->check(CLI::Range(0, 65535))
      ->capture_default_str()
      ->group(g);
  cmd->add_option("--parallel", o->server.parallel,
                  "sequences generated at once; further requests wait in a FIFO queue")
      ->check(CLI::Range(1, 256))
      ->capture_default_str()
      ->group(g);
  cmd->add_option("--queue-limit", o->server.queue_limit,
                  "requests that may wait for a slot; beyond that a request gets HTTP 503 "
                  "(type \"overloaded\", Retry-After: 1) at once. 0: never wait")
      ->check(CLI::Range(0, 1 << 20))
      ->capture_default_str()
      ->group(g);
  cmd->add_option("--max-body-bytes", o->server.limits.max_body_bytes, "largest request body")
      ->check(CLI::Range(static_cast<size_t>(64), static_cast<size_t>(1) << 30))
      ->capture_default_str()
      ->group(g);
  cmd->add_option("--max-prompt-tokens", o->server.limits.max_prompt_tokens,
                  "longest prompt (tokens)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str()
      ->group(g);
  cmd->add_option("--max-tokens", o->server.limits.max_tokens,
                  "largest max_tokens a request may ask for")
      ->check(CLI::PositiveNumber)
      ->capture_default_str()
      ->group(g);
  cmd->add_option("--model-id", o->server.model_id, "model name in responses (default: folder)")
      ->group(g);
  add_report_option(cmd, o->report);
  cmd->callback([o] { run_serve(*o); });
}

}  // namespace llmprune::cli
