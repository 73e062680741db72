#include "cpu/cpu_isa.hpp"

#include <cstdlib>
#include <cstring>

namespace bs::cpu {

bool ops_use_avx2() {
  static const bool use = [] {
    const char* forced = std::getenv("BLOCKSPARSE_CPU_ISA");
    if (forced && std::strcmp(forced, "generic") == 0) return false;
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
#else
    return false;
#endif
  }();
  return use;
}

}  // namespace bs::cpu
