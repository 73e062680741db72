#pragma once
// Runtime-call checks for .cu files: every failure becomes bs::Error(BS_STATUS_EXECUTION_FAILED)
// carrying the runtime's own message, and (for out-of-memory) BS_STATUS_OUT_OF_MEMORY.
#include <cuda_runtime.h>

#include "core/error.hpp"

namespace bs {
namespace cuda {

inline void check(cudaError_t e, const char* what) {
  if (e == cudaSuccess) return;
  const bs_status_t status = e == cudaErrorMemoryAllocation ? BS_STATUS_OUT_OF_MEMORY : BS_STATUS_EXECUTION_FAILED;
  fail(status, what, " failed: ", cudaGetErrorName(e), " (", cudaGetErrorString(e), ")");
}

// After a kernel launch: configuration errors and (sticky) earlier faults surface here.
inline void check_launch(const char* kernel) { check(cudaGetLastError(), kernel); }

}  // namespace cuda
}  // namespace bs
