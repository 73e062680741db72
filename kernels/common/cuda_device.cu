#include "kernels/common/cuda_device.hpp"

#include "core/checks.hpp"
#include "kernels/common/cuda_check.cuh"

namespace bs {
namespace cuda {

int32_t device_count() noexcept {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    (void)cudaGetLastError();  // no driver / no device: clear the non-sticky error, report none
    return 0;
  }
  return n;
}

void check_device(int32_t device) {
  int n = 0;
  const cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess) {
    (void)cudaGetLastError();
    fail(BS_STATUS_BACKEND_UNAVAILABLE, "no usable CUDA device: ", cudaGetErrorName(e), " (", cudaGetErrorString(e),
         ")");
  }
  if (n == 0) fail(BS_STATUS_BACKEND_UNAVAILABLE, "no CUDA device is visible to this process");
  if (device < 0 || device >= n)
    fail(BS_STATUS_INVALID_VALUE, "params->device is ", device, " but this process sees ", n, " CUDA device(s)");
  const DeviceInfo info = device_info(device);
  if (info.cc_major < 8)
    fail(BS_STATUS_ARCH_NOT_SUPPORTED, "device ", device, " has compute capability ", info.cc_major, ".",
         info.cc_minor, "; the CUDA backend needs 8.0 (Ampere) or newer");
}

DeviceInfo device_info(int32_t device) {
  DeviceInfo d;
  check(cudaDeviceGetAttribute(&d.sm_count, cudaDevAttrMultiProcessorCount, device), "cudaDeviceGetAttribute");
  check(cudaDeviceGetAttribute(&d.cc_major, cudaDevAttrComputeCapabilityMajor, device), "cudaDeviceGetAttribute");
  check(cudaDeviceGetAttribute(&d.cc_minor, cudaDevAttrComputeCapabilityMinor, device), "cudaDeviceGetAttribute");
  check(cudaDeviceGetAttribute(&d.max_smem_optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, device),
        "cudaDeviceGetAttribute");
  return d;
}

void check_device_pointer(const void* p, int32_t device, const char* name) {
  cudaPointerAttributes attr{};
  const cudaError_t e = cudaPointerGetAttributes(&attr, p);
  if (e == cudaErrorInvalidValue) {
    (void)cudaGetLastError();
    fail(BS_STATUS_WRONG_BACKEND, name, " is not a CUDA pointer (CUDA plans take device pointers)");
  }
  check(e, "cudaPointerGetAttributes");
  if (attr.type == cudaMemoryTypeUnregistered || attr.type == cudaMemoryTypeHost)
    fail(BS_STATUS_WRONG_BACKEND, name, " is host memory; CUDA plans take device pointers of device ", device);
  if (attr.device != device)
    fail(BS_STATUS_WRONG_DEVICE, name, " lives on CUDA device ", attr.device, " but the plan uses device ", device);
  check_aligned(p, 16, name);
}

DeviceGuard::DeviceGuard(int32_t device) {
  check(cudaGetDevice(&previous_), "cudaGetDevice");
  if (previous_ != device) check(cudaSetDevice(device), "cudaSetDevice");
}

DeviceGuard::~DeviceGuard() {
  int now = -1;
  if (cudaGetDevice(&now) == cudaSuccess && now != previous_) (void)cudaSetDevice(previous_);
}

}  // namespace cuda
}  // namespace bs
