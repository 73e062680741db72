// CPU backend: layer norm forward and backward, partitioned over threads. The arithmetic is in
// layernorm_kernels_*.cpp (one set per ISA, chosen at run time).
//
// Features last: every (sample, segment) is a contiguous row, normalised by one kernel call in three
// sweeps while it sits in L1/L2: one read from memory and one write. Features first: each task owns
// a range of columns of one segment and sweeps the segment's rows over it with per-column
// statistics: two passes over x (and dy) from memory, in long contiguous rows. (Panels narrow
// enough for the second pass to hit L2 would be 16-32 columns at K = 4096: short strided rows
// that measured 2-3x slower than the wide sweeps.)
//
// dgain/dbias: the rows (features last) or columns (features first) are split into at most
// kMaxPartials contiguous parts, a function of the shape only; each part accumulates its own partial
// sums in the workspace in a fixed order and the parts are added in part order. The result is
// bitwise repeatable and independent of the number of threads.
#include <algorithm>
#include <cmath>

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
constexpr int64_t kMinPart = 64;  // columns of a part with features first

// Item range [begin, end) of part p when n items are split into `parts`.
int64_t part_begin(int64_t p, int64_t n, int64_t parts) { return p * n / parts; }

// Features first: the columns split into `parts` parts of part_w columns (the last one shorter): the
// dgain/dbias partition, a function of N only. A task sweeps `group` consecutive parts of one
// segment at once (at most kLnMaxPanel columns: long contiguous rows for the prefetchers); the
// grouping depends on the thread count, the results do not.
struct ColGeom {
  int64_t S, Ks, N, part_w, parts, group, groups;
};

ColGeom col_geom(const LnConfig& c, int64_t N) {
  ColGeom g{c.segments, c.K / c.segments, N, 0, 0, 0, 0};
  g.part_w = std::max(kMinPart, ((N + kMaxPartials - 1) / kMaxPartials + 7) / 8 * 8);
  g.parts = (N + g.part_w - 1) / g.part_w;
  const int64_t per_segment = (c.num_threads + g.S - 1) / g.S;  // tasks wanted per segment
  g.group = std::max<int64_t>(1, std::min(kLnMaxPanel / g.part_w, (g.parts + per_segment - 1) / per_segment));
  g.groups = (g.parts + g.group - 1) / g.group;
  return g;
}

// Calls f(n0, n1, part) for the panels of group `group`: columns [n0, n1), part = the part of n0.
template <typename F>
void for_panels(const ColGeom& g, int64_t group, F&& f) {
  const int64_t p0 = group * g.group, p1 = std::min(g.parts, p0 + g.group);
  const int64_t c0 = p0 * g.part_w, c1 = std::min(g.N, p1 * g.part_w);
  // A part wider than a panel is swept in panels from its start (the same cuts for any grouping).
  const int64_t width = g.part_w <= kLnMaxPanel ? c1 - c0 : kLnMaxPanel;
  for (int64_t n0 = c0; n0 < c1; n0 += width) f(n0, std::min(c1, n0 + width), n0 / g.part_w);
}

// Features last: parts of at least kMinPartRows rows (fewer partials to clear and add for small N).
constexpr int64_t kMinPartRows = 8;
int64_t row_parts(const LnConfig& c, int64_t N) {
  return std::min(kMaxPartials, (N * c.segments + kMinPartRows - 1) / kMinPartRows);
}

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
      a.mean[ln_stat_index(r, S, a.N)] = ra.mean[0];
      a.rstd[ln_stat_index(r, S, a.N)] = ra.rstd[0];
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
    // With partials and one segment, consecutive rows go in pairs (one partial update per pair).
    const int64_t r1 = part_begin(p + 1, rows, parts);
    for (int64_t r = part_begin(p, rows, parts); r < r1;) {
      const int nr = params && S == 1 && r + 1 < r1 ? kLnBpropRows : 1;
      const int64_t goff = (r % S) * Ks;
      LnRowArgs ra;
      ra.x = static_cast<const char*>(a.x) + r * Ks * e;
      ra.dy = static_cast<const char*>(a.dy) + r * Ks * e;
      ra.out = static_cast<char*>(a.dx) + r * Ks * e;
      ra.gain = a.gain ? a.gain + goff : nullptr;
      ra.bias = a.bias ? a.bias + goff : nullptr;
      ra.pg = params ? pg + goff : nullptr;
      ra.pb = params ? pg + K + goff : nullptr;
      ra.n = Ks;
      ra.rows = nr;
      ra.stride = Ks;
      ra.relu = c.relu != 0;
      for (int i = 0; i < nr; ++i) {
        ra.mean[i] = a.mean[ln_stat_index(r + i, S, a.N)];
        ra.rstd[i] = a.rstd[ln_stat_index(r + i, S, a.N)];
      }
      ks.bprop_row(ra);
      r += nr;
    }
  }
  if (params) sum_partials(c, partial, parts, a.dgain, a.dbias);
}

// Features first: segment s is a (Ks, N) block at offset s·Ks·N; task = (segment, group of parts).
void fprop_cols(const LnConfig& c, const LnFpropArgs& a, const LnKernelSet& ks) {
  const ColGeom g = col_geom(c, a.N);
  const size_t e = dtype_bytes(c.dtype);
#pragma omp parallel for schedule(static) num_threads(c.num_threads)
  for (int64_t task = 0; task < g.S * g.groups; ++task) {
    const int64_t s = task / g.groups;
    LnPanelArgs pa;
    pa.x = static_cast<const char*>(a.x) + static_cast<size_t>(s * g.Ks * g.N) * e;
    pa.out = static_cast<char*>(a.y) + static_cast<size_t>(s * g.Ks * g.N) * e;
    pa.ld = g.N;
    pa.rows = g.Ks;
    pa.gain = a.gain ? a.gain + s * g.Ks : nullptr;
    pa.bias = a.bias ? a.bias + s * g.Ks : nullptr;
    pa.mean_out = a.mean ? a.mean + s * g.N : nullptr;
    pa.rstd_out = a.rstd ? a.rstd + s * g.N : nullptr;
    pa.relu = c.relu != 0;
    pa.epsilon = c.epsilon;
    for_panels(g, task % g.groups, [&](int64_t n0, int64_t n1, int64_t) {
      pa.n0 = n0;
      pa.n1 = n1;
      ks.fprop_panel(pa);
    });
  }
}

void bprop_cols(const LnConfig& c, const LnBpropArgs& a, const LnKernelSet& ks) {
  const ColGeom g = col_geom(c, a.N);
  const size_t e = dtype_bytes(c.dtype);
  const int64_t K = c.K;
  const bool params = a.dgain || a.dbias;
  float* partial = static_cast<float*>(a.workspace);  // [part][2][K]
#pragma omp parallel for schedule(static) num_threads(c.num_threads)
  for (int64_t task = 0; task < g.S * g.groups; ++task) {
    const int64_t s = task / g.groups;
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
    pa.part_w = g.part_w;
    pa.part_stride = 2 * K;
    if (params) {
      const int64_t p0 = (task % g.groups) * g.group, p1 = std::min(g.parts, p0 + g.group);
      for (int64_t p = p0; p < p1; ++p) {
        std::fill_n(partial + p * 2 * K + s * g.Ks, g.Ks, 0.0f);
        std::fill_n(partial + p * 2 * K + K + s * g.Ks, g.Ks, 0.0f);
      }
    }
    for_panels(g, task % g.groups, [&](int64_t n0, int64_t n1, int64_t part) {
      pa.n0 = n0;
      pa.n1 = n1;
      if (params) {
        pa.pg = partial + part * 2 * K + s * g.Ks;
        pa.pb = pa.pg + K;
      }
      ks.bprop_panel(pa);
    });
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
