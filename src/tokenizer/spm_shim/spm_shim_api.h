// The C interface of the libllmprune_spm shim (see spm_shim.cc); the tokenizer resolves
// these names with dlsym. Buffers the shim returns are freed with llmprune_spm_free_buffer.
#pragma once

#include <cstddef>
#include <cstdint>

#define LLMPRUNE_SPM_ABI_VERSION 1
#define LLMPRUNE_SPM_EXPORT __attribute__((visibility("default")))

extern "C" {
typedef int (*llmprune_spm_abi_version_fn)(void);
typedef void* (*llmprune_spm_load_fn)(const char* path, char* err, size_t errlen);
typedef void (*llmprune_spm_free_fn)(void* h);
typedef void (*llmprune_spm_free_buffer_fn)(void* buf);
typedef int (*llmprune_spm_encode_fn)(void* h, const char* text, size_t len, int32_t** ids,
                                      size_t* n, char* err, size_t errlen);
typedef int (*llmprune_spm_decode_fn)(void* h, const int32_t* ids, size_t n, char** text,
                                      size_t* len, char* err, size_t errlen);
typedef int32_t (*llmprune_spm_piece_size_fn)(void* h);
typedef int32_t (*llmprune_spm_piece_to_id_fn)(void* h, const char* piece, size_t len);
typedef char* (*llmprune_spm_id_to_piece_fn)(void* h, int32_t id, size_t* len);
typedef int (*llmprune_spm_piece_kind_fn)(void* h, int32_t id);
typedef int32_t (*llmprune_spm_special_id_fn)(void* h, int which);
}
