// Staged generation (see staged_generate.h).
#include "serve/staged_generate.h"

#include <algorithm>
#include <deque>
#include <memory>

#include "model/kv_cache.h"
#include "serve/speculative.h"
#include "util/error.h"
#include "util/timer.h"

namespace llmprune {

double StagedResult::decode_tokens_per_second() const {
  return tokens.size() > 1 && decode_seconds > 0 ? (tokens.size() - 1) / decode_seconds : 0.0;
}

namespace {

torch::Tensor ids_tensor(const std::vector<int64_t>& v) {
  return torch::tensor(v, torch::kLong).view({1, static_cast<int64_t>(v.size())});
}

torch::Tensor last_row(const torch::Tensor& logits) { return logits[0][logits.size(1) - 1]; }

// Cache capacity for a request (as generate(): prompt + max_new_tokens, within the context).
int64_t capacity_for(const ModelSpec& spec, int64_t n_prompt, int64_t max_new) {
  int64_t cap = n_prompt + max_new;
  if (spec.max_position_embeddings > 0) {
    LLMPRUNE_CHECK(n_prompt < spec.max_position_embeddings, "the prompt has ", n_prompt,
                   " tokens; the model's context (max_position_embeddings) is ",
                   spec.max_position_embeddings);
    cap = std::min(cap, spec.max_position_embeddings);
  }
  return std::max<int64_t>(cap, n_prompt);
}

}  // namespace

double prompt_entropy(StagedModel& model, const std::vector<int64_t>& prompt) {
  LLMPRUNE_CHECK(!prompt.empty(), "the prompt encodes to no tokens");
  torch::InferenceMode guard;
  CausalLM& a = model.stage(0);
  KVCache cache(a.spec(), 1, capacity_for(a.spec(), static_cast<int64_t>(prompt.size()), 0),
                a.device(), a.dtype());
  return entropy_nats(last_row(a.forward(ids_tensor(prompt), &cache)));
}

StagedResult staged_generate(StagedModel& model, const std::vector<int64_t>& prompt,
                             const GenerateOptions& opts, const RoutePolicy& policy,
                             const TokenSink& on_token, const RouteSink& on_route) {
  LLMPRUNE_CHECK(!prompt.empty(),
                 "the prompt encodes to no tokens (give a non-empty prompt, "
                 "or a tokenizer that adds BOS)");
  LLMPRUNE_CHECK(opts.max_new_tokens >= 0, "max_new_tokens must be >= 0, got ",
                 opts.max_new_tokens);
  LLMPRUNE_CHECK(policy.speculative >= 0, "--speculative must be >= 0, got ", policy.speculative);
  torch::InferenceMode guard;
  const int64_t n_prompt = static_cast<int64_t>(prompt.size());
  CausalLM& a = model.stage(0);
  const int64_t cap = capacity_for(a.spec(), n_prompt, opts.max_new_tokens);
  StagedResult r;
  r.stop_reason = "max_new_tokens";
  Timer timer;

  // Route: prefill on A, entropy of the next-token distribution after the prompt.
  auto a_cache = std::make_unique<KVCache>(a.spec(), 1, cap, a.device(), a.dtype());
  torch::Tensor row = last_row(a.forward(ids_tensor(prompt), a_cache.get()));
  r.entropy = entropy_nats(row);
  r.stage = stage_for_entropy(r.entropy, policy, model.n_stages());
  r.final_stage = r.stage;
  if (on_route) on_route(r.stage, r.entropy);
  if (opts.max_new_tokens == 0) {
    r.prefill_seconds = timer.seconds();
    return r;
  }
  const auto& eos = a.spec().eos_token_ids;
  // Record a chosen token; "" to go on, else the stop reason.
  auto emit = [&](int64_t t) -> std::string {
    if (opts.stop_at_eos && std::find(eos.begin(), eos.end(), t) != eos.end()) return "eos";
    if (r.tokens.empty()) {
      r.prefill_seconds = timer.seconds();
      timer.reset();
    }
    r.tokens.push_back(t);
    if (on_token && !on_token(t)) return "cancelled";
    if (static_cast<int64_t>(r.tokens.size()) >= opts.max_new_tokens) return "max_new_tokens";
    return "";
  };

  Sampler sampler(opts.sampling);
  if (r.stage > 0 && policy.speculative > 0) {
    CausalLM& t = model.stage(r.stage);
    KVCache t_cache(t.spec(), 1, cap, t.device(), t.dtype());
    torch::Tensor t_row = last_row(t.forward(ids_tensor(prompt), &t_cache));
    SpeculativeState st;
    st.seq = prompt;
    st.n_prompt = n_prompt;
    r.stop_reason =
        speculative_decode(a, *a_cache, t, t_cache, t_row, policy.speculative, st, emit, &sampler);
    r.drafted = st.drafted;
    r.accepted = st.accepted;
    if (r.tokens.empty()) {
      r.prefill_seconds = timer.seconds();
      timer.reset();
    }
    r.decode_seconds = timer.seconds();
    return r;
  }

  int cur = r.stage;
  std::unique_ptr<KVCache> cache;
  if (cur == 0) {
    cache = std::move(a_cache);
  } else {
    a_cache.reset();
    CausalLM& s = model.stage(cur);
    cache = std::make_unique<KVCache>(s.spec(), 1, cap, s.device(), s.dtype());
    row = last_row(s.forward(ids_tensor(prompt), cache.get()));
  }
  std::deque<double> window;
  double window_sum = 0;
  while (true) {
    const int64_t next = sampler.sample(row);
    if (policy.escalate) {
      const double h = entropy_nats(row);
      window.push_back(h);
      window_sum += h;
      if (static_cast<int64_t>(window.size()) > policy.escalate_window) {
        window_sum -= window.front();
        window.pop_front();
      }
    }
    std::string stop = emit(next);
    if (!stop.empty()) {
      r.stop_reason = stop;
      break;
    }
    std::vector<int64_t> feed = {next};
    if (policy.escalate && cur + 1 < model.n_stages() &&
        static_cast<int64_t>(window.size()) == policy.escalate_window &&
        window_sum / static_cast<double>(window.size()) >= policy.high) {
      // Continue on the next deeper stage: its cache from one prefill of prompt + tokens.
      r.escalations.push_back({static_cast<int64_t>(r.tokens.size()), cur, cur + 1,
                               window_sum / static_cast<double>(window.size())});
      ++cur;
      CausalLM& s = model.stage(cur);
      cache = std::make_unique<KVCache>(s.spec(), 1, cap, s.device(), s.dtype());
      feed = prompt;
      feed.insert(feed.end(), r.tokens.begin(), r.tokens.end());
      window.clear();
      window_sum = 0;
    }
    if (cache->length() + static_cast<int64_t>(feed.size()) > cap) {
      r.stop_reason = "context_full";
      break;
    }
    row = last_row(model.stage(cur).forward(ids_tensor(feed), cache.get()));
  }
  r.final_stage = cur;
  r.decode_seconds = timer.seconds();
  return r;
}

}  // namespace llmprune
