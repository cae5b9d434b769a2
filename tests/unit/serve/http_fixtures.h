// HTTP test support: a server over a staged model on a free loopback port (in-process, on its
// own thread), SSE parsing, and the llmprune binary started as a child process.
#pragma once

#include <httplib.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "serve/http_server.h"
#include "staged_fixtures.h"
#include "tokenizer/tokenizer.h"

namespace llmprune::test {

struct RunningServer {
  std::unique_ptr<StagedModel> model;
  std::unique_ptr<Tokenizer> tok;
  std::unique_ptr<HttpServer> server;
  std::thread thread;
  int port = 0;

  RunningServer(const std::string& a, const std::string& bundles, RoutePolicy policy,
                ServerOptions opts = {}) {
    model = StagedModel::load(a, bundles);
    tok = Tokenizer::from_dir(a);
    opts.port = 0;
    server = std::make_unique<HttpServer>(*model, *tok, ChatTemplate::from_dir(a), policy, opts);
    port = server->bind();
    thread = std::thread([this] { server->run(); });
  }
  ~RunningServer() {
    server->stop();
    thread.join();
  }
  httplib::Client client() const {
    httplib::Client c("127.0.0.1", port);
    c.set_read_timeout(60, 0);
    return c;
  }
};

// The JSON payloads of "data: ..." events ("[DONE]" kept as a string).
inline std::vector<std::string> sse_data(const std::string& body) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (true) {
    size_t end = body.find("\n\n", pos);
    if (end == std::string::npos) break;
    std::string ev = body.substr(pos, end - pos);
    pos = end + 2;
    if (ev.rfind("data: ", 0) == 0) out.push_back(ev.substr(6));
  }
  return out;
}

// A child `llmprune <args>` with stderr on a pipe; waits for "listening on http://H:PORT".
struct ChildServer {
  pid_t pid = -1;
  int port = 0;
  int err_fd = -1;
  std::string err;

  explicit ChildServer(const std::vector<std::string>& args) {
    int fds[2];
    if (pipe(fds) != 0) return;
    pid = fork();
    if (pid == 0) {
      dup2(fds[1], 2);
      close(fds[0]);
      std::vector<char*> argv;
      std::string bin = LLMPRUNE_BINARY;
      argv.push_back(bin.data());
      std::vector<std::string> copy = args;
      for (auto& a : copy) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(bin.c_str(), argv.data());
      _exit(127);
    }
    close(fds[1]);
    err_fd = fds[0];
    char buf[512];
    while (port == 0) {
      ssize_t n = read(err_fd, buf, sizeof buf);
      if (n <= 0) break;
      err.append(buf, static_cast<size_t>(n));
      size_t at = err.find("listening on http://");
      if (at != std::string::npos) {
        size_t colon = err.find(':', at + 20), eol = err.find('\n', at);
        if (colon != std::string::npos && eol != std::string::npos)
          port = std::stoi(err.substr(colon + 1, eol - colon - 1));
      }
    }
  }
  // Exit status after waiting (reads the rest of stderr); -1 when it did not exit normally.
  int wait_exit() {
    char buf[512];
    ssize_t n;
    while ((n = read(err_fd, buf, sizeof buf)) > 0) err.append(buf, static_cast<size_t>(n));
    int status = 0;
    waitpid(pid, &status, 0);
    pid = -1;
    close(err_fd);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  ~ChildServer() {
    if (pid > 0) {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
    }
  }
};

}  // namespace llmprune::test
