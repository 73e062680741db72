// The CUDA runtime's version for bs_get_build_info(). The only file of lib/core that sees a CUDA
// header, and only in builds with the CUDA backend.
#include "core/build_info.hpp"

#if defined(BS_WITH_CUDA)
#include <cuda_runtime_api.h>
#endif

namespace bs {

int cuda_runtime_version() {
#if defined(BS_WITH_CUDA)
  // Needs no GPU and no driver: it reports the runtime library this process loaded.
  int version = 0;
  return cudaRuntimeGetVersion(&version) == cudaSuccess ? version : 0;
#else
  return 0;
#endif
}

}  // namespace bs
