// Picks the micro-kernel set once per process from what the CPU supports. Setting the environment
// variable BLOCKSPARSE_CPU_ISA=generic forces the portable kernel (as oneDNN's ONEDNN_MAX_CPU_ISA
// does), so the fallback can be tested and compared on any machine.
#include <cstdlib>
#include <cstring>

#include "cpu/microkernel.hpp"

namespace bs {
namespace cpu {

const MicroKernelSet& micro_kernels() {
  // A pointer, not a reference bound to the lambda's result: GCC 13 reads the latter as dangling.
  static const MicroKernelSet* const chosen = []() -> const MicroKernelSet* {
    const char* forced = std::getenv("BLOCKSPARSE_CPU_ISA");
    if (forced && std::strcmp(forced, "generic") == 0) return &micro_kernels_generic();
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && micro_kernels_avx2())
      return micro_kernels_avx2();
#endif
    return &micro_kernels_generic();
  }();
  return *chosen;
}

}  // namespace cpu
}  // namespace bs
