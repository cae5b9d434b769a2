// SentencePiece tokenizer through the dlopen'ed shim (see spm_tokenizer.h). Encoding
// splits on special/added tokens first (as transformers' slow LlamaTokenizer does), runs
// sentencepiece on each text part, then adds BOS/EOS per add_bos_token / add_eos_token
// (defaults true / false, LlamaTokenizer's).
#include "tokenizer/spm_tokenizer.h"

#include <dlfcn.h>
#include <unistd.h>

#include <algorithm>

#include <cstdlib>
#include <mutex>
#include <sstream>

#include "tokenizer/spm_shim/spm_shim_api.h"
#include "tokenizer/unicode.h"
#include "util/error.h"

namespace llmprune::tok {

struct SpmShim {
  std::string path;
  llmprune_spm_load_fn load;
  llmprune_spm_free_fn free_model;
  llmprune_spm_free_buffer_fn free_buffer;
  llmprune_spm_encode_fn encode;
  llmprune_spm_decode_fn decode;
  llmprune_spm_piece_size_fn piece_size;
  llmprune_spm_piece_to_id_fn piece_to_id;
  llmprune_spm_id_to_piece_fn id_to_piece;
  llmprune_spm_piece_kind_fn piece_kind;
  llmprune_spm_special_id_fn special_id;
};

namespace {
constexpr const char* kShimName = "libllmprune_spm.so";

std::vector<std::string> shim_candidates() {
  std::vector<std::string> c;
  if (const char* env = std::getenv("LLMPRUNE_SPM_SHIM"); env && *env) c.push_back(env);
  char exe[4096];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n > 0) {
    std::string dir(exe, n);
    dir = dir.substr(0, dir.rfind('/'));
    c.push_back(dir + "/" + kShimName);
  }
#ifdef LLMPRUNE_SPM_SHIM_PATH
  c.push_back(LLMPRUNE_SPM_SHIM_PATH);
#endif
  return c;
}

template <typename Fn>
Fn sym(void* lib, const char* name, const std::string& path) {
  void* f = dlsym(lib, name);
  if (!f) throw bad_input("[tokenizer] SentencePiece shim ", path, " lacks symbol ", name);
  return reinterpret_cast<Fn>(f);
}

const SpmShim& load_shim() {
  static std::mutex mu;
  static std::unique_ptr<SpmShim> shim;
  std::lock_guard<std::mutex> lock(mu);
  if (shim) return *shim;
#if defined(__SANITIZE_ADDRESS__)
#define LLMPRUNE_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define LLMPRUNE_ASAN 1
#endif
#endif
#ifdef LLMPRUNE_ASAN
  // AddressSanitizer aborts the process on dlopen(RTLD_DEEPBIND); sanitizer builds (CI's
  // parser tests, fuzzing) leave tokenizer.model out instead.
  throw internal_error("[tokenizer] tokenizer.model support is not available in "
                       "AddressSanitizer builds (RTLD_DEEPBIND)");
#endif
  std::string tried;
  for (const auto& path : shim_candidates()) {
    if (access(path.c_str(), R_OK) != 0) {
      tried += (tried.empty() ? "" : ", ") + path + " (missing)";
      continue;
    }
    // DEEPBIND: the shim and libsentencepiece resolve their own (bundled) protobuf symbols
    // before the process's, so LibTorch's libprotobuf is never bound to them.
    void* lib = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND);
    if (!lib) {
      tried += (tried.empty() ? "" : ", ") + path + " (" + dlerror() + ")";
      continue;
    }
    auto version = sym<llmprune_spm_abi_version_fn>(lib, "llmprune_spm_abi_version", path);
    if (version() != LLMPRUNE_SPM_ABI_VERSION)
      throw bad_input("[tokenizer] SentencePiece shim ", path, " has ABI version ", version(),
                      ", expected ", LLMPRUNE_SPM_ABI_VERSION, " (rebuild llmprune)");
    auto s = std::make_unique<SpmShim>();
    s->path = path;
    s->load = sym<llmprune_spm_load_fn>(lib, "llmprune_spm_load", path);
    s->free_model = sym<llmprune_spm_free_fn>(lib, "llmprune_spm_free", path);
    s->free_buffer = sym<llmprune_spm_free_buffer_fn>(lib, "llmprune_spm_free_buffer", path);
    s->encode = sym<llmprune_spm_encode_fn>(lib, "llmprune_spm_encode", path);
    s->decode = sym<llmprune_spm_decode_fn>(lib, "llmprune_spm_decode", path);
    s->piece_size = sym<llmprune_spm_piece_size_fn>(lib, "llmprune_spm_piece_size", path);
    s->piece_to_id = sym<llmprune_spm_piece_to_id_fn>(lib, "llmprune_spm_piece_to_id", path);
    s->id_to_piece = sym<llmprune_spm_id_to_piece_fn>(lib, "llmprune_spm_id_to_piece", path);
    s->piece_kind = sym<llmprune_spm_piece_kind_fn>(lib, "llmprune_spm_piece_kind", path);
    s->special_id = sym<llmprune_spm_special_id_fn>(lib, "llmprune_spm_special_id", path);
    shim = std::move(s);
    return *shim;
  }
  throw bad_input("[tokenizer] cannot load the SentencePiece shim ", kShimName,
                  " needed for tokenizer.model (tried: ", tried,
                  "); build the llmprune_spm target or set LLMPRUNE_SPM_SHIM=/path/to/", kShimName);
}
}  // namespace

std::string spm_shim_path() {
  auto c = shim_candidates();
  for (const auto& p : c)
    if (access(p.c_str(), R_OK) == 0) return p;
  return c.empty() ? "" : c.back();
}

SpmTokenizer::SpmTokenizer(const std::string& model_path, const TokenizerConfig& cfg)
    : shim_(&load_shim()), path_(model_path) {
  char err[512] = {0};
  handle_ = shim_->load(model_path.c_str(), err, sizeof err);
  if (!handle_)
    throw bad_input("[tokenizer] ", model_path, " is not a SentencePiece model (", err,
                    "); Llama-3's tokenizer.model is a tiktoken file: use its tokenizer.json");
  n_pieces_ = shim_->piece_size(handle_);
  // Control and unknown pieces (<s>, </s>, <unk>) are special tokens, matched in the text.
  for (int32_t id = 0; id < n_pieces_; ++id) {
    int kind = shim_->piece_kind(handle_, id);
    if (kind == 1 || kind == 2) {
      AddedToken t;
      t.content = id_to_token(id);
      t.id = id;
      t.special = true;
      added_.add(t);
    }
  }
  for (const auto& a : cfg.added_tokens_decoder) added_.add(a);
  added_.build(nullptr);
  TokenId max_id = n_pieces_ - 1;
  for (const auto& a : added_.tokens()) max_id = std::max(max_id, a.id);
  vocab_size_ = static_cast<int64_t>(max_id) + 1;

  auto from_cfg = [&](const std::optional<std::string>& s, int which) -> std::optional<TokenId> {
    if (s) return token_to_id(*s);
    int32_t id = shim_->special_id(handle_, which);
    if (id < 0) return std::nullopt;
    return id;
  };
  bos_ = from_cfg(cfg.bos, 0);
  eos_ = from_cfg(cfg.eos, 1);
  add_bos_ = cfg.add_bos.value_or(true) && bos_.has_value();
  add_eos_ = cfg.add_eos.value_or(false) && eos_.has_value();
  std::ostringstream d;
  d << "tokenizer.model SentencePiece (via " << shim_->path << "), " << vocab_size_
    << " tokens, bos=" << (bos_ ? std::to_string(*bos_) : "<none>")
    << ", eos=" << (eos_ ? std::to_string(*eos_) : "<none>") << ", add_bos=" << add_bos_
    << ", add_eos=" << add_eos_;
  description_ = d.str();
}

SpmTokenizer::~SpmTokenizer() {
  if (handle_) shim_->free_model(handle_);
}

std::vector<TokenId> SpmTokenizer::sp_encode(const std::string& text) const {
  int32_t* ids = nullptr;
  size_t n = 0;
  char err[512] = {0};
  if (shim_->encode(handle_, text.data(), text.size(), &ids, &n, err, sizeof err) != 0)
    throw bad_input("[tokenizer] sentencepiece encode failed for ", path_, ": ", err);
  std::vector<TokenId> out(ids, ids + n);
  shim_->free_buffer(ids);
  return out;
}

std::string SpmTokenizer::sp_decode(const std::vector<TokenId>& ids) const {
  char* text = nullptr;
  size_t len = 0;
  char err[512] = {0};
  if (shim_->decode(handle_, ids.data(), ids.size(), &text, &len, err, sizeof err) != 0)
    throw bad_input("[tokenizer] sentencepiece decode failed for ", path_, ": ", err);
  std::string out(text, len);
  shim_->free_buffer(text);
  return out;
}

std::vector<TokenId> SpmTokenizer::encode(const std::string& text, bool add_special_tokens) const {
  size_t bad = find_invalid_utf8(text);
  if (bad != std::string::npos)
    throw bad_input("[tokenizer] input text is not valid UTF-8: byte 0x", std::hex,
                    static_cast<int>(static_cast<unsigned char>(text[bad])), std::dec,
                    " at offset ", bad);
  std::vector<TokenId> ids;
  if (add_special_tokens && add_bos_) ids.push_back(*bos_);
  for (const Segment& seg : added_.split(text, false)) {
    if (seg.id) {
      ids.push_back(*seg.id);
      continue;
    }
    auto part = sp_encode(text.substr(seg.start, seg.end - seg.start));
    ids.insert(ids.end(), part.begin(), part.end());
  }
  if (add_special_tokens && add_eos_) ids.push_back(*eos_);
  return ids;
}

std::string SpmTokenizer::decode(const std::vector<TokenId>& ids, bool skip_special_tokens) const {
  std::string out;
  std::vector<TokenId> run;
  auto flush = [&] {
    if (!run.empty()) out += sp_decode(run);
    run.clear();
  };
  for (TokenId id : ids) {
    if (id < 0 || id >= vocab_size_)
      throw bad_input("[tokenizer] cannot decode token id ", id, ": not in the vocabulary of ",
                      path_, " (", vocab_size_, " tokens)");
    const AddedToken* a = added_.by_id(id);
    if (a || id >= n_pieces_) {
      if (skip_special_tokens && (!a || a->special)) continue;
      flush();
      if (a) out += a->content;
      continue;
    }
    run.push_back(id);
  }
  flush();
  return out;
}

std::optional<TokenId> SpmTokenizer::token_to_id(const std::string& token) const {
  if (const AddedToken* a = added_.by_content(token)) return a->id;
  int32_t id = shim_->piece_to_id(handle_, token.data(), token.size());
  // sentencepiece maps unknown pieces to unk_id; only report a real match.
  if (id < 0 || id >= n_pieces_) return std::nullopt;
  size_t len = 0;
  char* p = shim_->id_to_piece(handle_, id, &len);
  bool same = p && std::string(p, len) == token;
  shim_->free_buffer(p);
  if (!same) return std::nullopt;
  return id;
}

std::string SpmTokenizer::id_to_token(TokenId id) const {
  if (const AddedToken* a = added_.by_id(id)) return a->content;
  if (id < 0 || id >= n_pieces_)
    throw bad_input("[tokenizer] token id ", id, " is out of range for ", path_, " (",
                    vocab_size_, " tokens)");
  size_t len = 0;
  char* p = shim_->id_to_piece(handle_, id, &len);
  std::string out(p, len);
  shim_->free_buffer(p);
  return out;
}

bool SpmTokenizer::is_special(TokenId id) const {
  const AddedToken* a = added_.by_id(id);
  return a && a->special;
}

}  // namespace llmprune::tok
