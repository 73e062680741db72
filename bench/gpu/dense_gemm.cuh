#pragma once
// Dense products through cuBLAS on logical matrix views, so that every call site says what it
// computes (y = x·W, dx = dy·Wᵀ, dW = xᵀ·dy) and the mapping to cuBLAS's column-major
// arguments lives in one place.
#include <cstdint>

#include "bench_util.cuh"

namespace bsbench {

// A rows x cols matrix at p, stored row-major or column-major, dense (leading dimension = the
// stored row length).
struct MatView {
  const void* p = nullptr;
  int64_t rows = 0, cols = 0;
  bool row_major = true;

  MatView t() const { return {p, cols, rows, !row_major}; }  // the transpose, same storage
  int64_t ld() const { return row_major ? cols : rows; }
};

// Activations of minibatch n with `features` features: (n, features) row-major when feature_axis
// is 1, (features, n) row-major otherwise; as a logical n x features matrix either way.
inline MatView activation(const void* p, int64_t n, int64_t features, int feature_axis) {
  return {p, n, features, feature_axis == 1};
}

// How cuBLAS multiplies: the compute type and data type of one precision.
struct GemmType {
  cudaDataType data;
  cublasComputeType_t compute;
};
GemmType gemm_type(const Prec& p);
// Exact fp32 (no TF32) for the reference products.
inline GemmType reference_gemm_type() { return {CUDA_R_32F, CUBLAS_COMPUTE_32F_PEDANTIC}; }

// c = a·b (beta = 0) on the handle's stream. Shapes must agree; throws on a cuBLAS error.
void gemm(cublasHandle_t handle, const GemmType& type, MatView c, MatView a, MatView b);

}  // namespace bsbench
