// Picks the backend of a new plan. CUDA plans exist only where the CUDA backend is compiled in.
#include "core/error.hpp"
#include "dispatch/bsmm_backend.hpp"

namespace bs {

std::unique_ptr<BsmmBackend> make_bsmm_backend(const BsmmConfig& config, const BsmmLayout& layout) {
  switch (config.backend) {
    case BS_BACKEND_CPU: return make_bsmm_cpu_backend(config, layout);
    case BS_BACKEND_CUDA:
#if defined(BS_WITH_CUDA)
      return make_bsmm_cuda_backend(config, layout);
#else
      fail(BS_STATUS_BACKEND_UNAVAILABLE, "this build of blocksparse has no CUDA backend (configure with BS_ENABLE_CUDA)");
#endif
    default: fail(BS_STATUS_INVALID_VALUE, "params->backend is not a bs_backend_t (got ", config.backend, ")");
  }
}

}  // namespace bs
