// CPU backend of the ops: device and pointer checks, plan memory.
#include <cstdlib>
#include <new>

#include "core/checks.hpp"
#include "ops/ops_cpu.hpp"

namespace bs::ops {

void CpuOps::check_device(int32_t device) const {
  if (device != 0) fail(BS_STATUS_INVALID_VALUE, "device must be 0 for the CPU backend (got ", device, ")");
}

void CpuOps::check_pointer(const void* p, size_t align, int32_t, const char* name) const {
  check_aligned(p, align, name);
#if defined(BS_WITH_CUDA)
  if (cuda_is_device_pointer(p))
    fail(BS_STATUS_WRONG_BACKEND, name, " is CUDA device memory but the backend is the CPU");
#endif
}

void* CpuOps::upload(const void* host, size_t bytes, int32_t) const {
  void* p = std::malloc(bytes > 0 ? bytes : 1);
  if (!p) throw std::bad_alloc();
  if (bytes > 0) std::memcpy(p, host, bytes);
  return p;
}

void CpuOps::release(void* p, int32_t) const noexcept { std::free(p); }

const OpsBackend& ops_cpu_backend() {
  static const CpuOps backend;
  return backend;
}

}  // namespace bs::ops
