#pragma once
// The three small fp32 products the CPU attention kernels are built from, on one block pair at a
// time (m, n <= 128 rows/keys, D <= 256 features), row-major and densely packed. Each has a fixed
// summation order (so results do not depend on threads). One set per instruction set (portable,
// AVX2+FMA), chosen once per process (cpu_isa.hpp).
namespace bs::cpu {

struct BstGemm {
  // S[r][c] = Σ_d A[r][d]·Bt[d][c]        A: m×D, Bt: D×n, S: m×n (overwritten)
  void (*nt)(const float* A, const float* Bt, int m, int n, int D, float* S);
  // C[r][:] += Σ_c P[r][c]·B[c][:]        P: m×n, B: n×D, C: m×D (zero entries of P skipped)
  void (*nn_acc)(const float* P, const float* B, int m, int n, int D, float* C);
  // C[c][:] += Σ_r P[r][c]·A[r][:]        P: m×n, A: m×D, C: n×D (zero entries of P skipped)
  void (*tn_acc)(const float* P, const float* A, int m, int n, int D, float* C);
};

const BstGemm& bst_gemm_generic();
const BstGemm* bst_gemm_avx2();  // null where not compiled (non-x86)
const BstGemm& bst_gemm();       // the set for this CPU

}  // namespace bs::cpu
