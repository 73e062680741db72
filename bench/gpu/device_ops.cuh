#pragma once
// Device-side helpers of the benchmark: random data, conversions to fp32 for the reference, and the
// re-packing of the weight blocks into the formats of the peers (BSR of Wᵀ, Blocked-ELL). All run
// on `stream`; none synchronizes except the error measures, which return a host number.
#include <cstdint>

#include "bench_util.cuh"

namespace bsbench {

// n values uniform in [-1, 1), a pure function of (seed, index): the same seed gives the same data.
void fill_uniform(void* dst, int64_t n, DType t, uint64_t seed, cudaStream_t stream);

// dst[i] = float(src[i]).
void to_float(float* dst, const void* src, int64_t n, DType t, cudaStream_t stream);

// Adds the blocks of w (nnz, b, b) into the zeroed dense row-major (C, K) fp32 matrix dense:
// block i goes to rows block_rows[i]*b.., columns block_cols[i]*b.. (device index arrays).
void scatter_blocks(float* dense, int64_t K, const void* w, DType t, const int32_t* block_rows,
                    const int32_t* block_cols, int64_t nnz, int b, cudaStream_t stream);

// dst block j = src block perm[j], transposed inside the block when `transpose`.
void gather_blocks(void* dst, const void* src, DType t, const int32_t* perm, int64_t nblocks, int b,
                   bool transpose, cudaStream_t stream);

// Blocked-ELL values (row-major, rows_b*b rows by ell_w*b columns): the block in block-row r, slot s
// is w block slot_block[r*ell_w + s] (transposed when `transpose`), zeros where that id is -1.
void ell_pack(void* dst, const void* w, DType t, const int32_t* slot_block, int64_t rows_b, int64_t ell_w, int b,
              bool transpose, cudaStream_t stream);

// ‖out − ref‖ / ‖ref‖ over n elements (out in storage type t). NaN or Inf in out gives +Inf.
double rel_error(const void* out, DType t, const float* ref, int64_t n, cudaStream_t stream);

// The same for a weight gradient (nnz, b, b) against the dense row-major (C, K) fp32 reference,
// read only at the blocks' positions.
double rel_error_blocks(const void* dw, DType t, const float* ref_dense, int64_t K, const int32_t* block_rows,
                        const int32_t* block_cols, int64_t nnz, int b, cudaStream_t stream);

}  // namespace bsbench
