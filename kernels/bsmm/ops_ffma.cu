// Instantiates the bsmm tile kernels for float with Math::kFfma (one translation unit per kind so
// that the build compiles them in parallel).
#include "kernels/bsmm/ops.cuh"

namespace bs {
namespace cuda {
template const KernelSet& kernel_set<float, Math::kFfma>(int B);
}  // namespace cuda
}  // namespace bs
