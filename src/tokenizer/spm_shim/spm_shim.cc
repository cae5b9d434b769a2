// libllmprune_spm: a tiny C shim over libsentencepiece, loaded with dlopen(RTLD_DEEPBIND)
// so sentencepiece's bundled protobuf-lite never meets LibTorch's libprotobuf in one
// symbol namespace (linking both into one executable crashes at start-up).
#include <sentencepiece_processor.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "tokenizer/spm_shim/spm_shim_api.h"

namespace {
void set_error(char* err, size_t errlen, const std::string& msg) {
  if (!err || errlen == 0) return;
  std::strncpy(err, msg.c_str(), errlen - 1);
  err[errlen - 1] = '\0';
}
sentencepiece::SentencePieceProcessor* sp(void* h) {
  return static_cast<sentencepiece::SentencePieceProcessor*>(h);
}
char* copy_out(const std::string& s, size_t* len) {
  char* buf = static_cast<char*>(std::malloc(s.size() + 1));
  if (!buf) return nullptr;
  std::memcpy(buf, s.data(), s.size());
  buf[s.size()] = '\0';
  *len = s.size();
  return buf;
}
}  // namespace

extern "C" {

LLMPRUNE_SPM_EXPORT int llmprune_spm_abi_version(void) { return LLMPRUNE_SPM_ABI_VERSION; }

LLMPRUNE_SPM_EXPORT void* llmprune_spm_load(const char* path, char* err, size_t errlen) {
  auto* proc = new (std::nothrow) sentencepiece::SentencePieceProcessor();
  if (!proc) {
    set_error(err, errlen, "out of memory");
    return nullptr;
  }
  auto status = proc->Load(path);
  if (!status.ok()) {
    set_error(err, errlen, status.ToString());
    delete proc;
    return nullptr;
  }
  return proc;
}

LLMPRUNE_SPM_EXPORT void llmprune_spm_free(void* h) { delete sp(h); }
LLMPRUNE_SPM_EXPORT void llmprune_spm_free_buffer(void* buf) { std::free(buf); }

LLMPRUNE_SPM_EXPORT int llmprune_spm_encode(void* h, const char* text, size_t len, int32_t** ids,
                                            size_t* n, char* err, size_t errlen) {
  std::vector<int> out;
  auto status = sp(h)->Encode(std::string(text, len), &out);
  if (!status.ok()) {
    set_error(err, errlen, status.ToString());
    return -1;
  }
  *n = out.size();
  *ids = static_cast<int32_t*>(std::malloc(sizeof(int32_t) * (out.size() + 1)));
  if (!*ids) return -1;
  for (size_t k = 0; k < out.size(); ++k) (*ids)[k] = out[k];
  return 0;
}

LLMPRUNE_SPM_EXPORT int llmprune_spm_decode(void* h, const int32_t* ids, size_t n, char** text,
                                            size_t* len, char* err, size_t errlen) {
  std::vector<int> in(ids, ids + n);
  std::string out;
  auto status = sp(h)->Decode(in, &out);
  if (!status.ok()) {
    set_error(err, errlen, status.ToString());
    return -1;
  }
  *text = copy_out(out, len);
  return *text ? 0 : -1;
}

LLMPRUNE_SPM_EXPORT int32_t llmprune_spm_piece_size(void* h) { return sp(h)->GetPieceSize(); }

LLMPRUNE_SPM_EXPORT int32_t llmprune_spm_piece_to_id(void* h, const char* piece, size_t len) {
  return sp(h)->PieceToId(std::string(piece, len));
}

// Returns a malloc'd copy of the piece (nullptr when out of range).
LLMPRUNE_SPM_EXPORT char* llmprune_spm_id_to_piece(void* h, int32_t id, size_t* len) {
  if (id < 0 || id >= sp(h)->GetPieceSize()) return nullptr;
  return copy_out(sp(h)->IdToPiece(id), len);
}

// kind: 0 normal, 1 control, 2 unknown, 3 byte, 4 unused.
LLMPRUNE_SPM_EXPORT int llmprune_spm_piece_kind(void* h, int32_t id) {
  if (sp(h)->IsControl(id)) return 1;
  if (sp(h)->IsUnknown(id)) return 2;
  if (sp(h)->IsByte(id)) return 3;
  if (sp(h)->IsUnused(id)) return 4;
  return 0;
}

LLMPRUNE_SPM_EXPORT int32_t llmprune_spm_special_id(void* h, int which) {
  switch (which) {
    case 0: return sp(h)->bos_id();
    case 1: return sp(h)->eos_id();
    case 2: return sp(h)->unk_id();
    case 3: return sp(h)->pad_id();
    default: return -1;
  }
}

}  // extern "C"
