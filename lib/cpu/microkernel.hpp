#pragma once
// The register-blocked fp32 micro-kernel every CPU bsmm op runs on, and its run-time selection.
//
// One call computes a tile of `rows x (8·nv)` outputs held in registers:
//   c[r·ldc + j]  (=, or += when accumulate)
//       Σ_{e<nseg} Σ_{p<depth} a[r·ar + a_off[e] + p·ap] · b_ptr[e][b_col + p·bp + j]
// A is broadcast one scalar at a time (any strides), B is read as 8-float vectors (j contiguous).
// Segments let fprop/bprop sum over the blocks of one layout column/row in a single call.
//
// Every output element sees the same sequence of fused multiply-adds whatever `rows` is, so
// results do not depend on how a caller splits the rows (across threads or tiles).
#include <cstdint>

namespace bs {
namespace cpu {

struct MicroArgs {
  const float* a = nullptr;
  int64_t ar = 0, ap = 0;        // A strides (elements) between rows r and depth steps p
  const int64_t* a_off = nullptr; // per segment: offset added to a
  const float* const* b_ptr = nullptr;  // per segment: B
  int64_t b_col = 0;              // first column of B (added to every b_ptr)
  int64_t bp = 0;                 // B stride between depth steps
  int64_t nseg = 0, depth = 0;
  float* c = nullptr;
  int64_t ldc = 0;
  bool accumulate = false;        // false: c is overwritten (not read)
};

using MicroKernel = void (*)(const MicroArgs&);

// Largest row counts of a tile for each vector width (nv = 1: 8 columns, nv = 2: 16 columns),
// bounded by the 16 vector registers of AVX2 (accumulators + B vectors + one broadcast).
constexpr int kMaxRowsNv1 = 12;
constexpr int kMaxRowsNv2 = 6;

struct MicroKernelSet {
  const char* isa;                    // "avx2" or "generic"
  MicroKernel nv1[kMaxRowsNv1];       // nv1[r-1]: r rows x 8 columns
  MicroKernel nv2[kMaxRowsNv2];       // nv2[r-1]: r rows x 16 columns
  MicroKernel get(int nv, int rows) const { return nv == 1 ? nv1[rows - 1] : nv2[rows - 1]; }
};

// The best set this CPU runs (AVX2+FMA when present, else portable vector code). Thread-safe.
const MicroKernelSet& micro_kernels();

// The two implementations (micro_kernels() picks one); the AVX2 one is null where not compiled.
const MicroKernelSet* micro_kernels_avx2();
const MicroKernelSet& micro_kernels_generic();

}  // namespace cpu
}  // namespace bs
