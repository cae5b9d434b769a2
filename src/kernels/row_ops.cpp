// Row operations for single-query attention (see row_ops.h).
#include "kernels/row_ops.h"

#include "kernels/gemv.h"
#include "kernels/gemv_internal.h"
#include "kernels/vec_math.h"

#if defined(__x86_64__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#endif

namespace llmprune::kernels {

namespace {

inline float widen(uint16_t h) { return detail::bf16_to_f32(h); }
inline float widen(float f) { return f; }

template <typename T>
float dot_scalar(const float* a, const T* b, int64_t n) {
  float s = 0;
  for (int64_t i = 0; i < n; ++i) s += a[i] * widen(b[i]);
  return s;
}
template <typename T>
void axpy_scalar(float alpha, const T* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += alpha * widen(x[i]);
}

#if defined(__x86_64__)
#define LLMPRUNE_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,fma")))
#define LLMPRUNE_AVX2 __attribute__((target("avx2,fma")))

// 16 (AVX-512) or 8 (AVX2) lanes per step, the tail masked (AVX-512) or scalar (AVX2).
template <typename T>
LLMPRUNE_AVX512 float dot_512(const float* a, const T* b, int64_t n) {
  __m512 acc = _mm512_setzero_ps();
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = n - i >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << (n - i)) - 1);
    acc = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i), detail::load_f32_512(b + i, m), acc);
  }
  return _mm512_reduce_add_ps(acc);
}
template <typename T>
LLMPRUNE_AVX512 void axpy_512(float alpha, const T* x, float* y, int64_t n) {
  const __m512 a = _mm512_set1_ps(alpha);
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = n - i >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << (n - i)) - 1);
    _mm512_mask_storeu_ps(
        y + i, m,
        _mm512_fmadd_ps(a, detail::load_f32_512(x + i, m), _mm512_maskz_loadu_ps(m, y + i)));
  }
}

LLMPRUNE_AVX2 inline __m256 load8(const float* p) { return _mm256_loadu_ps(p); }
LLMPRUNE_AVX2 inline __m256 load8(const uint16_t* p) {
  const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}
template <typename T>
LLMPRUNE_AVX2 float dot_256(const float* a, const T* b, int64_t n) {
  __m256 acc = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) acc = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), load8(b + i), acc);
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps(acc, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  float r = _mm_cvtss_f32(s);
  for (; i < n; ++i) r += a[i] * widen(b[i]);
  return r;
}
template <typename T>
LLMPRUNE_AVX2 void axpy_256(float alpha, const T* x, float* y, int64_t n) {
  const __m256 a = _mm256_set1_ps(alpha);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(y + i, _mm256_fmadd_ps(a, load8(x + i), _mm256_loadu_ps(y + i)));
  for (; i < n; ++i) y[i] += alpha * widen(x[i]);
}
#endif

template <typename T>
float dot_any(const float* a, const T* b, int64_t n) {
#if defined(__x86_64__)
  switch (kernel_level()) {
    case KernelLevel::kAvx512: return dot_512(a, b, n);
    case KernelLevel::kAvx2: return dot_256(a, b, n);
    case KernelLevel::kScalar: break;
  }
#endif
  return dot_scalar(a, b, n);
}

template <typename T>
void axpy_any(float alpha, const T* x, float* y, int64_t n) {
#if defined(__x86_64__)
  switch (kernel_level()) {
    case KernelLevel::kAvx512: return axpy_512(alpha, x, y, n);
    case KernelLevel::kAvx2: return axpy_256(alpha, x, y, n);
    case KernelLevel::kScalar: break;
  }
#endif
  axpy_scalar(alpha, x, y, n);
}

}  // namespace

float dot(const float* a, const float* b, int64_t n) { return dot_any(a, b, n); }
float dot(const float* a, const uint16_t* b, int64_t n) { return dot_any(a, b, n); }
void axpy(float alpha, const float* x, float* y, int64_t n) { axpy_any(alpha, x, y, n); }
void axpy(float alpha, const uint16_t* x, float* y, int64_t n) { axpy_any(alpha, x, y, n); }

}  // namespace llmprune::kernels
