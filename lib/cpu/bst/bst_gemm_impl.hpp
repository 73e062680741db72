// The loops of BstGemm (bst_gemm.hpp), included by one translation unit per instruction set
// inside its target pragma; every header they need is included before it. Written so the
// compiler vectorises the innermost loop (contiguous, no reduction across lanes).
// No include guard: each including file compiles these once, with internal linkage.

namespace {

void gemm_nt(const float* A, const float* Bt, int m, int n, int D, float* S) {
  for (int r = 0; r < m; ++r) {
    float* __restrict s = S + r * n;
    for (int c = 0; c < n; ++c) s[c] = 0.0f;
    const float* a = A + r * D;
    for (int d = 0; d < D; ++d) {
      const float ad = a[d];
      const float* __restrict bt = Bt + d * n;
      for (int c = 0; c < n; ++c) s[c] += ad * bt[c];
    }
  }
}

void gemm_nn_acc(const float* P, const float* B, int m, int n, int D, float* C) {
  for (int r = 0; r < m; ++r) {
    float* __restrict out = C + r * D;
    for (int c = 0; c < n; ++c) {
      const float p = P[r * n + c];
      if (p == 0.0f) continue;
      const float* __restrict b = B + c * D;
      for (int d = 0; d < D; ++d) out[d] += p * b[d];
    }
  }
}

void gemm_tn_acc(const float* P, const float* A, int m, int n, int D, float* C) {
  for (int r = 0; r < m; ++r) {
    const float* __restrict a = A + r * D;
    for (int c = 0; c < n; ++c) {
      const float p = P[r * n + c];
      if (p == 0.0f) continue;
      float* __restrict out = C + c * D;
      for (int d = 0; d < D; ++d) out[d] += p * a[d];
    }
  }
}

constexpr bs::cpu::BstGemm kGemm = {gemm_nt, gemm_nn_acc, gemm_tn_acc};

}  // namespace
