// Portable BstGemm: the loops of bst_gemm_impl.hpp for the baseline ISA (SSE2 on x86-64).
#include "cpu/bst/bst_gemm.hpp"

#include "cpu/cpu_isa.hpp"

#include "cpu/bst/bst_gemm_impl.hpp"

namespace bs::cpu {

const BstGemm& bst_gemm_generic() { return kGemm; }

const BstGemm& bst_gemm() {
  static const BstGemm* set = [] {
    const BstGemm* avx2 = ops_use_avx2() ? bst_gemm_avx2() : nullptr;
    return avx2 ? avx2 : &bst_gemm_generic();
  }();
  return *set;
}

}  // namespace bs::cpu
