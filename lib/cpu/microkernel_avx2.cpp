// AVX2 + FMA micro-kernel (x86-64 only), compiled for that ISA through the target attribute so the
// rest of the library stays baseline x86-64; micro_kernels() uses it only when the CPU has both.
#include "cpu/microkernel.hpp"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#include "cpu/microkernel_table.hpp"

namespace bs {
namespace cpu {
namespace {

template <int ROWS, int NV>
struct Avx2Kernel {
  __attribute__((target("avx2,fma"))) static void run(const MicroArgs& m) {
    __m256 acc[ROWS][NV];
#pragma GCC unroll 16
    for (int r = 0; r < ROWS; ++r)
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v)
        acc[r][v] = m.accumulate ? _mm256_loadu_ps(m.c + r * m.ldc + 8 * v) : _mm256_setzero_ps();
    const int64_t ar = m.ar, ap = m.ap, bp = m.bp;
    for (int64_t e = 0; e < m.nseg; ++e) {
      const float* a = m.a + m.a_off[e];
      const float* b = m.b_ptr[e] + m.b_col;
      for (int64_t p = 0; p < m.depth; ++p) {
        __m256 bv[NV];
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v) bv[v] = _mm256_loadu_ps(b + 8 * v);
#pragma GCC unroll 16
        for (int r = 0; r < ROWS; ++r) {
          const __m256 av = _mm256_broadcast_ss(a + r * ar);
#pragma GCC unroll 4
          for (int v = 0; v < NV; ++v) acc[r][v] = _mm256_fmadd_ps(av, bv[v], acc[r][v]);
        }
        a += ap;
        b += bp;
      }
    }
#pragma GCC unroll 16
    for (int r = 0; r < ROWS; ++r)
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) _mm256_storeu_ps(m.c + r * m.ldc + 8 * v, acc[r][v]);
  }
};

}  // namespace

const MicroKernelSet* micro_kernels_avx2() {
  static const MicroKernelSet set = make_kernel_set<Avx2Kernel>("avx2");
  return &set;
}

}  // namespace cpu
}  // namespace bs

#else

namespace bs {
namespace cpu {
const MicroKernelSet* micro_kernels_avx2() { return nullptr; }
}  // namespace cpu
}  // namespace bs

#endif
