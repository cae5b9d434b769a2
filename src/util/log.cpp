// Logging and progress bars (see log.h).
#include "util/log.h"

#include <unistd.h>

#include <cstdio>
#include <mutex>

namespace llmprune {
namespace {
LogLevel g_level = LogLevel::kInfo;
std::mutex g_mutex;

std::string format_seconds(double s) {
  if (!(s >= 0) || s > 360000) return "?";
  int64_t t = static_cast<int64_t>(s + 0.5);
  char buf[32];
  if (t >= 3600)
    std::snprintf(buf, sizeof buf, "%lld:%02lld:%02lld", (long long)(t / 3600),
                  (long long)(t / 60 % 60), (long long)(t % 60));
  else
    std::snprintf(buf, sizeof buf, "%lld:%02lld", (long long)(t / 60), (long long)(t % 60));
  return buf;
}
}  // namespace

void set_log_level(LogLevel level) { g_level = level; }
LogLevel log_level() { return g_level; }

void log_line(LogLevel level, const std::string& line) {
  static const char* kPrefix[] = {"debug: ", "", "warning: ", "error: ", ""};
  std::lock_guard<std::mutex> lock(g_mutex);
  std::fprintf(stderr, "%s%s\n", kPrefix[static_cast<int>(level)], line.c_str());
}

Progress::Progress(std::string label, int64_t total, std::string unit)
    : label_(std::move(label)), unit_(std::move(unit)), total_(total),
      tty_(isatty(fileno(stderr)) != 0), start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {}

Progress::~Progress() {
  if (!finished_ && done_ > 0) draw(true);
}

void Progress::advance(int64_t steps, int64_t units) {
  done_ += steps;
  units_ += units;
  draw(false);
}

void Progress::finish() {
  if (finished_) return;
  draw(true);
  finished_ = true;
}

void Progress::draw(bool final) {
  if (log_level() > LogLevel::kInfo) return;
  auto now = std::chrono::steady_clock::now();
  double elapsed = std::chrono::duration<double>(now - start_).count();
  int decile = total_ > 0 ? static_cast<int>(10 * done_ / total_) : 0;
  if (!final) {
    if (!tty_ && done_ >= total_) return;  // finish() prints the closing line
    if (tty_ && std::chrono::duration<double>(now - last_draw_).count() < 0.1) return;
    if (!tty_ && decile == last_decile_) return;
  }
  last_draw_ = now;
  last_decile_ = decile;
  const int width = 24;
  int filled = total_ > 0 ? static_cast<int>(width * done_ / total_) : 0;
  std::string bar(filled, '#');
  bar.resize(width, '.');
  double rate_units = elapsed > 0 ? (units_ > 0 ? units_ : done_) / elapsed : 0;
  double eta = done_ > 0 ? elapsed * (total_ - done_) / done_ : -1;
  char buf[256];
  std::snprintf(buf, sizeof buf, "%s [%s] %lld/%lld  %.1f %s/s  %s %s", label_.c_str(),
                bar.c_str(), (long long)done_, (long long)total_, rate_units,
                units_ > 0 ? unit_.c_str() : "it", final ? "took" : "ETA",
                format_seconds(final ? elapsed : eta).c_str());
  std::lock_guard<std::mutex> lock(g_mutex);
  if (tty_)
    std::fprintf(stderr, "\r%s\033[K%s", buf, final ? "\n" : "");
  else
    std::fprintf(stderr, "%s\n", buf);
  std::fflush(stderr);
}

}  // namespace llmprune
