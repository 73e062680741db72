// Instantiates the bsmm tile kernels for half_t with Math::kMma16 (one translation unit per kind so
// that the build compiles them in parallel).
#include "kernels/bsmm/ops.cuh"

namespace bs {
namespace cuda {
template const KernelSet& kernel_set<half_t, Math::kMma16>(int B);
}  // namespace cuda
}  // namespace bs
