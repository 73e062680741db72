// The layer-norm kernels, written once over a lane type: `V` (a vector of V::kLanes floats, defined
// by the including file for its ISA) for the full vectors of a loop and `float` for its tail. The
// includer defines, for V: zero(V), splat(V, float), ld(V, const T*), st(T*, V) and st_nt(T*, V) (a
// non-temporal store to an aligned address, ordered by store_fence()) for T = float, bf16_t,
// half_t, the operators + - *, madd(a, b, c) = a·b + c, relu(z) = (z < 0 ? 0 : z),
// keep_pos(v, z) = (z > 0 ? v : 0), hsum(V) (a fixed-order lane sum) and kBf16FiniteStore: true
// where it also defines st_finite(bf16_t*, V) and st_nt_finite(bf16_t*, V), stores that give
// st's bits for every value but NaN at fewer µops (see out_sweep). Every vector lane type has
// kLanes, Narrow (the next narrower lane type, `float` for V: loop tails) and column(s) (the column
// of its slot s, see to_columns). WideLane<T> is the lane type of the features-first forward
// sweeps over storage type T: V, or a wider type with those operations plus add_to(V, L) (for
// bf16 on AVX2: V2, 16 values split even/odd). Everything here has
// internal linkage: each ISA's file gets its own copy, compiled for that ISA, and no copy compiled
// for AVX2 can be picked by the linker for the portable path.
//
// Not a normal header: include it last, once, after every other header (see
// layernorm_kernels_avx2.cpp for why).
#include <algorithm>
#include <array>
#include <cmath>
#include <type_traits>

#include "core/dtype.hpp"
#include "cpu/layernorm_kernels.hpp"

namespace bs::ops {
namespace {

// Scalar lane: the tail of every loop.
inline float zero(float) { return 0.0f; }
inline float splat(float, float v) { return v; }
template <typename T>
inline float ld(float, const T* p) {
  return to_float(*p);
}
template <typename T>
inline void st(T* p, float v) {
  *p = from_float<T>(v);
}
template <typename T>
inline void st_nt(T* p, float v) {
  *p = from_float<T>(v);
}
inline float madd(float a, float b, float c) { return a * b + c; }
inline float relu(float z) { return z < 0.0f ? 0.0f : z; }
inline float keep_pos(float v, float z) { return z > 0.0f ? v : 0.0f; }
inline float hsum(float v) { return v; }

// A store, non-temporal with NT.
template <bool NT, typename T, typename L>
inline void store(T* p, L v) {
  if constexpr (NT)
    st_nt(p, v);
  else
    st(p, v);
}

template <typename L>
constexpr int64_t lanes() {
  if constexpr (std::is_same_v<L, float>)
    return 1;
  else
    return L::kLanes;
}

// f(L{}, i) for i in [i0, n): full vectors of L, then of L::Narrow and so on down to the scalar tail.
template <typename L, typename F>
inline void sweep_from(int64_t i, int64_t n, F& f) {
  if constexpr (std::is_same_v<L, float>) {
    for (; i < n; ++i) f(0.0f, i);
  } else {
    for (; i + L::kLanes <= n; i += L::kLanes) f(L{}, i);
    sweep_from<typename L::Narrow>(i, n, f);
  }
}

template <typename L, typename F>
inline void sweep(int64_t n, F&& f) {
  sweep_from<L>(0, n, f);
}

// The columns [0, n) of a features-first sweep with lane type W: the first `head` with the narrower
// lanes, the rest with W. A W wider than V starts at a 32-byte aligned column where the rows allow
// it (head_for): its 32-byte loads and stores would otherwise straddle cache lines every other
// step, which measured 12-17 % slower from memory.
template <typename W, typename F>
inline void sweep_cols(int64_t head, int64_t n, F&& f) {
  sweep_from<typename W::Narrow>(0, head, f);
  sweep_from<W>(head, n, f);
}

// head for sweep_cols over rows of n columns from `row0`, ld elements apart: 0 for W = V.
template <typename W, typename T>
int64_t head_for(const T* row0, int64_t ld, int64_t n) {
  if constexpr (std::is_same_v<W, V>) {
    return 0;
  } else {
    constexpr uintptr_t kAlign = W::kLanes * sizeof(T);
    const uintptr_t a = reinterpret_cast<uintptr_t>(row0);
    if (a % sizeof(T) != 0 || (static_cast<uintptr_t>(ld) * sizeof(T)) % kAlign != 0) return 0;
    return std::min<int64_t>(n, static_cast<int64_t>((kAlign - a % kAlign) % kAlign / sizeof(T)));
  }
}

// Copies a float array swept by sweep_cols<L>(head, n, ...), whose vectors may hold their columns
// in another order (slot s of a vector at j is column j + L::column(s)), into column order.
template <typename L>
void to_columns(const float* src, float* dst, int64_t head, int64_t n) {
  sweep_cols<L>(head, n, [&](auto t, int64_t j) {
    for (int64_t s = 0; s < lanes<decltype(t)>(); ++s) {
      if constexpr (std::is_same_v<decltype(t), float>)
        dst[j] = src[j];
      else
        dst[j + decltype(t)::column(s)] = src[j + s];
    }
  });
}

// M sums over i in [0, n): f(L{}, i, acc) adds its M values to acc[0..M). `Sets` sets of vector
// accumulators take turns to hide the add latency. The order is fixed, so results are bitwise
// repeatable.
template <int M, typename V, int Sets = 4, typename F>
inline std::array<float, M> reduce(int64_t n, F&& f) {
  constexpr int64_t W = V::kLanes;
  V acc[Sets][M];
  float s[M];
  for (int j = 0; j < M; ++j) {
    for (auto& a : acc) a[j] = zero(V{});
    s[j] = 0.0f;
  }
  int64_t i = 0;
  for (; i + Sets * W <= n; i += Sets * W)
    for (int q = 0; q < Sets; ++q) f(V{}, i + q * W, acc[q]);
  // The last full vectors go to sets 0, 1, ... in turn. A loop of constant trip count (unrolled, so
  // constant indices): with a run-time index GCC 12 kept the bf16 kernels' accumulators in memory, a
  // store-to-load chain through the stack in every iteration of the loop above.
  for (int q = 0; q < Sets - 1; ++q)
    if (i + W <= n) f(V{}, i, acc[q]), i += W;
  for (; i < n; ++i) f(0.0f, i, s);
  std::array<float, M> r;
  for (int j = 0; j < M; ++j) {
    V t = acc[0][j];
    for (int q = 1; q < Sets; ++q) t = t + acc[q][j];
    r[j] = hsum(t) + s[j];
  }
  return r;
}

// ---- output stores ------------------------------------------------------------------------------
//
// An exact vector bf16 store spends 3 of its 10 µops on NaN (test, quiet NaN, blend), and the bf16
// sweeps are compute bound. So an output sweep runs first with the finite-only stores, adding
// the values it stored into one vector, and again with the exact stores only if that sum is not
// finite (a NaN or Inf output; an overflowing sum of finite outputs just takes the exact path too).
// The outputs are the same bits either way.

template <typename S, typename L>
inline S add_to(S s, L v) {
  return s + v;
}

template <typename L, typename T>
constexpr bool finite_store() {
  return kBf16FiniteStore && std::is_same_v<T, bf16_t> && !std::is_same_v<L, float>;
}

// A store of an output sweep: with Finite (the sweep's first try), the finite-only store where there
// is one, summing the values into `sum`.
template <bool NT, bool Finite, typename T, typename L, typename S>
inline void store_out(T* p, L v, S& sum) {
  if constexpr (Finite && finite_store<L, T>()) {
    sum = add_to(sum, v);
    if constexpr (NT)
      st_nt_finite(p, v);
    else
      st_finite(p, v);
  } else {
    store<NT>(p, v);
  }
}

// body(Finite, sum) stores its `n` outputs with store_out<NT, Finite()>(p, v, sum) and must be safe
// to run twice (it only writes its outputs). Short sweeps (a few vectors) go straight to the exact
// stores: the check would cost more than it saves.
template <typename V, typename T, typename Body>
inline void out_sweep(int64_t n, Body&& body) {
  V sum = zero(V{});
  if constexpr (finite_store<V, T>()) {
    if (n >= 8 * V::kLanes) {
      body(std::true_type{}, sum);
      if (std::isfinite(hsum(sum))) return;
    }
  }
  body(std::false_type{}, sum);
}

// Affine step of one lane: z = xhat·gain + bias with the optional parts left out at compile time.
template <bool G, bool B, typename L>
inline L affine(L xhat, const float* gain, const float* bias, int64_t i) {
  L z = xhat;
  if constexpr (G) z = z * ld(L{}, gain + i);
  if constexpr (B) z = z + ld(L{}, bias + i);
  return z;
}

// ---- features last: one contiguous row, three sweeps while it sits in L1 -----------------------

// The next rows are prefetched (LnRowArgs::next_x) for 16-bit data only: its sweeps are compute
// bound, so the next row's memory reads overlap their arithmetic (bf16 fprop 16-18 % and dx 8-9 %
// faster at 8192 x 4096, 2 threads); fp32 rows are memory bound, and there the prefetches measured
// 2-6 % slower (bench/notes/ops.md, CPU layernorm sixth round).
template <typename T>
constexpr bool kPrefetchNext = sizeof(T) == 2;

// Called by an in-cache sweep for every element index i it visits: prefetches the line of `next`
// (a row of the same length) at i once per line, spreading the next row's reads over the sweep.
template <typename T>
inline void prefetch_line(const T* next, int64_t i) {
  constexpr int64_t kLine = 64 / sizeof(T);
  if (i % kLine == 0) __builtin_prefetch(next + i);
}

template <typename V, typename T, bool G, bool B, bool R, bool NT>
void fprop_row_t(LnRowArgs& args) {
  // A local copy: the 16-bit stores are __m128i stores, which may alias anything, so fields read
  // through the reference would be reloaded from memory after every store.
  const LnRowArgs a = args;
  const T* x = static_cast<const T*>(a.x);
  T* y = static_cast<T*>(a.out);
  const int64_t n = a.n;
  const float inv = 1.0f / static_cast<float>(n);
  const float mean = reduce<1, V>(n, [&](auto t, int64_t i, auto* acc) { acc[0] = acc[0] + ld(t, x + i); })[0] * inv;
  const T* next = kPrefetchNext<T> && a.next_rows > 0 ? static_cast<const T*>(a.next_x) : nullptr;
  const float ss = reduce<1, V>(n, [&](auto t, int64_t i, auto* acc) {
    if (next) prefetch_line(next, i);
    const auto d = ld(t, x + i) - splat(t, mean);
    acc[0] = madd(d, d, acc[0]);
  })[0];
  const float rstd = 1.0f / std::sqrt(ss * inv + a.epsilon);
  out_sweep<V, T>(n, [&](auto finite, V& sum) {
    sweep<V>(n, [&](auto t, int64_t i) {
      auto z = affine<G, B>((ld(t, x + i) - splat(t, mean)) * splat(t, rstd), a.gain, a.bias, i);
      if constexpr (R) z = relu(z);
      store_out<NT, finite()>(y + i, z, sum);
    });
  });
  if constexpr (NT) store_fence();
  args.mean[0] = mean;
  args.rstd[0] = rstd;
}

// dx = rstd·(u - mean(u) - xhat·mean(u·xhat)), u = gain·dy·[z > 0], for NR rows of one segment:
// the first sweep reads and writes the dgain/dbias partials once for all NR rows (in row order, so
// the partials are the same bits as row by row). Two accumulator sets per row sum, for every NR, so
// a row's dx does not depend on how the rows were grouped.
template <typename V, typename T, bool G, bool B, bool R, bool P, bool NT, int NR>
void bprop_row_t(const LnRowArgs& args) {
  const LnRowArgs a = args;  // see fprop_row_t
  const T* x = static_cast<const T*>(a.x);
  const T* dy = static_cast<const T*>(a.dy);
  T* dx = static_cast<T*>(a.out);
  const int64_t n = a.n, stride = a.stride;
  // xhat and the masked dy of element i of row r.
  auto grad = [&](auto t, int r, int64_t i, auto& xhat) {
    xhat = (ld(t, x + r * stride + i) - splat(t, a.mean[r])) * splat(t, a.rstd[r]);
    auto d = ld(t, dy + r * stride + i);
    if constexpr (R) d = keep_pos(d, affine<G, B>(xhat, a.gain, a.bias, i));
    return d;
  };
  auto gained = [&](auto t, auto d, int64_t i) {
    if constexpr (G) return d * ld(t, a.gain + i);
    else return d;
  };
  const auto s = reduce<2 * NR, V, 2>(n, [&](auto t, int64_t i, auto* acc) {
    [[maybe_unused]] decltype(t) pg, pb;
    if constexpr (P) pg = ld(t, a.pg + i), pb = ld(t, a.pb + i);
    for (int r = 0; r < NR; ++r) {
      decltype(t) xhat;
      const auto d = grad(t, r, i, xhat);
      const auto u = gained(t, d, i);
      acc[2 * r] = acc[2 * r] + u;
      acc[2 * r + 1] = madd(u, xhat, acc[2 * r + 1]);
      if constexpr (P) {
        pg = madd(d, xhat, pg);
        pb = pb + d;
      }
    }
    if constexpr (P) {
      st(a.pg + i, pg);
      st(a.pb + i, pb);
    }
  });
  const float inv = 1.0f / static_cast<float>(n);
  for (int r = 0; r < NR; ++r) {
    const float mu = s[2 * r] * inv, mux = s[2 * r + 1] * inv, rstd = a.rstd[r];
    const bool next = kPrefetchNext<T> && r < a.next_rows;
    const T* next_x = next ? static_cast<const T*>(a.next_x) + r * stride : nullptr;
    const T* next_dy = next ? static_cast<const T*>(a.next_dy) + r * stride : nullptr;
    out_sweep<V, T>(n, [&](auto finite, V& sum) {
      sweep<V>(n, [&](auto t, int64_t i) {
        if (next) prefetch_line(next_x, i), prefetch_line(next_dy, i);
        decltype(t) xhat;
        const auto u = gained(t, grad(t, r, i, xhat), i);
        store_out<NT, finite()>(dx + r * stride + i, splat(t, rstd) * (u - splat(t, mu) - xhat * splat(t, mux)), sum);
      });
    });
  }
  if constexpr (NT) store_fence();
}

// ---- features first: a panel of columns, swept row by row (contiguous), statistics per column ----
//
// Each sweep takes kRowBlock rows at once, so the per-column statistics are loaded and stored once
// per block rather than once per row (with panels of thousands of columns they live in L2).

constexpr int kRowBlock = 4;

// f(k, RB) for the blocks of rows in [k0, k1): RB = kRowBlock rows while that many remain, then 1.
template <typename F>
inline void row_blocks(int64_t k0, int64_t k1, F&& f) {
  int64_t k = k0;
  for (; k + kRowBlock <= k1; k += kRowBlock) f(k, std::integral_constant<int, kRowBlock>{});
  for (; k < k1; ++k) f(k, std::integral_constant<int, 1>{});
}

// gain and bias of rows [k, k + rb) (ones and zeros where not given).
template <typename A>
inline void gain_bias(const A& a, int64_t k, int rb, float* g, float* b) {
  for (int r = 0; r < rb; ++r) g[r] = a.gain ? a.gain[k + r] : 1.0f, b[r] = a.bias ? a.bias[k + r] : 0.0f;
}

template <typename V, typename T, bool R>
void fprop_panel_t(const LnPanelArgs& args) {
  const LnPanelArgs a = args;  // see fprop_row_t
  const int64_t w = a.n1 - a.n0, rows = a.rows, ldx = a.ld;
  const T* x = static_cast<const T*>(a.x) + a.n0;
  T* y = static_cast<T*>(a.out) + a.n0;
  using W = WideLane<T>;  // the statistics arrays are in W's column order (to_columns)
  const int64_t head = head_for<W>(x, ldx, w);
  // Sums of x - x[row 0] (shifted: accurate when |mean| >> std), then mean and rstd in place.
  alignas(64) float shift[kLnMaxPanel], s1[kLnMaxPanel], s2[kLnMaxPanel];
  sweep_cols<W>(head, w, [&](auto t, int64_t j) {
    st(shift + j, ld(t, x + j));
    st(s1 + j, zero(t));
    st(s2 + j, zero(t));
  });
  row_blocks(0, rows, [&](int64_t k, auto rb) {
    const T* xr = x + k * ldx;
    sweep_cols<W>(head, w, [&](auto t, int64_t j) {
      const auto sh = ld(t, shift + j);
      auto a1 = ld(t, s1 + j), a2 = ld(t, s2 + j);
      for (int r = 0; r < rb(); ++r) {
        const auto d = ld(t, xr + r * ldx + j) - sh;
        a1 = a1 + d;
        a2 = madd(d, d, a2);
      }
      st(s1 + j, a1);
      st(s2 + j, a2);
    });
  });
  const float inv = 1.0f / static_cast<float>(rows);
  for (int64_t j = 0; j < w; ++j) {
    const float m = s1[j] * inv, var = std::max(s2[j] * inv - m * m, 0.0f);
    s1[j] = shift[j] + m;
    s2[j] = 1.0f / std::sqrt(var + a.epsilon);
  }
  if (a.mean_out) {
    to_columns<W>(s1, a.mean_out + a.n0, head, w);
    to_columns<W>(s2, a.rstd_out + a.n0, head, w);
  }
  row_blocks(0, rows, [&](int64_t k, auto rb) {
    float g[rb()], b[rb()];
    gain_bias(a, k, rb(), g, b);
    out_sweep<V, T>(w, [&](auto finite, V& sum) {
      sweep_cols<W>(head, w, [&](auto t, int64_t j) {
        const auto m = ld(t, s1 + j), rs = ld(t, s2 + j);
        for (int r = 0; r < rb(); ++r) {
          auto z = madd((ld(t, x + (k + r) * ldx + j) - m) * rs, splat(t, g[r]), splat(t, b[r]));
          if constexpr (R) z = relu(z);
          store_out<false, finite()>(y + (k + r) * ldx + j, z, sum);
        }
      });
    });
  });
}

// ---- features first backward: whole rows of a segment, per-column constants --------------------

// s0 = Σ u and s1 = Σ u·(x - mean) per column over rows [k0, k1), u = gain·dy·[z > 0], rows in
// order. The factor rstd of xhat is applied once per column by the caller (without ReLU the mask
// needs no xhat either).
template <typename V, typename T, bool R>
void bprop_col_sums_t(const LnColArgs& args) {
  const LnColArgs a = args;  // see fprop_row_t
  const int64_t n = a.n;
  const T* x = static_cast<const T*>(a.x);
  const T* dy = static_cast<const T*>(a.dy);
  sweep<V>(n, [&](auto t, int64_t j) {
    st(a.s0 + j, zero(t));
    st(a.s1 + j, zero(t));
  });
  row_blocks(a.k0, a.k1, [&](int64_t k, auto rb) {
    float g[rb()], b[rb()];
    gain_bias(a, k, rb(), g, b);
    sweep<V>(n, [&](auto t, int64_t j) {
      const auto m = ld(t, a.mean + j);
      auto a1 = ld(t, a.s0 + j), a2 = ld(t, a.s1 + j);
      for (int r = 0; r < rb(); ++r) {
        const int64_t o = (k + r) * n + j;
        const auto xc = ld(t, x + o) - m;
        auto d = ld(t, dy + o);
        if constexpr (R) d = keep_pos(d, madd(xc * ld(t, a.rstd + j), splat(t, g[r]), splat(t, b[r])));
        const auto u = d * splat(t, g[r]);
        a1 = a1 + u;
        a2 = madd(u, xc, a2);
      }
      st(a.s0 + j, a1);
      st(a.s1 + j, a2);
    });
  });
}

// dx = rstd·(u - mean(u) - xhat·mean(u·xhat)) = (dy·gain)·rstd + (xhat·c1 + c0), and with P the
// row sums Σ dy·xhat, Σ dy (dgain, dbias of the row: whole rows, so complete). One row at a time:
// three streams (x, dy, dx rows), and non-temporal stores fill whole lines in order.
template <typename V, typename T, bool R, bool P, bool NT>
void bprop_col_dx_t(const LnColArgs& args) {
  const LnColArgs a = args;  // see fprop_row_t
  const int64_t n = a.n;
  for (int64_t k = a.k0; k < a.k1; ++k) {
    const T* x = static_cast<const T*>(a.x) + k * n;
    const T* dy = static_cast<const T*>(a.dy) + k * n;
    T* dx = static_cast<T*>(a.dx) + k * n;
    const float g = a.gain ? a.gain[k] : 1.0f, b = a.bias ? a.bias[k] : 0.0f;
    std::array<float, 2> s;
    out_sweep<V, T>(n, [&](auto finite, V& sum) {
      s = reduce<2, V, 2>(n, [&](auto t, int64_t j, auto* acc) {
        const auto rs = ld(t, a.rstd + j);
        const auto xhat = (ld(t, x + j) - ld(t, a.mean + j)) * rs;
        auto d = ld(t, dy + j);
        if constexpr (R) d = keep_pos(d, madd(xhat, splat(t, g), splat(t, b)));
        const auto v = madd(d * splat(t, g), rs, madd(xhat, ld(t, a.s1 + j), ld(t, a.s0 + j)));
        store_out<NT, finite()>(dx + j, v, sum);
        if constexpr (P) {
          acc[0] = madd(d, xhat, acc[0]);
          acc[1] = acc[1] + d;
        }
      });
    });
    if constexpr (P) {
      if (a.dgain) a.dgain[k] = s[0];
      if (a.dbias) a.dbias[k] = s[1];
    }
  }
  if constexpr (NT) store_fence();
}

// ---- run-time flags to template arguments ------------------------------------------------------

template <typename F>
inline void with_flag(bool b, F&& f) {
  if (b)
    f(std::true_type{});
  else
    f(std::false_type{});
}

template <typename V, typename T>
void fprop_row_k(LnRowArgs& a) {
  with_flag(a.gain, [&](auto G) {
    with_flag(a.bias, [&](auto B) {
      with_flag(a.relu, [&](auto R) {
        with_flag(a.stream, [&](auto NT) { fprop_row_t<V, T, G(), B(), R(), NT()>(a); });
      });
    });
  });
}

template <typename V, typename T>
void bprop_row_k(LnRowArgs& a) {
  with_flag(a.gain, [&](auto G) {
    with_flag(a.bias, [&](auto B) {
      with_flag(a.relu, [&](auto R) {
        with_flag(a.pg, [&](auto P) {
          with_flag(a.stream, [&](auto NT) {
            if (a.rows == 2)
              bprop_row_t<V, T, G(), B(), R(), P(), NT(), 2>(a);
            else
              bprop_row_t<V, T, G(), B(), R(), P(), NT(), 1>(a);
          });
        });
      });
    });
  });
}

template <typename V, typename T>
void fprop_panel_k(const LnPanelArgs& a) {
  with_flag(a.relu, [&](auto R) { fprop_panel_t<V, T, R()>(a); });
}

template <typename V, typename T>
void bprop_col_sums_k(const LnColArgs& a) {
  with_flag(a.relu, [&](auto R) { bprop_col_sums_t<V, T, R()>(a); });
}

template <typename V, typename T>
void bprop_col_dx_k(const LnColArgs& a) {
  with_flag(a.relu, [&](auto R) {
    with_flag(a.dgain || a.dbias, [&](auto P) {
      with_flag(a.stream, [&](auto NT) { bprop_col_dx_t<V, T, R(), P(), NT()>(a); });
    });
  });
}

template <typename V, typename T>
constexpr LnKernelSet kernel_set(const char* isa) {
  return {isa,
          &fprop_row_k<V, T>,
          &bprop_row_k<V, T>,
          &fprop_panel_k<V, T>,
          &bprop_col_sums_k<V, T>,
          &bprop_col_dx_k<V, T>};
}

}  // namespace
}  // namespace bs::ops
