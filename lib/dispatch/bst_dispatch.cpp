// Picks the backend of a new bst plan. CUDA plans exist only where the CUDA backend is compiled in.
#include "core/error.hpp"
#include "dispatch/bst_backend.hpp"

namespace bs {

std::unique_ptr<BstBackend> make_bst_backend(const BstConfig& config, const BstLayout& layout) {
  switch (config.backend) {
    case BS_BACKEND_CPU: return make_bst_cpu_backend(config, layout);
    case BS_BACKEND_CUDA:
#if defined(BS_WITH_CUDA)
      fail(BS_STATUS_NOT_SUPPORTED, "bst has no CUDA backend yet: create CPU plans (params->backend = BS_BACKEND_CPU)");
#else
      fail(BS_STATUS_BACKEND_UNAVAILABLE, "this build of blocksparse has no CUDA backend (configure with BS_ENABLE_CUDA)");
#endif
    default: fail(BS_STATUS_INVALID_VALUE, "params->backend is not a bs_backend_t (got ", config.backend, ")");
  }
}

}  // namespace bs
