// CPU backend: layer norm forward and backward, partitioned over threads. The arithmetic is in
// layernorm_kernels_*.cpp (one set per ISA, chosen at run time).
//
// Features last: every (sample, segment) is a contiguous row, normalised by one kernel call in three
// sweeps while it sits in L1/L2: one read from memory and one write. Features first: statistics per
// column, so two passes over x (and dy) from memory, in long contiguous rows. The forward's tasks own
// column ranges of a segment; the backward's own whole rows (column sums per row chunk, added in
// chunk order). (Panels narrow enough for the second pass to hit L2 would be 16-32 columns at
// K = 4096: short strided rows that measured 2-3x slower than the wide sweeps.)
//
// Reductions across tasks (features last dgain/dbias, features first backward column sums) go
// through a partition that is a function of the shape only: each part accumulates its own partial
// sums in the workspace in a fixed order and the parts are added in part order. The results are
// bitwise repeatable and independent of the number of threads.
#include <algorithm>
#include <cmath>

#include "core/checks.hpp"
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

// Item range [begin, end) of part p when n items are split into `parts`.
int64_t part_begin(int64_t p, int64_t n, int64_t parts) { return p * n / parts; }

// Features first forward: task = (segment, panel of at most kLnMaxPanel columns: long contiguous
// row pieces for the prefetchers). Each column's statistics come from one panel, so the cuts do not
// change the results.
struct ColPanels {
  int64_t S, Ks, N, width, panels;
};

ColPanels col_panels(const LnConfig& c, int64_t N) {
  const int64_t per_segment = (c.num_threads + c.segments - 1) / c.segments;  // tasks wanted per segment
  const int64_t width = std::min(kLnMaxPanel, std::max<int64_t>(64, ((N + per_segment - 1) / per_segment + 7) / 8 * 8));
  return {c.segments, c.K / c.segments, N, width, (N + width - 1) / width};
}

// Features first backward: each segment's Ks rows are cut into `per_segment` chunks of at least
// kMinChunkRows rows (at most kMaxRowChunks), a function of the shape only. A chunk's column sums go
// to its own slot of the workspace ([chunk][2][N] floats) and the slots of a segment are added in
// chunk order: bitwise the same sums for any thread count.
constexpr int64_t kMinChunkRows = 64, kMaxRowChunks = 16;
struct RowChunks {
  int64_t S, Ks, per_segment;
  int64_t count() const { return S * per_segment; }
  int64_t k0(int64_t chunk) const { return part_begin(chunk % per_segment, Ks, per_segment); }
  int64_t k1(int64_t chunk) const { return part_begin(chunk % per_segment + 1, Ks, per_segment); }
};

RowChunks row_chunks(const LnConfig& c) {
  const int64_t Ks = c.K / c.segments;
  return {c.segments, Ks, std::min(kMaxRowChunks, (Ks + kMinChunkRows - 1) / kMinChunkRows)};
}

// Non-temporal stores for an output of `rows` rows of n elements: only where it is larger than a
// last-level cache (it would be evicted before it is read again: streaming saves the read of every
// line before its write) and every row starts 16-byte aligned (the vector stores are 16-byte
// aligned pieces).
constexpr size_t kStreamBytes = size_t{32} << 20;
bool stream_out(const void* out, int64_t rows, int64_t n, size_t e) {
  return static_cast<size_t>(rows * n) * e >= kStreamBytes && reinterpret_cast<uintptr_t>(out) % 16 == 0 &&
         (static_cast<size_t>(n) * e) % 16 == 0;
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
  const bool stream = stream_out(a.y, rows, Ks, e);
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
    ra.stream = stream;
    ra.epsilon = c.epsilon;
    if (r + 1 < rows) {  // with static scheduling, this thread's next row but at its range's end
      ra.next_x = static_cast<const char*>(ra.x) + Ks * e;
      ra.next_rows = 1;
    }
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
  const bool stream = stream_out(a.dx, rows, Ks, e);
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
      ra.stream = stream;
      for (int i = 0; i < nr; ++i) {
        ra.mean[i] = a.mean[ln_stat_index(r + i, S, a.N)];
        ra.rstd[i] = a.rstd[ln_stat_index(r + i, S, a.N)];
      }
      ra.next_x = static_cast<const char*>(ra.x) + nr * Ks * e;
      ra.next_dy = static_cast<const char*>(ra.dy) + nr * Ks * e;
      ra.next_rows = static_cast<int>(std::min<int64_t>(nr, r1 - r - nr));
      ks.bprop_row(ra);
      r += nr;
    }
  }
  if (params) sum_partials(c, partial, parts, a.dgain, a.dbias);
}

// Features first: segment s is a (Ks, N) block at offset s·Ks·N.
void fprop_cols(const LnConfig& c, const LnFpropArgs& a, const LnKernelSet& ks) {
  const ColPanels g = col_panels(c, a.N);
  const size_t e = dtype_bytes(c.dtype);
#pragma omp parallel for schedule(static) num_threads(c.num_threads)
  for (int64_t task = 0; task < g.S * g.panels; ++task) {
    const int64_t s = task / g.panels, n0 = (task % g.panels) * g.width;
    LnPanelArgs pa;
    pa.x = static_cast<const char*>(a.x) + static_cast<size_t>(s * g.Ks * g.N) * e;
    pa.out = static_cast<char*>(a.y) + static_cast<size_t>(s * g.Ks * g.N) * e;
    pa.ld = g.N;
    pa.rows = g.Ks;
    pa.n0 = n0;
    pa.n1 = std::min(g.N, n0 + g.width);
    pa.gain = a.gain ? a.gain + s * g.Ks : nullptr;
    pa.bias = a.bias ? a.bias + s * g.Ks : nullptr;
    pa.mean_out = a.mean ? a.mean + s * g.N : nullptr;
    pa.rstd_out = a.rstd ? a.rstd + s * g.N : nullptr;
    pa.relu = c.relu != 0;
    pa.epsilon = c.epsilon;
    ks.fprop_panel(pa);
  }
}

// Three phases in one parallel region: the column sums of each row chunk (whole rows: every thread
// streams long contiguous runs), the per-column constants from the chunks' sums (in chunk order),
// then dx and the per-row dgain/dbias of each chunk (whole rows: complete sums, no partials).
void bprop_cols(const LnConfig& c, const LnBpropArgs& a, const LnKernelSet& ks) {
  const RowChunks rc = row_chunks(c);
  const int64_t N = a.N, Ks = rc.Ks;
  const size_t e = dtype_bytes(c.dtype);
  float* sums = static_cast<float*>(a.workspace);  // [chunk][2][N]
  const bool stream = stream_out(a.dx, c.K, N, e);
  auto args = [&](int64_t chunk) {
    const int64_t s = chunk / rc.per_segment;
    const size_t base = static_cast<size_t>(s * Ks * N) * e;
    LnColArgs ca;
    ca.x = static_cast<const char*>(a.x) + base;
    ca.dy = static_cast<const char*>(a.dy) + base;
    ca.dx = static_cast<char*>(a.dx) + base;
    ca.n = N;
    ca.k0 = rc.k0(chunk);
    ca.k1 = rc.k1(chunk);
    ca.gain = a.gain ? a.gain + s * Ks : nullptr;
    ca.bias = a.bias ? a.bias + s * Ks : nullptr;
    ca.mean = a.mean + s * N;
    ca.rstd = a.rstd + s * N;
    ca.relu = c.relu != 0;
    return ca;
  };
  const float inv = 1.0f / static_cast<float>(Ks);
#pragma omp parallel num_threads(c.num_threads)
  {
#pragma omp for schedule(static)
    for (int64_t chunk = 0; chunk < rc.count(); ++chunk) {
      LnColArgs ca = args(chunk);
      ca.s0 = sums + chunk * 2 * N;
      ca.s1 = ca.s0 + N;
      ks.bprop_col_sums(ca);
    }
    // c0 = -rstd·mean(u), c1 = -rstd²·mean(u·(x - mean)) into the segment's first slot.
#pragma omp for schedule(static)
    for (int64_t i = 0; i < rc.S * N; ++i) {
      const int64_t s = i / N, j = i % N;
      float* first = sums + s * rc.per_segment * 2 * N;
      float su = first[j], sux = first[N + j];
      for (int64_t q = 1; q < rc.per_segment; ++q) {
        su += first[q * 2 * N + j];
        sux += first[q * 2 * N + N + j];
      }
      const float rstd = a.rstd[i];
      first[j] = -rstd * (su * inv);
      first[N + j] = -rstd * (sux * inv * rstd);
    }
#pragma omp for schedule(static)
    for (int64_t chunk = 0; chunk < rc.count(); ++chunk) {
      const int64_t s = chunk / rc.per_segment;
      LnColArgs ca = args(chunk);
      ca.s0 = sums + s * rc.per_segment * 2 * N;
      ca.s1 = ca.s0 + N;
      ca.dgain = a.dgain ? a.dgain + s * Ks : nullptr;
      ca.dbias = a.dbias ? a.dbias + s * Ks : nullptr;
      ca.stream = stream;
      ks.bprop_col_dx(ca);
    }
  }
}

}  // namespace

size_t CpuOps::layernorm_workspace(const LnConfig& c, int64_t N, bool bprop) const {
  if (!bprop || N == 0) return 0;
  // Two fp32 partial vectors per part: of K (features last) or N (features first) entries.
  const int64_t per_part = checked_mul(2, c.feature_axis == 1 ? c.K : N, "layernorm workspace");
  const int64_t parts = c.feature_axis == 1 ? row_parts(c, N) : row_chunks(c).count();
  return checked_bytes(checked_mul(parts, per_part, "layernorm workspace"), sizeof(float), "layernorm workspace");
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
