// CUDA ops backend: devices, pointer checks (cudaPointerGetAttributes), plan memory.
#include "core/checks.hpp"
#include "kernels/ew/ops_cuda.cuh"

namespace bs::ops {

int32_t CudaOps::current_device() const {
  int dev = 0;
  if (cudaGetDevice(&dev) != cudaSuccess) {
    cudaGetLastError();
    fail(BS_STATUS_BACKEND_UNAVAILABLE, "no usable CUDA device (cudaGetDevice failed)");
  }
  return dev;
}

void CudaOps::check_device(int32_t device) const {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess || count == 0) {
    cudaGetLastError();
    fail(BS_STATUS_BACKEND_UNAVAILABLE, "no CUDA GPU is visible");
  }
  if (device < 0 || device >= count)
    fail(BS_STATUS_INVALID_VALUE, "device ", device, " does not exist (", count, " CUDA devices)");
}

void CudaOps::check_pointer(const void* p, size_t align, int32_t device, const char* name) const {
  cudaPointerAttributes attr{};
  if (cudaPointerGetAttributes(&attr, p) != cudaSuccess) {
    cudaGetLastError();
    fail(BS_STATUS_WRONG_BACKEND, name, " is not CUDA device memory");
  }
  if (attr.type != cudaMemoryTypeDevice && attr.type != cudaMemoryTypeManaged)
    fail(BS_STATUS_WRONG_BACKEND, name, " is host memory but the backend is CUDA");
  if (attr.type == cudaMemoryTypeDevice && attr.device != device)
    fail(BS_STATUS_WRONG_DEVICE, name, " lives on device ", attr.device, ", the call runs on device ", device);
  check_aligned(p, align, name);
}

void* CudaOps::upload(const void* host, size_t bytes, int32_t device) const {
  DeviceGuard g(device);
  void* p = nullptr;
  if (cudaMalloc(&p, bytes > 0 ? bytes : 1) != cudaSuccess) {
    cudaGetLastError();
    fail(BS_STATUS_OUT_OF_MEMORY, "cudaMalloc of ", bytes, " bytes failed");
  }
  if (bytes > 0 && cudaMemcpy(p, host, bytes, cudaMemcpyHostToDevice) != cudaSuccess) {
    const cudaError_t e = cudaGetLastError();
    cudaFree(p);
    fail(BS_STATUS_EXECUTION_FAILED, "upload to the device failed: ", cudaGetErrorString(e));
  }
  return p;
}

void CudaOps::release(void* p, int32_t device) const noexcept {
  if (!p) return;
  DeviceGuard g(device);
  cudaFree(p);
}

const OpsBackend& ops_cuda_backend() {
  static const CudaOps backend;
  return backend;
}

bool cuda_is_device_pointer(const void* p) noexcept {
  cudaPointerAttributes attr{};
  if (cudaPointerGetAttributes(&attr, p) != cudaSuccess) {
    cudaGetLastError();
    return false;
  }
  return attr.type == cudaMemoryTypeDevice || attr.type == cudaMemoryTypeManaged;
}

}  // namespace bs::ops
