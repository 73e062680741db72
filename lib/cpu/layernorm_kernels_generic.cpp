// Portable layer-norm kernels: the same code as the AVX2 set over a plain 8-float lane type the
// compiler vectorises for the baseline ISA (SSE2 on x86-64). Used where the CPU lacks AVX2/FMA/F16C
// or BLOCKSPARSE_CPU_ISA=generic.
#include <algorithm>
#include <array>
#include <cmath>
#include <type_traits>

#include "core/dtype.hpp"
#include "cpu/layernorm_kernels.hpp"

namespace bs::ops {
namespace {

struct V {
  static constexpr int64_t kLanes = 8;
  using Narrow = float;
  static constexpr int64_t column(int64_t s) { return s; }
  float v[8];
};

template <typename F>
inline V map(F&& f) {
  V r;
  for (int l = 0; l < 8; ++l) r.v[l] = f(l);
  return r;
}

inline V zero(V) { return map([](int) { return 0.0f; }); }
inline V splat(V, float f) { return map([f](int) { return f; }); }
inline V operator+(V a, V b) { return map([&](int l) { return a.v[l] + b.v[l]; }); }
inline V operator-(V a, V b) { return map([&](int l) { return a.v[l] - b.v[l]; }); }
inline V operator*(V a, V b) { return map([&](int l) { return a.v[l] * b.v[l]; }); }
inline V madd(V a, V b, V c) { return map([&](int l) { return a.v[l] * b.v[l] + c.v[l]; }); }
inline V relu(V z) { return map([&](int l) { return z.v[l] < 0.0f ? 0.0f : z.v[l]; }); }
inline V keep_pos(V v, V z) { return map([&](int l) { return z.v[l] > 0.0f ? v.v[l] : 0.0f; }); }
inline float hsum(V a) {
  return ((a.v[0] + a.v[4]) + (a.v[2] + a.v[6])) + ((a.v[1] + a.v[5]) + (a.v[3] + a.v[7]));
}
template <typename T>
inline V ld(V, const T* p) {
  return map([p](int l) { return to_float(p[l]); });
}
template <typename T>
inline void st(T* p, V a) {
  for (int l = 0; l < 8; ++l) p[l] = from_float<T>(a.v[l]);
}
// No portable non-temporal store: plain stores.
template <typename T>
inline void st_nt(T* p, V a) {
  st(p, a);
}
inline void store_fence() {}
constexpr bool kBf16FiniteStore = false;
template <typename T>
using WideLane = V;

}  // namespace
}  // namespace bs::ops

#include "cpu/layernorm_kernels_impl.hpp"

namespace bs::ops {

const LnKernelSet& ln_kernels_generic(int32_t dtype) {
  static constexpr LnKernelSet f32 = kernel_set<V, float>("generic"), f16 = kernel_set<V, half_t>("generic"),
                               b16 = kernel_set<V, bf16_t>("generic");
  return dtype == BS_DTYPE_F16 ? f16 : dtype == BS_DTYPE_BF16 ? b16 : f32;
}

}  // namespace bs::ops
