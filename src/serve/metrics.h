// Server metrics (Prometheus text format) and the sequence slots (--parallel N): requests
// wait in a FIFO queue (at most --queue-limit of them) for a free slot; a slot is released
// when its request ends, whether it finished, failed or lost its client.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "util/json.h"

namespace llmprune {

class SlotPool {
 public:
  // n slots; at most `queue_limit` requests wait for one (< 0: no limit, 0: none may wait).
  explicit SlotPool(int n, int queue_limit = -1) : free_(n), total_(n), queue_limit_(queue_limit) {}
  // Takes a slot, waiting for one first come, first served; returns false at once (nothing
  // taken) when it would have to wait and queue_limit requests are already waiting.
  bool acquire();
  void release();
  int busy() const;
  int waiting() const;
  int total() const { return total_; }
  int queue_limit() const { return queue_limit_; }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  int free_, total_, queue_limit_, waiting_ = 0;
  uint64_t next_ticket_ = 0, serving_ = 0;
};

class Metrics {
 public:
  explicit Metrics(std::vector<std::string> stages);
  // One finished generation on `stage` (the stage that was chosen).
  void record(const std::string& stage, int64_t prompt_tokens, int64_t completion_tokens,
              double latency_seconds, double entropy, int64_t drafted, int64_t accepted,
              const std::string& stop_reason);
  void http_error(int status);
  // A request turned away because the queue was full (also counted as an HTTP 503).
  void rejected();
  std::string prometheus(const SlotPool& slots) const;
  json summary() const;

 private:
  struct PerStage {
    int64_t requests = 0, prompt_tokens = 0, completion_tokens = 0;
    std::vector<int64_t> latency_buckets;  // cumulative counts per bucket bound
    double latency_sum = 0;
  };
  mutable std::mutex mu_;
  std::vector<std::string> stages_;
  std::vector<double> bounds_;
  std::map<std::string, PerStage> per_stage_;
  std::map<std::string, int64_t> stops_;
  std::map<int, int64_t> errors_;
  int64_t drafted_ = 0, accepted_ = 0, rejected_ = 0;
};

}  // namespace llmprune
