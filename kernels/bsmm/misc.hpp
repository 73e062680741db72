#pragma once
// Small bsmm kernels that need no tile engine: identity init, l2 weight normalisation and its
// gradient, and the deterministic second phase of a split updat. Launchers take the plan dtype.
#include <cuda_runtime.h>

#include <cstdint>

namespace bs {
namespace cuda {

// Device copies of the layout lists the small kernels read.
struct LayoutTables {
  const int* block_rows;  // nnz: input block c of block i
  const int* row_cols;    // nnz: output block k of block i
  const int* col_ptr;     // KB + 1: BSC column pointers
  const int* col_blocks;  // nnz: block ids in BSC order
  int CB, KB, B;
  long long nnz;
};

void launch_identity_init(int32_t dtype, const LayoutTables& t, void* w, float scale, cudaStream_t s);

// grad = false: out = in / norm · gain. grad = true: out = d(in)/dw, dgain (see bsmm.h).
void launch_l2_normalize(int32_t dtype, const LayoutTables& t, bool grad, const void* in, const void* w,
                         const float* gain, void* out, float* dgain, float epsilon, cudaStream_t s);

// dw = alpha·gate·Σ_{s < splits} ws[s] + beta·dw, summed in split order (splits = 0: beta·dw).
void launch_updat_finish(int32_t dtype, const LayoutTables& t, const float* ws, int splits, void* dw,
                         const float* gate, float alpha, float beta, cudaStream_t s);

}  // namespace cuda
}  // namespace bs
