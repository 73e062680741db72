#pragma once
// Builds a MicroKernelSet from a kernel template Kern<ROWS, NV> (one instantiation per row count).
#include <utility>

#include "cpu/microkernel.hpp"

namespace bs {
namespace cpu {

template <template <int, int> class Kern, int NV, int... R>
constexpr void fill_row_kernels(MicroKernel* out, std::integer_sequence<int, R...>) {
  ((out[R] = &Kern<R + 1, NV>::run), ...);
}

template <template <int, int> class Kern>
MicroKernelSet make_kernel_set(const char* isa) {
  MicroKernelSet s{};
  s.isa = isa;
  fill_row_kernels<Kern, 1>(s.nv1, std::make_integer_sequence<int, kMaxRowsNv1>{});
  fill_row_kernels<Kern, 2>(s.nv2, std::make_integer_sequence<int, kMaxRowsNv2>{});
  return s;
}

}  // namespace cpu
}  // namespace bs
