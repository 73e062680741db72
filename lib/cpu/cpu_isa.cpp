#include "cpu/cpu_isa.hpp"

#include <cstdlib>
#include <cstring>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

namespace bs::cpu {

bool ops_use_avx2() {
  static const bool use = [] {
    const char* forced = std::getenv("BLOCKSPARSE_CPU_ISA");
    if (forced && std::strcmp(forced, "generic") == 0) return false;
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    // F16C is read from CPUID leaf 1 (ECX bit 29) because clang's __builtin_cpu_supports does not
    // know "f16c"; its OS-enabled AVX state is implied by the avx2 check (which tests XGETBV).
    unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
    const bool f16c = __get_cpuid(1, &eax, &ebx, &ecx, &edx) && (ecx & bit_F16C) != 0;
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && f16c;
#else
    return false;
#endif
  }();
  return use;
}

}  // namespace bs::cpu
