// The healing loop (see trainer.h).
#include "train/trainer.h"

#include <ATen/CPUGeneratorImpl.h>

#include "calib/gradients.h"
#include "io/safetensors.h"
#include "train/peft_io.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/timer.h"

namespace llmprune {
namespace {

uint64_t mix(uint64_t a, uint64_t b) {
  uint64_t x = a ^ (b + 0x9e3779b97f4a7c15ULL + (a << 6) + (a >> 2));
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

constexpr int64_t kLossChunk = 256;

}  // namespace

json StepRecord::to_json() const {
  json j = {{"step", step},
            {"loss", loss},
            {"lr", lr},
            {"grad_norm", grad_norm},
            {"tokens_per_second", tokens_per_second}};
  j["val_loss"] = std::isfinite(val_loss) ? json(val_loss) : json(nullptr);
  return j;
}

Trainer::Trainer(LayerSource& src, TrainData train, TrainData val, TrainOptions opts)
    : src_(src), train_(std::move(train)), val_(std::move(val)), o_(std::move(opts)) {
  LLMPRUNE_CHECK(train_.size() > 0, "[train] no training examples");
  LLMPRUNE_CHECK(o_.batch_size >= 1 && o_.grad_accum >= 1,
                 "[train] --batch-size and "
                 "--grad-accum must be at least 1");
  LLMPRUNE_CHECK(o_.lr > 0, "[train] --lr must be positive, got ", o_.lr);
  scheduled_lr(o_.scheduler, 1, 0, 0, 1);  // validates the name
  const int64_t per_step = o_.batch_size * o_.grad_accum;
  total_steps_ =
      o_.max_steps > 0
          ? o_.max_steps
          : std::max<int64_t>(1, o_.epochs * std::max<int64_t>(1, train_.size() / per_step));
  const auto pdt = src_.dtype() == torch::kFloat64 ? torch::kFloat64 : torch::kFloat32;
  std::vector<std::pair<std::string, torch::Tensor>> params;
  if (o_.method == "lora") {
    lora_ = LoraSet::create(src_.family(), src_.spec(), o_.lora, o_.seed, pdt);
    params = lora_->peft_tensors();
  } else {
    LLMPRUNE_CHECK(o_.method == "full", "[train] unknown --method '", o_.method, "' (lora, full)");
    LLMPRUNE_ASSERT(src_.resident(), "full fine-tuning needs a resident LayerSource");
    LLMPRUNE_CHECK(src_.dtype() == torch::kFloat32 || src_.dtype() == torch::kFloat64,
                   "[train] --method full needs --dtype f32 (the weights are updated)");
    const TensorNaming& n = src_.family().naming();
    for (int64_t l = 0; l < src_.spec().n_layers(); ++l)
      for (const auto& item : src_.layer(l).named_parameters(true))
        params.emplace_back(n.layer_prefix(l) + item.key(), item.value());
    if (src_.spec().positions == PositionKind::kRope && src_.spec().embed_dim == 0) {
      torch::NoGradGuard ng;
      src_.lm_head(src_.final_norm(src_.embed(train_.ids.narrow(0, 0, 1).narrow(1, 0, 1))));
      const std::string embed = n.model + "." + n.embed + "." + n.weight;
      for (auto& [name, p] : src_.head_parameters())
        if (name != embed) params.emplace_back(name, p);  // the embedding stays frozen
    }
  }
  for (size_t i = 0; i < params.size(); ++i) index_[params[i].first] = i;
  AdamWOptions ao;
  ao.weight_decay = o_.weight_decay;
  opt_ = std::make_unique<AdamW>(std::move(params), ao);
}

torch::Tensor Trainer::batch_rows(int64_t step) const {
  const int64_t per_step = o_.batch_size * o_.grad_accum, N = train_.size();
  std::vector<int64_t> rows;
  int64_t cached_epoch = -1;
  torch::Tensor perm;
  for (int64_t s = step * per_step; s < (step + 1) * per_step; ++s) {
    const int64_t epoch = s / N;
    if (epoch != cached_epoch) {
      auto gen = at::detail::createCPUGenerator(mix(o_.seed, 0x5eed0000ULL + epoch));
      perm = torch::randperm(N, gen, torch::TensorOptions().dtype(torch::kLong));
      cached_epoch = epoch;
    }
    rows.push_back(perm[s % N].item<int64_t>());
  }
  return torch::tensor(rows, torch::kLong);
}

double Trainer::eval_loss(const TrainData& data) {
  if (data.size() == 0) return NAN;
  torch::NoGradGuard ng;
  if (lora_) lora_->dropout().on = false;
  const ModelSpec& spec = src_.spec();
  const int64_t T = data.ids.size(1);
  // Layer by layer over every batch, so a streaming source loads each layer once.
  std::vector<torch::Tensor> xs;
  for (int64_t b = 0; b < data.size(); b += o_.batch_size)
    xs.push_back(src_.embed(data.ids.narrow(0, b, std::min(o_.batch_size, data.size() - b))));
  src_.release_edges();
  for (int64_t l = 0; l < spec.n_layers(); ++l) {
    const DecoderLayerImpl& layer = src_.layer(l);
    if (lora_)
      lora_->attach(const_cast<DecoderLayerImpl&>(layer), src_.family().naming().layer_prefix(l));
    const auto& a = spec.layers[static_cast<size_t>(l)].attn;
    for (auto& x : xs)
      x = layer.forward(x, a ? &src_.rope(a->head_dim, T) : nullptr, nullptr, nullptr);
    src_.release_layer(l);
  }
  double nll = 0, count = 0;
  for (size_t i = 0; i < xs.size(); ++i) {
    const int64_t b = static_cast<int64_t>(i) * o_.batch_size, n = xs[i].size(0);
    torch::Tensor targets = data.ids.narrow(0, b, n).narrow(1, 1, T - 1).to(src_.device());
    torch::Tensor m =
        data.mask.narrow(0, b, n).narrow(1, 1, T - 1).to(src_.device(), torch::kFloat64);
    for (int64_t s = 0; s < T - 1; s += kLossChunk) {
      const int64_t c = std::min(kLossChunk, T - 1 - s);
      torch::Tensor logits = src_.lm_head(src_.final_norm(xs[i].narrow(1, s, c)));
      if (logits.scalar_type() != torch::kFloat64) logits = logits.to(torch::kFloat);
      torch::Tensor tok = -torch::log_softmax(logits, -1)
                               .gather(-1, targets.narrow(1, s, c).unsqueeze(-1))
                               .squeeze(-1)
                               .to(torch::kFloat64);
      nll += (tok * m.narrow(1, s, c)).sum().item<double>();
    }
    count += m.sum().item<double>();
  }
  src_.release_edges();
  return count > 0 ? nll / count : NAN;
}

json Trainer::fingerprint() const {
  const auto ids = train_.ids.to(torch::kFloat64);
  const auto w =
      torch::arange(ids.numel(), torch::kFloat64).reshape(ids.sizes()).remainder(977) + 1;
  return {{"method", o_.method},
          {"r", o_.lora.r},
          {"alpha", o_.lora.alpha},
          {"dropout", o_.lora.dropout},
          {"targets", lora_ ? lora_->target_names() : std::vector<std::string>{}},
          {"lr", o_.lr},
          {"weight_decay", o_.weight_decay},
          {"max_grad_norm", o_.max_grad_norm},
          {"warmup_steps", o_.warmup_steps},
          {"scheduler", o_.scheduler},
          {"total_steps", total_steps_},
          {"batch_size", o_.batch_size},
          {"grad_accum", o_.grad_accum},
          {"seed", o_.seed},
          {"train_windows", train_.size()},
          {"seq_len", train_.ids.size(1)},
          {"data_checksum", (ids * w).sum().item<double>()}};
}

void Trainer::save_checkpoint(int64_t step, const std::vector<StepRecord>& log) const {
  NamedTensors state;
  for (const auto& [name, p] : opt_->params())
    state.emplace_back("param/" + name, p.detach().contiguous());
  for (const auto& [name, t] : opt_->state()) state.emplace_back(name, t.contiguous());
  json j = {{"step", step}, {"fingerprint", fingerprint()}, {"log", json::array()}};
  for (const auto& r : log) j["log"].push_back(r.to_json());
  write_dir_atomic(o_.checkpoint_dir, /*overwrite=*/true, [&](const std::string& tmp) {
    write_file_atomic(join_path(tmp, "trainer_state.json"), j.dump(2) + "\n");
    SafetensorsWriteOptions wo;
    wo.prefix = "trainer_state";
    write_safetensors(tmp, state, wo);
  });
}

int64_t Trainer::load_checkpoint(std::vector<StepRecord>& log) {
  const std::string& dir = o_.resume;
  const std::string js = join_path(dir, "trainer_state.json");
  LLMPRUNE_CHECK(path_exists(js), "[resume] ", dir,
                 " is not a training checkpoint (no "
                 "trainer_state.json)");
  const json j = read_json_file(js);
  const int64_t step = json_int(j.at("step"), "[resume] " + js + ": step", 0, total_steps_);
  LLMPRUNE_CHECK(j.at("fingerprint") == fingerprint(), "[resume] ", js,
                 " was made with other options or data: ", json_excerpt(j.at("fingerprint")),
                 " vs ", json_excerpt(fingerprint()));
  TensorStore st = TensorStore::open(join_path(dir, "trainer_state.safetensors"));
  NamedTensors moments;
  torch::NoGradGuard ng;
  for (const auto& [name, p] : opt_->params()) {
    torch::Tensor t = st.load("param/" + name);
    LLMPRUNE_CHECK(t.sizes() == p.sizes(), "[resume] ", dir, ": param/", name, " has shape ",
                   t.sizes(), ", expected ", p.sizes());
    const_cast<torch::Tensor&>(p).copy_(t);
  }
  for (const auto& name : st.names())
    if (name.rfind("m/", 0) == 0 || name.rfind("v/", 0) == 0)
      moments.emplace_back(name, st.load(name));
  opt_->load_state(moments, step, dir);
  for (const auto& r : j.at("log")) {
    StepRecord s;
    s.step = r.at("step").get<int64_t>();
    s.loss = r.at("loss").get<double>();
    s.lr = r.at("lr").get<double>();
    s.grad_norm = r.at("grad_norm").get<double>();
    s.tokens_per_second = r.at("tokens_per_second").get<double>();
    if (!r.at("val_loss").is_null()) s.val_loss = r.at("val_loss").get<double>();
    log.push_back(s);
  }
  return step;
}

TrainResult Trainer::run(const std::function<void(const StepRecord&)>& on_step) {
  Timer total;
  TrainResult res;
  res.total_steps = total_steps_;
  int64_t start = 0;
  if (!o_.resume.empty())
    start = with_json_errors("[resume] " + o_.resume, [&] { return load_checkpoint(res.log); });
  res.val_before = eval_loss(val_);
  const TensorNaming& names = src_.family().naming();
  const bool edges = o_.method == "full" && src_.spec().positions == PositionKind::kRope &&
                     src_.spec().embed_dim == 0;
  std::unique_ptr<Progress> progress;
  if (o_.progress) progress = std::make_unique<Progress>("heal", total_steps_ - start, "tok");
  const auto& params = opt_->params();
  for (int64_t step = start; step < total_steps_; ++step) {
    if (o_.stop_after > 0 && step >= o_.stop_after) break;
    Timer st;
    torch::Tensor rows = batch_rows(step);
    GradientOptions go;
    go.batch_size = o_.batch_size;
    go.mask = train_.mask.index_select(0, rows);
    go.edges = edges;
    go.progress = false;
    if (lora_) {
      go.on_fetch = [&](int64_t l, const DecoderLayerImpl& layer) {
        lora_->attach(const_cast<DecoderLayerImpl&>(layer), names.layer_prefix(l));
      };
      go.trainable = [&](int64_t l, const DecoderLayerImpl&) { return lora_->layer_tensors(l); };
      go.before_forward = [&](int64_t, int64_t b) {
        lora_->dropout().seed = mix(mix(o_.seed, static_cast<uint64_t>(step)), b);
      };
      lora_->dropout().on = true;
    }
    std::vector<torch::Tensor> grads(params.size());
    const GradientResult gr =
        run_gradients(src_, train_.ids.index_select(0, rows), go, [&](const LayerGradients& lg) {
          for (size_t i = 0; i < lg.names.size(); ++i) {
            auto it = index_.find(lg.names[i]);
            if (it != index_.end()) grads[it->second] = lg.grad[i];
          }
        });
    if (lora_) lora_->dropout().on = false;
    for (size_t i = 0; i < grads.size(); ++i)
      if (!grads[i].defined()) grads[i] = torch::zeros_like(params[i].second);
    StepRecord rec;
    rec.step = step + 1;
    rec.loss = gr.mean_loss;
    rec.grad_norm = clip_grad_norm(grads, o_.max_grad_norm);
    rec.lr = scheduled_lr(o_.scheduler, o_.lr, step, o_.warmup_steps, total_steps_);
    opt_->step(grads, rec.lr);
    const int64_t tokens = rows.size(0) * train_.ids.size(1);
    res.tokens += tokens;
    rec.tokens_per_second = static_cast<double>(tokens) / std::max(st.seconds(), 1e-9);
    if (o_.eval_every > 0 && rec.step % o_.eval_every == 0) rec.val_loss = eval_loss(val_);
    res.log.push_back(rec);
    res.steps = rec.step;
    if (on_step) on_step(rec);
    if (progress) progress->advance(1, tokens);
    // The bar shows tokens/s and ETA; the loss goes in a line every tenth of the run.
    if (progress && (rec.step % std::max<int64_t>(1, total_steps_ / 10) == 0 ||
                     rec.step == total_steps_))
      log_info("heal step ", rec.step, "/", total_steps_, "  loss ", rec.loss, "  lr ", rec.lr,
               "  grad norm ", rec.grad_norm,
               std::isfinite(rec.val_loss) ? "  val loss " + std::to_string(rec.val_loss) : "");
    if (o_.save_every > 0 && rec.step % o_.save_every == 0 && !o_.checkpoint_dir.empty())
      save_checkpoint(rec.step, res.log);
  }
  if (progress) progress->finish();
  res.val_after = eval_loss(val_);
  res.seconds = total.seconds();
  return res;
}

std::vector<std::pair<std::string, torch::Tensor>> Trainer::model_tensors() {
  std::vector<std::pair<std::string, torch::Tensor>> out;
  for (const auto& name : src_.store().names()) {
    auto it = index_.find(name);
    const auto stored = src_.store().entry(name).dtype;
    torch::Tensor t =
        it != index_.end() ? opt_->params()[it->second].second.detach() : src_.store().load(name);
    out.emplace_back(name, t.to(torch::kCPU, to_torch(stored)).contiguous());
  }
  return out;
}

}  // namespace llmprune
