// Picks the backend of a new optimizer plan. Only the CPU backend exists so far: CUDA plans fail with
// BS_STATUS_NOT_SUPPORTED in CUDA builds (BS_STATUS_BACKEND_UNAVAILABLE without CUDA).
#include "core/error.hpp"
#include "dispatch/optim_backend.hpp"

namespace bs {

std::unique_ptr<OptimBackend> make_optim_backend(const OptimConfig& config, const OptimWorklist& work) {
  switch (config.backend) {
    case BS_BACKEND_CPU: return make_optim_cpu_backend(config, work);
    case BS_BACKEND_CUDA:
#if defined(BS_WITH_CUDA)
      fail(BS_STATUS_NOT_SUPPORTED, "the optimizers have no CUDA backend yet (issue 20); use a CPU plan");
#else
      fail(BS_STATUS_BACKEND_UNAVAILABLE, "this build of blocksparse has no CUDA backend (configure with BS_ENABLE_CUDA)");
#endif
    default: fail(BS_STATUS_INVALID_VALUE, "params->backend is not a bs_backend_t (got ", config.backend, ")");
  }
}

}  // namespace bs
