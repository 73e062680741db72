#pragma once
// Run-time choice of the CPU instruction set for the hand-vectorised ops kernels (layer norm).
// The library is built for baseline x86-64; kernels for newer ISAs are compiled per function with
// target attributes and used only when the CPU reports the features. Setting the environment variable
// BLOCKSPARSE_CPU_ISA=generic forces the portable kernels (bsmm's micro-kernel honours the same
// variable), so the fallback can be tested and compared on any machine.
namespace bs::cpu {

// True when the CPU has AVX2, FMA and F16C and BLOCKSPARSE_CPU_ISA is not "generic". Read once per
// process (later changes of the environment are not seen).
bool ops_use_avx2();

}  // namespace bs::cpu
