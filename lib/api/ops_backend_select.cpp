// Picks the ops backend for a bs_backend_t value.
#include "core/error.hpp"
#include "ops/ops_backend.hpp"

namespace bs::ops {

const OpsBackend& ops_backend(int32_t backend) {
  switch (backend) {
    case BS_BACKEND_CPU: return ops_cpu_backend();
    case BS_BACKEND_CUDA:
#if defined(BS_WITH_CUDA)
      return ops_cuda_backend();
#else
      fail(BS_STATUS_BACKEND_UNAVAILABLE, "this build of blocksparse has no CUDA backend (configure with BS_ENABLE_CUDA)");
#endif
    default: fail(BS_STATUS_INVALID_VALUE, "backend is not a bs_backend_t (got ", backend, ")");
  }
}

}  // namespace bs::ops
