// Portable micro-kernel on GCC/Clang vector extensions (any architecture): the fallback where
// AVX2+FMA is missing. Same tile shapes and summation order as the AVX2 kernel, but a separate
// multiply and add (no FMA is assumed), so its results may differ from AVX2 ones in the last bit.
#include <cstring>

#include "cpu/microkernel.hpp"
#include "cpu/microkernel_table.hpp"

namespace bs {
namespace cpu {
namespace {

// 4-float vectors: the width every 64-bit target has natively (SSE2, NEON); 8 columns are two.
typedef float v4f __attribute__((vector_size(16)));

inline v4f load4(const float* p) {
  v4f v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

inline void store4(float* p, v4f v) { std::memcpy(p, &v, sizeof v); }

template <int ROWS, int NV>
struct GenericKernel {
  static void run(const MicroArgs& m) {
    constexpr int V = 2 * NV;
    v4f acc[ROWS][V];
    for (int r = 0; r < ROWS; ++r)
      for (int v = 0; v < V; ++v) acc[r][v] = m.accumulate ? load4(m.c + r * m.ldc + 4 * v) : v4f{};
    for (int64_t e = 0; e < m.nseg; ++e) {
      const float* a = m.a + m.a_off[e];
      const float* b = m.b_ptr[e] + m.b_col;
      for (int64_t p = 0; p < m.depth; ++p) {
        v4f bv[V];
        for (int v = 0; v < V; ++v) bv[v] = load4(b + 4 * v);
        for (int r = 0; r < ROWS; ++r) {
          const float s = a[r * m.ar];
          for (int v = 0; v < V; ++v) acc[r][v] += s * bv[v];
        }
        a += m.ap;
        b += m.bp;
      }
    }
    for (int r = 0; r < ROWS; ++r)
      for (int v = 0; v < V; ++v) store4(m.c + r * m.ldc + 4 * v, acc[r][v]);
  }
};

}  // namespace

const MicroKernelSet& micro_kernels_generic() {
  static const MicroKernelSet set = make_kernel_set<GenericKernel>("generic");
  return set;
}

}  // namespace cpu
}  // namespace bs
