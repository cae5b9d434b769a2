// Human-facing logging on stderr and progress bars (rate + ETA) for long work.
// Machine-readable output goes to stdout or --report files, never through here.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "util/error.h"

namespace llmprune {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3, kQuiet = 4 };

void set_log_level(LogLevel level);
LogLevel log_level();
void log_line(LogLevel level, const std::string& line);

template <typename... Args>
void log_info(const Args&... args) {
  if (log_level() <= LogLevel::kInfo) log_line(LogLevel::kInfo, detail::concat(args...));
}
template <typename... Args>
void log_warn(const Args&... args) {
  if (log_level() <= LogLevel::kWarn) log_line(LogLevel::kWarn, detail::concat(args...));
}
template <typename... Args>
void log_debug(const Args&... args) {
  if (log_level() <= LogLevel::kDebug) log_line(LogLevel::kDebug, detail::concat(args...));
}

// A progress bar on stderr: "label [#####.....] 12/40 windows  153 tok/s  ETA 0:42".
// Redraws in place on a terminal, prints a line every ~10 % otherwise; silent when the log
// level is above info. `unit` names what the rate counts (e.g. "tok").
class Progress {
 public:
  Progress(std::string label, int64_t total, std::string unit = "it");
  ~Progress();
  // Advance by `steps` of the total and `units` of rate-counted work (tokens, bytes...).
  void advance(int64_t steps = 1, int64_t units = 0);
  void finish();

 private:
  void draw(bool final);
  std::string label_, unit_;
  int64_t total_, done_ = 0, units_ = 0;
  int last_decile_ = -1;
  bool finished_ = false, tty_;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

}  // namespace llmprune
