// Layer-norm kernels for AVX2 + FMA + F16C (x86-64), used only when the CPU has all three
// (cpu_isa.hpp). The kernels are compiled for that ISA with a target pragma around the kernel code
// alone: every header is included before the pragma, so no inline function or template shared with
// other files (std::, core/dtype.hpp) is emitted with AVX2 instructions under a name the linker
// could pick for the portable path; the kernel code itself has internal linkage.
//
// 8 fp32 lanes per vector. bf16 -> fp32 moves the bits to the top half of a dword; fp32 -> bf16
// rounds to nearest even with integer ops (the same bits as bs::to_bf16, NaN included); fp16 uses
// the F16C conversions (round to nearest even, as bs::to_half).
#include "cpu/layernorm_kernels.hpp"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <type_traits>

#include "core/dtype.hpp"

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma,f16c"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c")
#endif

namespace bs::ops {
namespace {

struct V {
  static constexpr int64_t kLanes = 8;
  using Narrow = float;
  static constexpr int64_t column(int64_t s) { return s; }
  __m256 v;
};

inline V zero(V) { return {_mm256_setzero_ps()}; }
inline V splat(V, float f) { return {_mm256_set1_ps(f)}; }
inline V operator+(V a, V b) { return {_mm256_add_ps(a.v, b.v)}; }
inline V operator-(V a, V b) { return {_mm256_sub_ps(a.v, b.v)}; }
inline V operator*(V a, V b) { return {_mm256_mul_ps(a.v, b.v)}; }
inline V madd(V a, V b, V c) { return {_mm256_fmadd_ps(a.v, b.v, c.v)}; }
inline V relu(V z) { return {_mm256_andnot_ps(_mm256_cmp_ps(z.v, _mm256_setzero_ps(), _CMP_LT_OQ), z.v)}; }
inline V keep_pos(V v, V z) { return {_mm256_and_ps(_mm256_cmp_ps(z.v, _mm256_setzero_ps(), _CMP_GT_OQ), v.v)}; }
inline float hsum(V a) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(a.v), _mm256_extractf128_ps(a.v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

inline __m128i ld8x16(const void* p) { return _mm_loadu_si128(static_cast<const __m128i*>(p)); }
inline void st8x16(void* p, __m128i v) { _mm_storeu_si128(static_cast<__m128i*>(p), v); }

inline V ld(V, const float* p) { return {_mm256_loadu_ps(p)}; }
// The 8 words in both 128-bit lanes (a load-only broadcast), then one in-lane byte shuffle puts words
// 0-3 (low lane) and 4-7 (high lane) into the top halves of zeroed dwords: 2 µops where widen +
// shift take 3, and bf16 loads are half the µops of the 16-bit panel loops.
inline V ld(V, const bf16_t* p) {
  const __m256i both = _mm256_broadcastsi128_si256(ld8x16(p));
  const __m256i to_hi = _mm256_setr_epi8(-1, -1, 0, 1, -1, -1, 2, 3, -1, -1, 4, 5, -1, -1, 6, 7,  //
                                         -1, -1, 8, 9, -1, -1, 10, 11, -1, -1, 12, 13, -1, -1, 14, 15);
  return {_mm256_castsi256_ps(_mm256_shuffle_epi8(both, to_hi))};
}
inline V ld(V, const half_t* p) { return {_mm256_cvtph_ps(ld8x16(p))}; }

// Words 0-7 of the low halves of 8 dwords (each <= 0xffff, so the unsigned saturation never clips).
inline __m128i pack_lo16(__m256i r) { return _mm_packus_epi32(_mm256_castsi256_si128(r), _mm256_extracti128_si256(r, 1)); }
// Round to nearest even, right for every value but NaN (the carry of the bias would reach the sign).
inline __m256i round_bf16(__m256i u) {
  const __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(1));
  return _mm256_srli_epi32(_mm256_add_epi32(u, _mm256_add_epi32(lsb, _mm256_set1_epi32(0x7fff))), 16);
}
inline __m128i to_bf16(V a) {
  const __m256i u = _mm256_castps_si256(a.v);
  const __m256i quiet_nan = _mm256_or_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(0x40));
  const __m256i is_nan = _mm256_castps_si256(_mm256_cmp_ps(a.v, a.v, _CMP_UNORD_Q));
  return pack_lo16(_mm256_blendv_epi8(round_bf16(u), quiet_nan, is_nan));
}
// The same bits for non-NaN values, without the NaN test and blend (3 of 10 µops): see
// kBf16FiniteStore.
inline __m128i to_bf16_finite(V a) { return pack_lo16(round_bf16(_mm256_castps_si256(a.v))); }
inline __m128i to_half(V a) { return _mm256_cvtps_ph(a.v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }

inline void st(float* p, V a) { _mm256_storeu_ps(p, a.v); }
inline void st(bf16_t* p, V a) { st8x16(p, to_bf16(a)); }
inline void st(half_t* p, V a) { st8x16(p, to_half(a)); }
// Non-temporal stores need only 16-byte alignment: fp32 as two 16-byte halves.
inline void st_nt(float* p, V a) {
  _mm_stream_ps(p, _mm256_castps256_ps128(a.v));
  _mm_stream_ps(p + 4, _mm256_extractf128_ps(a.v, 1));
}
inline void st_nt(bf16_t* p, V a) { _mm_stream_si128(reinterpret_cast<__m128i*>(p), to_bf16(a)); }
inline void st_nt(half_t* p, V a) { _mm_stream_si128(reinterpret_cast<__m128i*>(p), to_half(a)); }
inline void store_fence() { _mm_sfence(); }
constexpr bool kBf16FiniteStore = true;
inline void st_finite(bf16_t* p, V a) { st8x16(p, to_bf16_finite(a)); }
inline void st_nt_finite(bf16_t* p, V a) { _mm_stream_si128(reinterpret_cast<__m128i*>(p), to_bf16_finite(a)); }

// 16 bf16 values as two vectors, split by one 32-byte load: a 32-bit lane holds an even and the
// next odd element, so `lane << 16` widens the evens and `lane & 0xffff0000` the odds (2 µops per
// 16 values where V's load takes 2 per 8). Stores round both halves in place and merge them with
// one word blend (no pack or cross-lane step). Float arrays swept with V2 hold each group of 16
// columns as [evens | odds] (V2::column): the features-first statistics, which are internal.
struct V2 {
  static constexpr int64_t kLanes = 16;
  using Narrow = V;
  static constexpr int64_t column(int64_t s) { return s < 8 ? 2 * s : 2 * (s - 8) + 1; }
  V e, o;
};

inline V2 zero(V2) { return {zero(V{}), zero(V{})}; }
inline V2 splat(V2, float f) { return {splat(V{}, f), splat(V{}, f)}; }
inline V2 operator+(V2 a, V2 b) { return {a.e + b.e, a.o + b.o}; }
inline V2 operator-(V2 a, V2 b) { return {a.e - b.e, a.o - b.o}; }
inline V2 operator*(V2 a, V2 b) { return {a.e * b.e, a.o * b.o}; }
inline V2 madd(V2 a, V2 b, V2 c) { return {madd(a.e, b.e, c.e), madd(a.o, b.o, c.o)}; }
inline V2 relu(V2 z) { return {relu(z.e), relu(z.o)}; }
inline V add_to(V s, V2 a) { return s + a.e + a.o; }

inline V2 ld(V2, const float* p) { return {ld(V{}, p), ld(V{}, p + 8)}; }
inline void st(float* p, V2 a) { st(p, a.e), st(p + 8, a.o); }
inline V2 ld(V2, const bf16_t* p) {
  const __m256i w = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
  return {{_mm256_castsi256_ps(_mm256_slli_epi32(w, 16))},
          {_mm256_castsi256_ps(_mm256_and_si256(w, _mm256_set1_epi32(static_cast<int>(0xffff0000u))))}};
}
// round_bf16 before its final shift: the bf16 bits in the top half of each dword.
inline __m256i round_bf16_hi(__m256i u) {
  const __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(1));
  return _mm256_add_epi32(u, _mm256_add_epi32(lsb, _mm256_set1_epi32(0x7fff)));
}
// Evens' bf16 from the top halves of e into the low words, odds' from the top halves of o.
inline __m256i merge_bf16(__m256i e_hi, __m256i o_hi) { return _mm256_blend_epi16(_mm256_srli_epi32(e_hi, 16), o_hi, 0xaa); }
inline __m256i to_bf16_hi(V a) {
  const __m256i u = _mm256_castps_si256(a.v);
  const __m256i quiet_nan = _mm256_or_si256(u, _mm256_set1_epi32(0x400000));
  const __m256i is_nan = _mm256_castps_si256(_mm256_cmp_ps(a.v, a.v, _CMP_UNORD_Q));
  return _mm256_blendv_epi8(round_bf16_hi(u), quiet_nan, is_nan);
}
inline __m256i to_bf16(V2 a) { return merge_bf16(to_bf16_hi(a.e), to_bf16_hi(a.o)); }
inline __m256i to_bf16_finite(V2 a) {
  return merge_bf16(round_bf16_hi(_mm256_castps_si256(a.e.v)), round_bf16_hi(_mm256_castps_si256(a.o.v)));
}
inline void st32(bf16_t* p, __m256i v) { _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), v); }
inline void st(bf16_t* p, V2 a) { st32(p, to_bf16(a)); }
inline void st_finite(bf16_t* p, V2 a) { st32(p, to_bf16_finite(a)); }

// The lane type of the features-first sweeps over storage type T.
template <typename T>
using WideLane = std::conditional_t<std::is_same_v<T, bf16_t>, V2, V>;

}  // namespace
}  // namespace bs::ops

#include "cpu/layernorm_kernels_impl.hpp"

#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

namespace bs::ops {

const LnKernelSet* ln_kernels_avx2(int32_t dtype) {
  static constexpr LnKernelSet f32 = kernel_set<V, float>("avx2"), f16 = kernel_set<V, half_t>("avx2"),
                               b16 = kernel_set<V, bf16_t>("avx2");
  return dtype == BS_DTYPE_F16 ? &f16 : dtype == BS_DTYPE_BF16 ? &b16 : &f32;
}

}  // namespace bs::ops

#else

namespace bs::ops {
const LnKernelSet* ln_kernels_avx2(int32_t) { return nullptr; }
}  // namespace bs::ops

#endif
