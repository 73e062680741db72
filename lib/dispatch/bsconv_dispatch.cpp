// Picks the backend of a new bsconv plan. Only the CPU backend exists so far (bsconv.h).
#include "core/error.hpp"
#include "dispatch/bsconv_backend.hpp"

namespace bs {

std::unique_ptr<BsconvBackend> make_bsconv_backend(const BsconvConfig& config, const ConvLayout& layout) {
  switch (config.backend) {
    case BS_BACKEND_CPU: return make_bsconv_cpu_backend(config, layout);
    case BS_BACKEND_CUDA:
      fail(BS_STATUS_NOT_SUPPORTED, "bsconv has no CUDA backend yet (CPU plans only; see bsconv.h)");
    default: fail(BS_STATUS_INVALID_VALUE, "params->backend is not a bs_backend_t (got ", config.backend, ")");
  }
}

}  // namespace bs
