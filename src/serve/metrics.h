// Server metrics (Prometheus text format) and the sequence slots (--parallel N): requests
// wait in a FIFO queue for a free slot; a slot is released when its request ends, whether it
// finished, failed or lost its client.
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
  explicit SlotPool(int n) : free_(n), total_(n) {}
  // Blocks until a slot is free (first come, first served).
  void acquire();
  void release();
  int busy() const;
  int waiting() const;
  int total() const { return total_; }

  class Guard {
   public:
    explicit Guard(SlotPool& p) : p_(p) { p_.acquire(); }
    ~Guard() { p_.release(); }
    Guard(const Guard&) = delete;
    Guard& operator=(const Guard&) = delete;

   private:
    SlotPool& p_;
  };

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  int free_, total_, waiting_ = 0;
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
  int64_t drafted_ = 0, accepted_ = 0;
};

}  // namespace llmprune
