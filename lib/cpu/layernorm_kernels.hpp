#pragma once
// Layer-norm kernels of the CPU backend: the per-row (features last), per-panel and per-row-range
// (features first) work, free of threading. ops_cpu_layernorm.cpp partitions the problem, runs these
// from its OpenMP loops and adds the partial sums. One set per instruction set (portable, AVX2+FMA+F16C),
// chosen once per process (cpu_isa.hpp).
#include <cstdint>

namespace bs::ops {

// Rows of one backward call with features last: two rows of the same segment share one
// read-modify-write of the dgain/dbias partials.
constexpr int kLnBpropRows = 2;

// `rows` rows (1 for fprop, 1..kLnBpropRows for bprop) of `n` contiguous features (features last),
// of one segment, row i at element offset i·stride from x, dy and out.
struct LnRowArgs {
  const void* x = nullptr;
  const void* dy = nullptr;     // bprop only
  void* out = nullptr;          // y (fprop) or dx (bprop)
  const float* gain = nullptr;  // the segment's slice; NULL = ones
  const float* bias = nullptr;  // the segment's slice; NULL = zeros
  float* pg = nullptr;          // bprop: dgain partial of the slice, += Σ_rows dy·xhat (NULL: not wanted)
  float* pb = nullptr;          // bprop: dbias partial of the slice, += Σ_rows dy (NULL when pg is)
  int64_t n = 0;
  int rows = 1;
  int64_t stride = 0;
  bool relu = false;
  bool stream = false;  // non-temporal stores of out (out and every row 16-byte aligned)
  float epsilon = 0.0f;
  float mean[kLnBpropRows] = {}, rstd[kLnBpropRows] = {};  // per row; fprop: results; bprop: inputs
  // The rows this thread runs next (same layout, `stride` apart; 0 rows: none). The sweeps that work
  // from cache prefetch them: the hardware prefetchers only run ahead while demand reads miss, so
  // without this the next row's memory reads would wait for this row's arithmetic.
  const void* next_x = nullptr;
  const void* next_dy = nullptr;  // bprop only
  int next_rows = 0;
};

// Forward with features first: columns [n0, n1) of one segment (a panel), element (k, n) at
// k·ld + n, k < rows; n1 - n0 <= kLnMaxPanel.
struct LnPanelArgs {
  const void* x = nullptr;
  void* out = nullptr;  // y
  int64_t ld = 0, rows = 0, n0 = 0, n1 = 0;
  const float* gain = nullptr;  // the segment's slice (rows entries); NULL = ones
  const float* bias = nullptr;  // NULL = zeros
  float* mean_out = nullptr;    // where to save the statistics per column (index n); NULL = not saved
  float* rstd_out = nullptr;
  bool relu = false;
  float epsilon = 0.0f;
};

// Backward with features first: whole rows [k0, k1) of one segment of n columns, element (k, j) at
// k·n + j (each row one contiguous stream for the prefetchers). Two kernels: the column
// sums of the rows (the caller adds the row chunks' sums in chunk order and turns them into the
// per-column constants c0, c1), then dx of the rows from those constants.
struct LnColArgs {
  const void* x = nullptr;   // the segment's first row
  const void* dy = nullptr;
  void* dx = nullptr;
  int64_t n = 0, k0 = 0, k1 = 0;
  const float* gain = nullptr;  // the segment's slice (index k); NULL = ones
  const float* bias = nullptr;  // NULL = zeros
  const float* mean = nullptr;  // statistics per column of the segment (index n)
  const float* rstd = nullptr;
  // Sums: written with Σ_k u and Σ_k u·(x - mean) over the rows, u = gain·dy·[z > 0].
  // dx: read as c0 = -rstd·mean_k(u) and c1 = -rstd²·mean_k(u·(x - mean)).
  float* s0 = nullptr;
  float* s1 = nullptr;
  float* dgain = nullptr;  // dx: row k gets Σ_n dy·xhat (NULL: not wanted)
  float* dbias = nullptr;  // dx: row k gets Σ_n dy (NULL: not wanted)
  bool relu = false;
  bool stream = false;  // dx: non-temporal stores (dx and every row 16-byte aligned)
};

constexpr int64_t kLnMaxPanel = 4096;

struct LnKernelSet {
  const char* isa;  // "avx2" or "generic"
  void (*fprop_row)(LnRowArgs& a);
  void (*bprop_row)(LnRowArgs& a);
  void (*fprop_panel)(const LnPanelArgs& a);
  void (*bprop_col_sums)(const LnColArgs& a);
  void (*bprop_col_dx)(const LnColArgs& a);
};

// The kernels for storage dtype `dtype` (a bs_dtype_t), of the ISA chosen for this process.
const LnKernelSet& ln_kernels(int32_t dtype);

// Per ISA; ln_kernels_avx2 returns NULL where the compiler cannot target AVX2 (not x86).
const LnKernelSet& ln_kernels_generic(int32_t dtype);
const LnKernelSet* ln_kernels_avx2(int32_t dtype);

}  // namespace bs::ops
