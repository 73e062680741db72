// The layer-norm kernels, written once over a lane type: `V` (a vector of V::kLanes floats, defined
// by the including file for its ISA) for the full vectors of a loop and `float` for its tail. The
// includer defines, for V: zero(V), splat(V, float), ld(V, const T*), st(T*, V) for T = float,
// bf16_t, half_t, the operators + - *, madd(a, b, c) = a·b + c, relu(z) = (z < 0 ? 0 : z),
// keep_pos(v, z) = (z > 0 ? v : 0) and hsum(V) (a fixed-order lane sum). Everything here has
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
inline float madd(float a, float b, float c) { return a * b + c; }
inline float relu(float z) { return z < 0.0f ? 0.0f : z; }
inline float keep_pos(float v, float z) { return z > 0.0f ? v : 0.0f; }
inline float hsum(float v) { return v; }

template <typename L>
constexpr int64_t lanes() {
  if constexpr (std::is_same_v<L, float>)
    return 1;
  else
    return L::kLanes;
}

// f(L{}, i) for i in [0, n): full vectors, then the scalar tail.
template <typename V, typename F>
inline void sweep(int64_t n, F&& f) {
  int64_t i = 0;
  for (; i + V::kLanes <= n; i += V::kLanes) f(V{}, i);
  for (; i < n; ++i) f(0.0f, i);
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
  for (int q = 0; i + W <= n; i += W, ++q) f(V{}, i, acc[q]);
  for (; i < n; ++i) f(0.0f, i, s);
  std::array<float, M> r;
  for (int j = 0; j < M; ++j) {
    V t = acc[0][j];
    for (int q = 1; q < Sets; ++q) t = t + acc[q][j];
    r[j] = hsum(t) + s[j];
  }
  return r;
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

template <typename V, typename T, bool G, bool B, bool R>
void fprop_row_t(LnRowArgs& a) {
  const T* x = static_cast<const T*>(a.x);
  T* y = static_cast<T*>(a.out);
  const int64_t n = a.n;
  const float inv = 1.0f / static_cast<float>(n);
  const float mean = reduce<1, V>(n, [&](auto t, int64_t i, auto* acc) { acc[0] = acc[0] + ld(t, x + i); })[0] * inv;
  const float ss = reduce<1, V>(n, [&](auto t, int64_t i, auto* acc) {
    const auto d = ld(t, x + i) - splat(t, mean);
    acc[0] = madd(d, d, acc[0]);
  })[0];
  const float rstd = 1.0f / std::sqrt(ss * inv + a.epsilon);
  sweep<V>(n, [&](auto t, int64_t i) {
    auto z = affine<G, B>((ld(t, x + i) - splat(t, mean)) * splat(t, rstd), a.gain, a.bias, i);
    if constexpr (R) z = relu(z);
    st(y + i, z);
  });
  a.mean[0] = mean;
  a.rstd[0] = rstd;
}

// dx = rstd·(u - mean(u) - xhat·mean(u·xhat)), u = gain·dy·[z > 0], for NR rows of one segment:
// the first sweep reads and writes the dgain/dbias partials once for all NR rows (in row order, so
// the partials are the same bits as row by row). Two accumulator sets per row sum, for every NR, so
// a row's dx does not depend on how the rows were grouped.
template <typename V, typename T, bool G, bool B, bool R, bool P, int NR>
void bprop_row_t(LnRowArgs& a) {
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
    sweep<V>(n, [&](auto t, int64_t i) {
      decltype(t) xhat;
      const auto u = gained(t, grad(t, r, i, xhat), i);
      st(dx + r * stride + i, splat(t, rstd) * (u - splat(t, mu) - xhat * splat(t, mux)));
    });
  }
}

// ---- features first: a panel of columns, swept row by row (contiguous), statistics per column ----
//
// Each sweep takes kRowBlock rows at once, so the per-column statistics are loaded and stored once
// per block rather than once per row (with panels of thousands of columns they live in L2).

constexpr int kRowBlock = 4;

// f(k, RB) for the blocks of rows: RB = kRowBlock rows from row k while that many remain, then 1.
template <typename F>
inline void row_blocks(int64_t rows, F&& f) {
  int64_t k = 0;
  for (; k + kRowBlock <= rows; k += kRowBlock) f(k, std::integral_constant<int, kRowBlock>{});
  for (; k < rows; ++k) f(k, std::integral_constant<int, 1>{});
}

template <typename V, typename T, bool R>
void fprop_panel_t(const LnPanelArgs& a) {
  const int64_t w = a.n1 - a.n0, rows = a.rows, ldx = a.ld;
  const T* x = static_cast<const T*>(a.x) + a.n0;
  T* y = static_cast<T*>(a.out) + a.n0;
  // Sums of x - x[row 0] (shifted: accurate when |mean| >> std), then mean and rstd in place.
  alignas(64) float shift[kLnMaxPanel], s1[kLnMaxPanel], s2[kLnMaxPanel];
  sweep<V>(w, [&](auto t, int64_t j) {
    st(shift + j, ld(t, x + j));
    st(s1 + j, zero(t));
    st(s2 + j, zero(t));
  });
  row_blocks(rows, [&](int64_t k, auto rb) {
    const T* xr = x + k * ldx;
    sweep<V>(w, [&](auto t, int64_t j) {
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
    std::copy(s1, s1 + w, a.mean_out + a.n0);
    std::copy(s2, s2 + w, a.rstd_out + a.n0);
  }
  row_blocks(rows, [&](int64_t k, auto rb) {
    float g[rb()], b[rb()];
    for (int r = 0; r < rb(); ++r) g[r] = a.gain ? a.gain[k + r] : 1.0f, b[r] = a.bias ? a.bias[k + r] : 0.0f;
    sweep<V>(w, [&](auto t, int64_t j) {
      const auto m = ld(t, s1 + j), rs = ld(t, s2 + j);
      for (int r = 0; r < rb(); ++r) {
        auto z = madd((ld(t, x + (k + r) * ldx + j) - m) * rs, splat(t, g[r]), splat(t, b[r]));
        if constexpr (R) z = relu(z);
        st(y + (k + r) * ldx + j, z);
      }
    });
  });
}

template <typename V, typename T, bool R, bool P>
void bprop_panel_t(const LnPanelArgs& a) {
  const int64_t w = a.n1 - a.n0, rows = a.rows, ldx = a.ld;
  const T* x = static_cast<const T*>(a.x) + a.n0;
  const T* dy = static_cast<const T*>(a.dy) + a.n0;
  T* dx = static_cast<T*>(a.out) + a.n0;
  const float* mean = a.mean + a.n0;
  const float* rstd = a.rstd + a.n0;
  alignas(64) float su[kLnMaxPanel], sux[kLnMaxPanel];
  sweep<V>(w, [&](auto t, int64_t j) {
    st(su + j, zero(t));
    st(sux + j, zero(t));
  });
  // xhat and the masked dy at offset o (row·ld + column) for column statistics m, rs.
  auto grad = [&](auto t, int64_t o, auto m, auto rs, float g, float b, auto& xhat) {
    xhat = (ld(t, x + o) - m) * rs;
    auto d = ld(t, dy + o);
    if constexpr (R) d = keep_pos(d, madd(xhat, splat(t, g), splat(t, b)));
    return d;
  };
  auto params = [&](int64_t k, auto rb, float* g, float* b) {
    for (int r = 0; r < rb(); ++r) g[r] = a.gain ? a.gain[k + r] : 1.0f, b[r] = a.bias ? a.bias[k + r] : 0.0f;
  };
  // First pass: su = Σ u and sux = Σ u·(x - mean) per column, u = gain·dy·[z > 0]. The factor rstd
  // of xhat is applied once per column afterwards instead of once per element (without ReLU the
  // mask needs no xhat either).
  row_blocks(rows, [&](int64_t k, auto rb) {
    float g[rb()], b[rb()];
    params(k, rb, g, b);
    sweep<V>(w, [&](auto t, int64_t j) {
      const auto m = ld(t, mean + j);
      auto a1 = ld(t, su + j), a2 = ld(t, sux + j);
      for (int r = 0; r < rb(); ++r) {
        const int64_t o = (k + r) * ldx + j;
        const auto xc = ld(t, x + o) - m;
        auto d = ld(t, dy + o);
        if constexpr (R) d = keep_pos(d, madd(xc * ld(t, rstd + j), splat(t, g[r]), splat(t, b[r])));
        const auto u = d * splat(t, g[r]);
        a1 = a1 + u;
        a2 = madd(u, xc, a2);
      }
      st(su + j, a1);
      st(sux + j, a2);
    });
  });
  // dx = rstd·(u - mean(u) - xhat·mean(u·xhat)) = (dy·gain)·rstd + (xhat·c1 + c0) with per-column
  // c1 = -rstd·mean(u·xhat) and c0 = -rstd·mean(u), kept in su (c0) and sux (c1).
  const float inv = 1.0f / static_cast<float>(rows);
  for (int64_t j = 0; j < w; ++j) {
    const float mu = su[j] * inv, mux = sux[j] * inv * rstd[j];
    su[j] = -rstd[j] * mu;
    sux[j] = -rstd[j] * mux;
  }
  const int64_t piece = P ? a.part_w : w;
  row_blocks(rows, [&](int64_t k, auto rb) {
    float g[rb()], b[rb()];
    params(k, rb, g, b);
    for (int64_t j0 = 0, q = 0; j0 < w; j0 += piece, ++q) {
      // Per row of the block: Σ dy·xhat and Σ dy over the piece (one accumulator set: the rows of
      // the block are independent chains already).
      const auto s = reduce<2 * rb(), V, 1>(std::min(piece, w - j0), [&](auto t, int64_t jj, auto* acc) {
        const int64_t j = j0 + jj;
        const auto m = ld(t, mean + j), rs = ld(t, rstd + j), c0 = ld(t, su + j), c1 = ld(t, sux + j);
        for (int r = 0; r < rb(); ++r) {
          decltype(t) xhat;
          const int64_t o = (k + r) * ldx + j;
          const auto d = grad(t, o, m, rs, g[r], b[r], xhat);
          st(dx + o, madd(d * splat(t, g[r]), rs, madd(xhat, c1, c0)));
          if constexpr (P) {
            acc[2 * r] = madd(d, xhat, acc[2 * r]);
            acc[2 * r + 1] = acc[2 * r + 1] + d;
          }
        }
      });
      if constexpr (P)
        for (int r = 0; r < rb(); ++r) {
          a.pg[q * a.part_stride + k + r] += s[2 * r];
          a.pb[q * a.part_stride + k + r] += s[2 * r + 1];
        }
    }
  });
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
      with_flag(a.relu, [&](auto R) { fprop_row_t<V, T, G(), B(), R()>(a); });
    });
  });
}

template <typename V, typename T>
void bprop_row_k(LnRowArgs& a) {
  with_flag(a.gain, [&](auto G) {
    with_flag(a.bias, [&](auto B) {
      with_flag(a.relu, [&](auto R) {
        with_flag(a.pg, [&](auto P) {
          if (a.rows == 2)
            bprop_row_t<V, T, G(), B(), R(), P(), 2>(a);
          else
            bprop_row_t<V, T, G(), B(), R(), P(), 1>(a);
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
void bprop_panel_k(const LnPanelArgs& a) {
  with_flag(a.relu, [&](auto R) {
    with_flag(a.pg, [&](auto P) { bprop_panel_t<V, T, R(), P()>(a); });
  });
}

template <typename V, typename T>
constexpr LnKernelSet kernel_set(const char* isa) {
  return {isa, &fprop_row_k<V, T>, &bprop_row_k<V, T>, &fprop_panel_k<V, T>, &bprop_panel_k<V, T>};
}

}  // namespace
}  // namespace bs::ops
