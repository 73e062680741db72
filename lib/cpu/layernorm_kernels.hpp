#pragma once
// Layer-norm kernels of the CPU backend: the per-row (features last) and per-panel (features first)
// work, free of threading. ops_cpu_layernorm.cpp partitions the problem, runs these from its OpenMP
// loops and sums the dgain/dbias partials. One set per instruction set (portable, AVX2+FMA+F16C),
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
  float epsilon = 0.0f;
  float mean[kLnBpropRows] = {}, rstd[kLnBpropRows] = {};  // per row; fprop: results; bprop: inputs
};

// Columns [n0, n1) of one segment with features first (a panel): element (k, n) at k·ld + n,
// k < rows; n1 - n0 <= kLnMaxPanel. For dgain/dbias the panel is cut into pieces of part_w columns
// from n0; piece q adds its sums to pg[q·part_stride + k] and pb[q·part_stride + k].
struct LnPanelArgs {
  const void* x = nullptr;
  const void* dy = nullptr;  // bprop only
  void* out = nullptr;       // y or dx
  int64_t ld = 0, rows = 0, n0 = 0, n1 = 0;
  const float* gain = nullptr;  // the segment's slice (rows entries); NULL = ones
  const float* bias = nullptr;  // NULL = zeros
  const float* mean = nullptr;  // bprop: statistics per column of the segment (index n)
  const float* rstd = nullptr;
  float* mean_out = nullptr;  // fprop: where to save them; NULL = not saved
  float* rstd_out = nullptr;
  float* pg = nullptr;  // bprop: per-row partials of piece 0, += Σ_n dy·xhat (NULL: not wanted)
  float* pb = nullptr;  // += Σ_n dy
  int64_t part_w = 0, part_stride = 0;
  bool relu = false;
  float epsilon = 0.0f;
};

constexpr int64_t kLnMaxPanel = 4096;

struct LnKernelSet {
  const char* isa;  // "avx2" or "generic"
  void (*fprop_row)(LnRowArgs& a);
  void (*bprop_row)(LnRowArgs& a);
  void (*fprop_panel)(const LnPanelArgs& a);
  void (*bprop_panel)(const LnPanelArgs& a);
};

// The kernels for storage dtype `dtype` (a bs_dtype_t), of the ISA chosen for this process.
const LnKernelSet& ln_kernels(int32_t dtype);

// Per ISA; ln_kernels_avx2 returns NULL where the compiler cannot target AVX2 (not x86).
const LnKernelSet& ln_kernels_generic(int32_t dtype);
const LnKernelSet* ln_kernels_avx2(int32_t dtype);

}  // namespace bs::ops
