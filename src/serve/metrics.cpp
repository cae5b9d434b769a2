// Metrics and slots (see metrics.h).
#include "serve/metrics.h"

#include <sstream>

namespace llmprune {

bool SlotPool::acquire() {
  std::unique_lock<std::mutex> lock(mu_);
  const bool at_once = free_ > 0 && waiting_ == 0;
  if (!at_once && queue_limit_ >= 0 && waiting_ >= queue_limit_) return false;
  const uint64_t ticket = next_ticket_++;
  ++waiting_;
  cv_.wait(lock, [&] { return free_ > 0 && serving_ == ticket; });
  --waiting_;
  --free_;
  ++serving_;
  cv_.notify_all();
  return true;
}

void SlotPool::release() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++free_;
  }
  cv_.notify_all();
}

int SlotPool::busy() const {
  std::lock_guard<std::mutex> lock(mu_);
  return total_ - free_;
}

int SlotPool::waiting() const {
  std::lock_guard<std::mutex> lock(mu_);
  return waiting_;
}

Metrics::Metrics(std::vector<std::string> stages)
    : stages_(std::move(stages)), bounds_{0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                          1,    2.5,   5,    10,  30,   60} {
  for (const auto& s : stages_) per_stage_[s].latency_buckets.assign(bounds_.size(), 0);
}

void Metrics::record(const std::string& stage, int64_t prompt_tokens, int64_t completion_tokens,
                     double latency, double entropy, int64_t drafted, int64_t accepted,
                     const std::string& stop_reason) {
  std::lock_guard<std::mutex> lock(mu_);
  PerStage& p = per_stage_[stage];
  if (p.latency_buckets.empty()) p.latency_buckets.assign(bounds_.size(), 0);
  ++p.requests;
  p.prompt_tokens += prompt_tokens;
  p.completion_tokens += completion_tokens;
  p.latency_sum += latency;
  for (size_t i = 0; i < bounds_.size(); ++i)
    if (latency <= bounds_[i]) ++p.latency_buckets[i];
  drafted_ += drafted;
  accepted_ += accepted;
  ++stops_[stop_reason];
  (void)entropy;
}

void Metrics::http_error(int status) {
  std::lock_guard<std::mutex> lock(mu_);
  ++errors_[status];
}

void Metrics::rejected() {
  std::lock_guard<std::mutex> lock(mu_);
  ++rejected_;
}

std::string Metrics::prometheus(const SlotPool& slots) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::ostringstream o;
  o << "# HELP llmprune_requests_total Completed generations by the stage that answered.\n"
       "# TYPE llmprune_requests_total counter\n";
  for (const auto& [s, p] : per_stage_)
    o << "llmprune_requests_total{stage=\"" << s << "\"} " << p.requests << "\n";
  o << "# HELP llmprune_prompt_tokens_total Prompt tokens by stage.\n"
       "# TYPE llmprune_prompt_tokens_total counter\n";
  for (const auto& [s, p] : per_stage_)
    o << "llmprune_prompt_tokens_total{stage=\"" << s << "\"} " << p.prompt_tokens << "\n";
  o << "# HELP llmprune_completion_tokens_total Generated tokens by stage.\n"
       "# TYPE llmprune_completion_tokens_total counter\n";
  for (const auto& [s, p] : per_stage_)
    o << "llmprune_completion_tokens_total{stage=\"" << s << "\"} " << p.completion_tokens << "\n";
  o << "# HELP llmprune_request_latency_seconds Time from a request's arrival to its last token.\n"
       "# TYPE llmprune_request_latency_seconds histogram\n";
  for (const auto& [s, p] : per_stage_) {
    for (size_t i = 0; i < bounds_.size(); ++i)
      o << "llmprune_request_latency_seconds_bucket{stage=\"" << s << "\",le=\"" << bounds_[i]
        << "\"} " << p.latency_buckets[i] << "\n";
    o << "llmprune_request_latency_seconds_bucket{stage=\"" << s << "\",le=\"+Inf\"} " << p.requests
      << "\n";
    o << "llmprune_request_latency_seconds_sum{stage=\"" << s << "\"} " << p.latency_sum << "\n";
    o << "llmprune_request_latency_seconds_count{stage=\"" << s << "\"} " << p.requests << "\n";
  }
  o << "# HELP llmprune_speculative_drafted_tokens_total Tokens drafted by stage A.\n"
       "# TYPE llmprune_speculative_drafted_tokens_total counter\n"
    << "llmprune_speculative_drafted_tokens_total " << drafted_ << "\n"
    << "# HELP llmprune_speculative_accepted_tokens_total Drafted tokens the deep stage kept.\n"
       "# TYPE llmprune_speculative_accepted_tokens_total counter\n"
    << "llmprune_speculative_accepted_tokens_total " << accepted_ << "\n"
    << "# HELP llmprune_speculative_acceptance_rate accepted / drafted (0 before any draft).\n"
       "# TYPE llmprune_speculative_acceptance_rate gauge\n"
    << "llmprune_speculative_acceptance_rate "
    << (drafted_ > 0 ? static_cast<double>(accepted_) / drafted_ : 0.0) << "\n";
  o << "# HELP llmprune_stops_total Generations by stop reason.\n"
       "# TYPE llmprune_stops_total counter\n";
  for (const auto& [r, n] : stops_)
    o << "llmprune_stops_total{reason=\"" << r << "\"} " << n << "\n";
  o << "# HELP llmprune_http_errors_total Error responses by status.\n"
       "# TYPE llmprune_http_errors_total counter\n";
  for (const auto& [st, n] : errors_)
    o << "llmprune_http_errors_total{status=\"" << st << "\"} " << n << "\n";
  o << "# HELP llmprune_requests_rejected_total Requests answered 503: the queue was full.\n"
       "# TYPE llmprune_requests_rejected_total counter\n"
    << "llmprune_requests_rejected_total " << rejected_ << "\n";
  o << "# HELP llmprune_slots_busy Sequences being generated.\n# TYPE llmprune_slots_busy gauge\n"
    << "llmprune_slots_busy " << slots.busy() << "\n"
    << "# HELP llmprune_slots_total --parallel.\n# TYPE llmprune_slots_total gauge\n"
    << "llmprune_slots_total " << slots.total() << "\n"
    << "# HELP llmprune_queue_waiting Requests waiting for a slot.\n"
       "# TYPE llmprune_queue_waiting gauge\n"
    << "llmprune_queue_waiting " << slots.waiting() << "\n"
    << "# HELP llmprune_queue_limit --queue-limit (-1: none).\n"
       "# TYPE llmprune_queue_limit gauge\n"
    << "llmprune_queue_limit " << slots.queue_limit() << "\n";
  return o.str();
}

json Metrics::summary() const {
  std::lock_guard<std::mutex> lock(mu_);
  json j = json::object();
  for (const auto& [s, p] : per_stage_)
    j[s] = {{"requests", p.requests}, {"completion_tokens", p.completion_tokens}};
  return j;
}

}  // namespace llmprune
