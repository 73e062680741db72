// BstGemm for AVX2 + FMA (x86-64): the loops of bst_gemm_impl.hpp compiled for that ISA, used only
// when the CPU has it (cpu_isa.hpp). As in the layer-norm kernels, every header comes before the
// target pragma, so no shared inline function is emitted with AVX2 instructions.
#include "cpu/bst/bst_gemm.hpp"

#if defined(__x86_64__) || defined(__i386__)

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx2,fma")
#endif

#include "cpu/bst/bst_gemm_impl.hpp"

#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

namespace bs::cpu {
const BstGemm* bst_gemm_avx2() { return &kGemm; }
}  // namespace bs::cpu

#else

namespace bs::cpu {
const BstGemm* bst_gemm_avx2() { return nullptr; }
}  // namespace bs::cpu

#endif
