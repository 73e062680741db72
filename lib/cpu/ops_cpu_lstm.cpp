// CPU backend: LSTM gates, split4/concat4, sparse projections.
#include <algorithm>

#include "ops/ew_math.hpp"
#include "ops/ops_cpu.hpp"

namespace bs::ops {
namespace {

template <typename T>
void lstm_fprop_typed(const LstmArgs& a) {
  const int64_t K = a.K;
#pragma omp parallel for schedule(static)
  for (int64_t n = 0; n < a.N; ++n) {
    for (int64_t k = 0; k < K; ++k) {
      float g[4];
      for (int j = 0; j < 4; ++j) g[j] = ld<T>(a.h, n * 4 * K + j * K + k) + (a.bias ? a.bias[j * K + k] : 0.0f);
      float cn, hn;
      lstm_fwd(ld<T>(a.c, n * K + k), g[0], g[1], g[2] + a.forget_bias, g[3], cn, hn);
      st<T>(a.c_next, n * K + k, cn);
      st<T>(a.h_next, n * K + k, hn);
    }
  }
}

template <typename T>
void lstm_bprop_typed(const LstmArgs& a) {
  const int64_t K = a.K;
#pragma omp parallel for schedule(static)
  for (int64_t n = 0; n < a.N; ++n) {
    for (int64_t k = 0; k < K; ++k) {
      float g[4], d[4], dc;
      for (int j = 0; j < 4; ++j) g[j] = ld<T>(a.h, n * 4 * K + j * K + k) + (a.bias ? a.bias[j * K + k] : 0.0f);
      lstm_bwd(ld<T>(a.c, n * K + k), g[0], g[1], g[2] + a.forget_bias, g[3],
               a.dc_next ? ld<T>(a.dc_next, n * K + k) : 0.0f, a.dh_next ? ld<T>(a.dh_next, n * K + k) : 0.0f, dc,
               d[0], d[1], d[2], d[3]);
      st<T>(a.dc, n * K + k, dc);
      for (int j = 0; j < 4; ++j) st<T>(a.dh, n * 4 * K + j * K + k, d[j]);
    }
  }
  if (!a.dbias) return;
  // dbias[j] = Σ_n dh[n, j] of the rounded dh, summed in row order per column.
#pragma omp parallel for schedule(static)
  for (int64_t j = 0; j < 4 * K; ++j) {
    float s = 0.0f;
    for (int64_t n = 0; n < a.N; ++n) s += ld<T>(a.dh, n * 4 * K + j);
    a.dbias[j] = s;
  }
}

}  // namespace

void CpuOps::lstm_fprop(const LstmArgs& a) const {
  dispatch_dtype(a.dtype, [&](auto tag) { lstm_fprop_typed<decltype(tag)>(a); });
}

void CpuOps::lstm_bprop(const LstmArgs& a) const {
  dispatch_dtype(a.dtype, [&](auto tag) { lstm_bprop_typed<decltype(tag)>(a); });
}

void CpuOps::split4(const Split4Args& a) const {
  const size_t row = static_cast<size_t>(a.K) * dtype_bytes(a.dtype);
#pragma omp parallel for schedule(static)
  for (int64_t n = 0; n < a.N; ++n)
    for (int g = 0; g < 4; ++g) {
      const size_t whole = (static_cast<size_t>(n) * 4 + static_cast<size_t>(g)) * row;
      const size_t part = static_cast<size_t>(n) * row;
      if (a.concat)
        std::memcpy(static_cast<char*>(a.dst_whole) + whole, static_cast<const char*>(a.src_parts[g]) + part, row);
      else
        std::memcpy(static_cast<char*>(a.parts[g]) + part, static_cast<const char*>(a.src_whole) + whole, row);
    }
}

namespace {

template <typename T>
void proj_typed(const ProjArgs& a) {
  const int64_t F = a.out_features, N = a.N;
  const bool rows = a.feature_axis == 0;
  // Element (feature f, sample n) of a tensor with `features` features.
  auto at = [&](int64_t f, int64_t n, int64_t features) { return rows ? f * N + n : n * features + f; };
#pragma omp parallel for schedule(static)
  for (int64_t f = 0; f < F; ++f) {
    const int64_t m = a.map ? a.map[f] : -1;
    for (int64_t n = 0; n < N; ++n) {
      float v;
      switch (a.mode) {
        case ProjMode::kCopy: v = m >= 0 ? ld<T>(a.b, at(m, n, a.in_features)) : 0.0f; break;
        case ProjMode::kAdd:
          v = ld<T>(a.a, at(f, n, F)) + (m >= 0 ? ld<T>(a.b, at(m, n, a.in_features)) : 0.0f);
          break;
        case ProjMode::kMul:
          v = ld<T>(a.a, at(f, n, F)) * (m >= 0 ? ld<T>(a.b, at(m, n, a.in_features)) : 1.0f);
          break;
        default: v = ld<T>(a.a, at(m, n, a.in_features)) * ld<T>(a.b, at(m, n, a.in_features)); break;
      }
      st<T>(a.out, at(f, n, F), v);
    }
  }
}

}  // namespace

void CpuOps::sparse_proj(const ProjArgs& a) const {
  dispatch_dtype(a.dtype, [&](auto tag) { proj_typed<decltype(tag)>(a); });
}

}  // namespace bs::ops
