// CPU backend: layer norm forward and backward, partitioned over threads. The arithmetic is in
// layernorm_kernels_*.cpp (one set per ISA, chosen at run time).
//
// Features last: every (sample, segment) is a contiguous row, normalised by one kernel call in three
// sweeps while it sits in L1/L2: one read from memory and one write. Features first: each task owns
// a chunk of columns of one segment, processed in panels that sweep the segment's rows contiguously
// with per-column statistics (the panel is sized so its second sweep mostly hits the cache).
//
// dgain/dbias: the rows (features last) or columns (features first) are split into at most
// kMaxPartials contiguous parts, a function of the shape only; each part accumulates its own partial
// sums in the workspace in a fixed order and the parts are added in part order. The result is
// bitwise repeatable and independent of the number of threads.
#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "cpu/cpu_isa.hpp"
#include "cpu/layernorm_kernels.hpp"
#include "ops/ew_math.hpp"
#include "ops/ops_cpu.hpp"

namespace bs::ops {

const LnKernelSet& ln_kernels(int32_t dtype) {
  if (cpu::ops_use_avx2())
    if (const LnKernelSet* k = ln_kernels_avx2(dtype)) return *k;
  return ln_kernels_generic(dtype);
}

namespace {

constexpr int64_t kMaxPartials = 64;
constexpr int64_t kMinPanel = 64;
// Bytes of one panel's inputs (rows x columns) that the second sweep should find in the cache.
int64_t panel_bytes() {
  const char* e = std::getenv("BS_LN_PANEL_KB");  // TODO(tuning) remove
  return (e ? std::atoll(e) : 1024) * 1024;
}

// Rows [begin, end) of part p of n items split into `parts`.
int64_t part_begin(int64_t p, int64_t n, int64_t parts) { return p * n / parts; }

struct ColGeom {
  int64_t S, Ks, N, w, panels, parts;
};

// Features first: panel width (a multiple of 8 between kMinPanel and kLnMaxPanel) from the bytes
// of one column of x (and dy), and the parts of the column range.
ColGeom col_geom(const LnConfig& c, int64_t N) {
  ColGeom g{c.segments, c.K / c.segments, N, 0, 0, 0};
  const int64_t col_bytes = g.Ks * static_cast<int64_t>(dtype_bytes(c.dtype)) * 2;
  g.w = std::clamp(panel_bytes() / col_bytes / 8 * 8, kMinPanel, kLnMaxPanel);
  g.panels = (N + g.w - 1) / g.w;
  g.parts = std::min(kMaxPartials, g.panels);
  return g;
}

int64_t row_parts(const LnConfig& c, int64_t N) { return std::min(kMaxPartials, N * c.segments); }

// dgain[k] = Σ_p partial[p][0][k], dbias[k] = Σ_p partial[p][1][k], in part order.
void sum_partials(const LnConfig& c, const float* partial, int64_t parts, float* dgain, float* dbias) {
  constexpr int64_t kStep = 1024;
  const int64_t K = c.K;
#pragma omp parallel for schedule(static) num_threads(c.num_threads)
  for (int64_t k0 = 0; k0 < K; k0 += kStep) {
    const int64_t k1 = std::min(K, k0 + kStep);
    for (int which = 0; which < 2; ++which) {
      float* out = which == 0 ? dgain : dbias;
      if (!out) continue;
      const float* src = partial + which * K;
      std::copy(src + k0, src + k1, out + k0);
      for (int64_t p = 1; p < parts; ++p)
        for (int64_t k = k0; k < k1; ++k) out[k] += src[p * 2 * K + k];
    }
  }
}

void fprop_rows(const LnConfig& c, const LnFpropArgs& a, const LnKernelSet& ks) {
  const int64_t S = c.segments, Ks = c.K / S, rows = a.N * S;
  const size_t e = dtype_bytes(c.dtype);
#pragma omp parallel for schedule(static) num_threads(c.num_threads)
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t goff = (r % S) * Ks;
    LnRowArgs ra;
    ra.x = static_cast<const char*>(a.x) + r * Ks * e;
    ra.out = static_cast<char*>(a.y) + r * Ks * e;
    ra.gain = a.gain ? a.gain + goff : nullptr;
    ra.bias = a.bias ? a.bias + goff : nullptr;
    ra.n = Ks;
    ra.relu = c.relu != 0;
    ra.epsilon = c.epsilon;
    ks.fprop_row(ra);
    if (a.mean) {
      a.mean[ln_stat_index(r, S, a.N)] = ra.mean;
      a.rstd[ln_stat_index(r, S, a.N)] = ra.rstd;
    }
  }
}

void bprop_rows(const LnConfig& c, const LnBpropArgs& a, const LnKernelSet& ks) {
  const int64_t S = c.segments, Ks = c.K / S, rows = a.N * S, K = c.K;
  const size_t e = dtype_bytes(c.dtype);
  const bool params = a.dgain || a.dbias;
  const int64_t parts = row_parts(c, a.N);
  float* partial = static_cast<float*>(a.workspace);  // [part][2][K]
#pragma omp parallel for schedule(static) num_threads(c.num_threads)
  for (int64_t p = 0; p < parts; ++p) {
    float* pg = params ? partial + p * 2 * K : nullptr;
    if (params) std::fill(pg, pg + 2 * K, 0.0f);
    for (int64_t r = part_begin(p, rows, parts); r < part_begin(p + 1, rows, parts); ++r) {
      const int64_t goff = (r % S) * Ks, si = ln_stat_index(r, S, a.N);
      LnRowArgs ra;
      ra.x = static_cast<const char*>(a.x) + r * Ks * e;
      ra.dy = static_cast<const char*>(a.dy) + r * Ks * e;
      ra.out = static_cast<char*>(a.dx) + r * Ks * e;
      ra.gain = a.gain ? a.gain + goff : nullptr;
      ra.bias = a.bias ? a.bias + goff : nullptr;
      ra.pg = params ? pg + goff : nullptr;
      ra.pb = params ? pg + K + goff : nullptr;
      ra.n = Ks;
      ra.relu = c.relu != 0;
      ra.mean = a.mean[si];
      ra.rstd = a.rstd[si];
      ks.bprop_row(ra);
    }
  }
  if (params) sum_partials(c, partial, parts, a.dgain, a.dbias);
}

// Features first: segment s is a (Ks, N) block at offset s·Ks·N; task = (segment, part).
void fprop_cols(const LnConfig& c, const LnFpropArgs& a, const LnKernelSet& ks) {
  const ColGeom g = col_geom(c, a.N);
  const size_t e = dtype_bytes(c.dtype);
#pragma omp parallel for schedule(static) num_threads(c.num_threads)
  for (int64_t task = 0; task < g.S * g.parts; ++task) {
    const int64_t s = task / g.parts, p = task % g.parts;
    LnPanelArgs pa;
    pa.x = static_cast<const char*>(a.x) + s * g.Ks * g.N * e;
    pa.out = static_cast<char*>(a.y) + s * g.Ks * g.N * e;
    pa.ld = g.N;
    pa.rows = g.Ks;
    pa.gain = a.gain ? a.gain + s * g.Ks : nullptr;
    pa.bias = a.bias ? a.bias + s * g.Ks : nullptr;
    pa.mean_out = a.mean ? a.mean + s * g.N : nullptr;
    pa.rstd_out = a.rstd ? a.rstd + s * g.N : nullptr;
    pa.relu = c.relu != 0;
    pa.epsilon = c.epsilon;
    for (int64_t q = part_begin(p, g.panels, g.parts); q < part_begin(p + 1, g.panels, g.parts); ++q) {
      pa.n0 = q * g.w;
      pa.n1 = std::min(g.N, pa.n0 + g.w);
      ks.fprop_panel(pa);
    }
  }
}

void bprop_cols(const LnConfig& c, const LnBpropArgs& a, const LnKernelSet& ks) {
  const ColGeom g = col_geom(c, a.N);
  const size_t e = dtype_bytes(c.dtype);
  const int64_t K = c.K;
  const bool params = a.dgain || a.dbias;
  float* partial = static_cast<float*>(a.workspace);  // [part][2][K]
#pragma omp parallel for schedule(static) num_threads(c.num_threads)
  for (int64_t task = 0; task < g.S * g.parts; ++task) {
    const int64_t s = task / g.parts, p = task % g.parts;
    const size_t base = static_cast<size_t>(s * g.Ks * g.N) * e;
    LnPanelArgs pa;
    pa.x = static_cast<const char*>(a.x) + base;
    pa.dy = static_cast<const char*>(a.dy) + base;
    pa.out = static_cast<char*>(a.dx) + base;
    pa.ld = g.N;
    pa.rows = g.Ks;
    pa.gain = a.gain ? a.gain + s * g.Ks : nullptr;
    pa.bias = a.bias ? a.bias + s * g.Ks : nullptr;
    pa.mean = a.mean + s * g.N;
    pa.rstd = a.rstd + s * g.N;
    pa.relu = c.relu != 0;
    if (params) {
      pa.pg = partial + p * 2 * K + s * g.Ks;
      pa.pb = pa.pg + K;
      std::fill(pa.pg, pa.pg + g.Ks, 0.0f);
      std::fill(pa.pb, pa.pb + g.Ks, 0.0f);
    }
    for (int64_t q = part_begin(p, g.panels, g.parts); q < part_begin(p + 1, g.panels, g.parts); ++q) {
      pa.n0 = q * g.w;
      pa.n1 = std::min(g.N, pa.n0 + g.w);
      ks.bprop_panel(pa);
    }
  }
  if (params) sum_partials(c, partial, g.parts, a.dgain, a.dbias);
}

}  // namespace

size_t CpuOps::layernorm_workspace(const LnConfig& c, int64_t N, bool bprop) const {
  if (!bprop || N == 0) return 0;
  const int64_t parts = c.feature_axis == 1 ? row_parts(c, N) : col_geom(c, N).parts;
  return static_cast<size_t>(parts) * 2 * static_cast<size_t>(c.K) * sizeof(float);
}

void CpuOps::layernorm_fprop(const LnConfig& c, const LnFpropArgs& a) const {
  const LnKernelSet& ks = ln_kernels(c.dtype);
  if (c.feature_axis == 1)
    fprop_rows(c, a, ks);
  else
    fprop_cols(c, a, ks);
}

void CpuOps::layernorm_bprop(const LnConfig& c, const LnBpropArgs& a) const {
  if (a.N == 0) {
    if (a.dgain) std::fill(a.dgain, a.dgain + c.K, 0.0f);
    if (a.dbias) std::fill(a.dbias, a.dbias + c.K, 0.0f);
    return;
  }
  const LnKernelSet& ks = ln_kernels(c.dtype);
  if (c.feature_axis == 1)
    bprop_rows(c, a, ks);
  else
    bprop_cols(c, a, ks);
}

}  // namespace bs::ops
