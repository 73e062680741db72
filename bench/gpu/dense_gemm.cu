#include "dense_gemm.cuh"

namespace bsbench {

GemmType gemm_type(const Prec& p) {
  if (p.dtype != DType::F32) return {cuda_dtype(p.dtype), CUBLAS_COMPUTE_32F};
  return {CUDA_R_32F, p.tf32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F};
}

void gemm(cublasHandle_t handle, const GemmType& type, MatView c, MatView a, MatView b) {
  if (a.rows != c.rows || b.cols != c.cols || a.cols != b.rows) raise("gemm: shapes do not agree", __FILE__, __LINE__);
  if (c.row_major) {  // cuBLAS writes column-major: compute cᵀ = bᵀ·aᵀ instead
    gemm(handle, type, c.t(), b.t(), a.t());
    return;
  }
  const float alpha = 1.0f, beta = 0.0f;
  BENCH_CUBLAS(cublasGemmEx(handle, a.row_major ? CUBLAS_OP_T : CUBLAS_OP_N, b.row_major ? CUBLAS_OP_T : CUBLAS_OP_N,
                            static_cast<int>(c.rows), static_cast<int>(c.cols), static_cast<int>(a.cols), &alpha,
                            a.p, type.data, static_cast<int>(a.ld()), b.p, type.data, static_cast<int>(b.ld()), &beta,
                            const_cast<void*>(c.p), type.data, static_cast<int>(c.ld()), type.compute,
                            CUBLAS_GEMM_DEFAULT));
}

}  // namespace bsbench
