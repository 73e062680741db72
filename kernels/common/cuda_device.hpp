#pragma once
// CUDA runtime helpers shared by every op family: device queries, error checks that turn runtime
// failures into bs::Error, the device guard of execute calls and pointer classification.
// Host code only; this header includes no CUDA header so plain C++ files (lib/api) may include it.
#include <cstdint>

namespace bs {
namespace cuda {

// Number of CUDA devices visible to this process; 0 when no driver or device is present (not an
// error, as bs_get_device_count() documents).
int32_t device_count() noexcept;

// Throws unless `device` is a usable device of this build: BS_STATUS_INVALID_VALUE (no such
// ordinal), BS_STATUS_BACKEND_UNAVAILABLE (no driver/device), BS_STATUS_ARCH_NOT_SUPPORTED
// (compute capability below 8.0).
void check_device(int32_t device);

// Throws BS_STATUS_WRONG_BACKEND unless `p` is device memory (or managed memory) of `device`;
// BS_STATUS_WRONG_DEVICE when it belongs to another device; BS_STATUS_MISALIGNED_POINTER unless it
// is 16-byte aligned.
void check_device_pointer(const void* p, int32_t device, const char* name);

// Makes `device` current for the lifetime of the guard and restores the caller's device after.
class DeviceGuard {
 public:
  explicit DeviceGuard(int32_t device);
  ~DeviceGuard();
  DeviceGuard(const DeviceGuard&) = delete;
  DeviceGuard& operator=(const DeviceGuard&) = delete;

 private:
  int previous_ = -1;
};

// Device properties read once per plan.
struct DeviceInfo {
  int sm_count = 0;
  int cc_major = 0, cc_minor = 0;
  int max_smem_optin = 0;  // bytes of dynamic shared memory a block may opt into
};
DeviceInfo device_info(int32_t device);

}  // namespace cuda
}  // namespace bs
