// CPU backend: layer norm forward and backward.
//
// Features last: every (sample, segment) is a contiguous row, normalised by one thread with three
// sweeps over it (mean, variance around the mean, output) while it sits in L1/L2: one read from
// memory and one write. Features first: tasks own blocks of columns and sweep the rows of each
// segment with shifted sums. dgain/dbias: features last sums per-thread partials (a partition fixed
// by the plan's thread count) in thread order; features first sums each feature's row directly.
#include <algorithm>
#include <cmath>

#include "ops/ew_math.hpp"
#include "ops/ops_cpu.hpp"

namespace bs::ops {
namespace {

constexpr int64_t kColBlock = 64;  // columns per task with features first

struct RowGeom {
  int64_t rows, Ks, S, N;
};

template <typename T>
void fprop_rows(const LnConfig& c, const LnFpropArgs& a) {
  const RowGeom g{a.N * c.segments, c.K / c.segments, c.segments, a.N};
  const T* x = static_cast<const T*>(a.x);
  T* y = static_cast<T*>(a.y);
#pragma omp parallel for schedule(static) num_threads(c.num_threads)
  for (int64_t r = 0; r < g.rows; ++r) {
    const T* xr = x + r * g.Ks;
    T* yr = y + r * g.Ks;
    const int64_t goff = (r % g.S) * g.Ks;
    float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
    for (int64_t k = 0; k < g.Ks; ++k) sum += to_float(xr[k]);
    const float mean = sum / static_cast<float>(g.Ks);
    float ss = 0.0f;
#pragma omp simd reduction(+ : ss)
    for (int64_t k = 0; k < g.Ks; ++k) {
      const float d = to_float(xr[k]) - mean;
      ss += d * d;
    }
    const float rstd = 1.0f / std::sqrt(ss / static_cast<float>(g.Ks) + c.epsilon);
    for (int64_t k = 0; k < g.Ks; ++k) {
      float z = (to_float(xr[k]) - mean) * rstd;
      z = z * (a.gain ? a.gain[goff + k] : 1.0f) + (a.bias ? a.bias[goff + k] : 0.0f);
      yr[k] = from_float<T>(c.relu && z < 0.0f ? 0.0f : z);
    }
    if (a.mean) {
      a.mean[ln_stat_index(r, g.S, g.N)] = mean;
      a.rstd[ln_stat_index(r, g.S, g.N)] = rstd;
    }
  }
}

// Upstream gradient after the fused ReLU: dy·[z > 0].
inline float masked_dy(const LnConfig& c, float dy, float xhat, float gain, float bias) {
  return c.relu && !(xhat * gain + bias > 0.0f) ? 0.0f : dy;
}

template <typename T>
void bprop_rows(const LnConfig& c, const LnBpropArgs& a) {
  const RowGeom g{a.N * c.segments, c.K / c.segments, c.segments, a.N};
  const bool params = a.dgain || a.dbias;
  float* partial = static_cast<float*>(a.workspace);  // [thread][2][K]
  const int threads = c.num_threads;
  if (params) std::fill(partial, partial + static_cast<size_t>(threads) * 2 * c.K, 0.0f);
  // One fixed contiguous block of rows per partition (as many partitions as plan threads): the
  // partial sums do not depend on how OpenMP schedules them.
  const int64_t per = (g.rows + threads - 1) / threads;
#pragma omp parallel for schedule(static, 1) num_threads(threads)
  for (int t = 0; t < threads; ++t) {
    float* pg = params ? partial + static_cast<size_t>(t) * 2 * c.K : nullptr;
    float* pb = params ? pg + c.K : nullptr;
    const int64_t r0 = std::min(g.rows, t * per), r1 = std::min(g.rows, r0 + per);
    for (int64_t r = r0; r < r1; ++r) {
      const T* xr = static_cast<const T*>(a.x) + r * g.Ks;
      const T* dyr = static_cast<const T*>(a.dy) + r * g.Ks;
      T* dxr = static_cast<T*>(a.dx) + r * g.Ks;
      const int64_t goff = (r % g.S) * g.Ks;
      const int64_t si = ln_stat_index(r, g.S, g.N);
      const float mean = a.mean[si], rstd = a.rstd[si];
      float su = 0.0f, sux = 0.0f;
      for (int64_t k = 0; k < g.Ks; ++k) {
        const float gain = a.gain ? a.gain[goff + k] : 1.0f;
        const float bias = a.bias ? a.bias[goff + k] : 0.0f;
        const float xhat = (to_float(xr[k]) - mean) * rstd;
        const float dy = masked_dy(c, to_float(dyr[k]), xhat, gain, bias);
        const float u = dy * gain;
        su += u;
        sux += u * xhat;
        if (params) {
          pg[goff + k] += dy * xhat;
          pb[goff + k] += dy;
        }
      }
      const float inv = 1.0f / static_cast<float>(g.Ks);
      su *= inv;
      sux *= inv;
      for (int64_t k = 0; k < g.Ks; ++k) {
        const float gain = a.gain ? a.gain[goff + k] : 1.0f;
        const float bias = a.bias ? a.bias[goff + k] : 0.0f;
        const float xhat = (to_float(xr[k]) - mean) * rstd;
        const float u = masked_dy(c, to_float(dyr[k]), xhat, gain, bias) * gain;
        dxr[k] = from_float<T>(rstd * (u - su - xhat * sux));
      }
    }
  }
  if (!params) return;
#pragma omp parallel for schedule(static) num_threads(threads)
  for (int64_t k = 0; k < c.K; ++k) {
    float sg = 0.0f, sb = 0.0f;
    for (int t = 0; t < threads; ++t) {
      sg += partial[static_cast<size_t>(t) * 2 * c.K + k];
      sb += partial[static_cast<size_t>(t) * 2 * c.K + c.K + k];
    }
    if (a.dgain) a.dgain[k] = sg;
    if (a.dbias) a.dbias[k] = sb;
  }
}

// Features first: segment s is a (Ks, N) block at offset s·Ks·N.
template <typename T>
void fprop_cols(const LnConfig& c, const LnFpropArgs& a) {
  const int64_t S = c.segments, Ks = c.K / S, N = a.N;
  const int64_t blocks = (N + kColBlock - 1) / kColBlock;
#pragma omp parallel for schedule(static) num_threads(c.num_threads)
  for (int64_t task = 0; task < S * blocks; ++task) {
    const int64_t s = task / blocks, n0 = (task % blocks) * kColBlock, n1 = std::min(N, n0 + kColBlock);
    const T* x = static_cast<const T*>(a.x) + s * Ks * N;
    T* y = static_cast<T*>(a.y) + s * Ks * N;
    float shift[kColBlock], s1[kColBlock] = {}, s2[kColBlock] = {}, mean[kColBlock], rstd[kColBlock];
    // Shifted sums (shift = first row) keep E[x²]-E[x]² accurate when |mean| >> std.
    for (int64_t n = n0; n < n1; ++n) shift[n - n0] = to_float(x[n]);
    for (int64_t k = 0; k < Ks; ++k)
      for (int64_t n = n0; n < n1; ++n) {
        const float d = to_float(x[k * N + n]) - shift[n - n0];
        s1[n - n0] += d;
        s2[n - n0] += d * d;
      }
    for (int64_t j = 0; j < n1 - n0; ++j) {
      const float m = s1[j] / static_cast<float>(Ks);
      const float var = std::max(s2[j] / static_cast<float>(Ks) - m * m, 0.0f);
      mean[j] = shift[j] + m;
      rstd[j] = 1.0f / std::sqrt(var + c.epsilon);
      if (a.mean) {
        a.mean[s * N + n0 + j] = mean[j];
        a.rstd[s * N + n0 + j] = rstd[j];
      }
    }
    for (int64_t k = 0; k < Ks; ++k) {
      const float gain = a.gain ? a.gain[s * Ks + k] : 1.0f;
      const float bias = a.bias ? a.bias[s * Ks + k] : 0.0f;
      for (int64_t n = n0; n < n1; ++n) {
        const float z = (to_float(x[k * N + n]) - mean[n - n0]) * rstd[n - n0] * gain + bias;
        y[k * N + n] = from_float<T>(c.relu && z < 0.0f ? 0.0f : z);
      }
    }
  }
}

template <typename T>
void bprop_cols(const LnConfig& c, const LnBpropArgs& a) {
  const int64_t S = c.segments, Ks = c.K / S, N = a.N;
  const int64_t blocks = (N + kColBlock - 1) / kColBlock;
#pragma omp parallel for schedule(static) num_threads(c.num_threads)
  for (int64_t task = 0; task < S * blocks; ++task) {
    const int64_t s = task / blocks, n0 = (task % blocks) * kColBlock, n1 = std::min(N, n0 + kColBlock);
    const int64_t base = s * Ks * N;
    const T* x = static_cast<const T*>(a.x) + base;
    const T* dy = static_cast<const T*>(a.dy) + base;
    T* dx = static_cast<T*>(a.dx) + base;
    float su[kColBlock] = {}, sux[kColBlock] = {};
    for (int pass = 0; pass < 2; ++pass)
      for (int64_t k = 0; k < Ks; ++k) {
        const float gain = a.gain ? a.gain[s * Ks + k] : 1.0f;
        const float bias = a.bias ? a.bias[s * Ks + k] : 0.0f;
        for (int64_t n = n0; n < n1; ++n) {
          const float mean = a.mean[s * N + n], rstd = a.rstd[s * N + n];
          const float xhat = (to_float(x[k * N + n]) - mean) * rstd;
          const float u = masked_dy(c, to_float(dy[k * N + n]), xhat, gain, bias) * gain;
          if (pass == 0) {
            su[n - n0] += u;
            sux[n - n0] += u * xhat;
          } else {
            const float inv = 1.0f / static_cast<float>(Ks);
            dx[k * N + n] = from_float<T>(rstd * (u - su[n - n0] * inv - xhat * sux[n - n0] * inv));
          }
        }
      }
  }
  if (!a.dgain && !a.dbias) return;
  // Each feature is one row of N samples: sum it in order.
#pragma omp parallel for schedule(static) num_threads(c.num_threads)
  for (int64_t kk = 0; kk < c.K; ++kk) {
    const int64_t s = kk / Ks;
    const T* x = static_cast<const T*>(a.x) + kk * N;
    const T* dy = static_cast<const T*>(a.dy) + kk * N;
    const float gain = a.gain ? a.gain[kk] : 1.0f;
    const float bias = a.bias ? a.bias[kk] : 0.0f;
    float sg = 0.0f, sb = 0.0f;
    for (int64_t n = 0; n < N; ++n) {
      const float xhat = (to_float(x[n]) - a.mean[s * N + n]) * a.rstd[s * N + n];
      const float d = masked_dy(c, to_float(dy[n]), xhat, gain, bias);
      sg += d * xhat;
      sb += d;
    }
    if (a.dgain) a.dgain[kk] = sg;
    if (a.dbias) a.dbias[kk] = sb;
  }
}

}  // namespace

size_t CpuOps::layernorm_workspace(const LnConfig& c, int64_t, bool bprop) const {
  // Features last: per-thread dgain/dbias partials.
  return bprop && c.feature_axis == 1 ? static_cast<size_t>(c.num_threads) * 2 * static_cast<size_t>(c.K) * 4 : 0;
}

void CpuOps::layernorm_fprop(const LnConfig& c, const LnFpropArgs& a) const {
  dispatch_dtype(c.dtype, [&](auto tag) {
    using T = decltype(tag);
    if (c.feature_axis == 1)
      fprop_rows<T>(c, a);
    else
      fprop_cols<T>(c, a);
  });
}

void CpuOps::layernorm_bprop(const LnConfig& c, const LnBpropArgs& a) const {
  if (a.N == 0) {
    if (a.dgain) std::fill(a.dgain, a.dgain + c.K, 0.0f);
    if (a.dbias) std::fill(a.dbias, a.dbias + c.K, 0.0f);
    return;
  }
  dispatch_dtype(c.dtype, [&](auto tag) {
    using T = decltype(tag);
    if (c.feature_axis == 1)
      bprop_rows<T>(c, a);
    else
      bprop_cols<T>(c, a);
  });
}

}  // namespace bs::ops
