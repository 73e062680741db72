#pragma once
// Small pieces every part of the GPU benchmark shares: error checks that throw (the harness turns an
// exception into a row with status "error" and goes on), an owning device buffer, and the
// precisions the benchmark sweeps.
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cusparse.h>

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

namespace bsbench {

[[noreturn]] inline void raise(const std::string& what, const char* file, int line) {
  throw std::runtime_error(what + " (" + file + ":" + std::to_string(line) + ")");
}

#define BENCH_CUDA(call)                                                                          \
  do {                                                                                            \
    const cudaError_t e_ = (call);                                                                \
    if (e_ != cudaSuccess) ::bsbench::raise(std::string(#call) + ": " + cudaGetErrorString(e_),   \
                                            __FILE__, __LINE__);                                  \
  } while (0)

#define BENCH_CUBLAS(call)                                                                        \
  do {                                                                                            \
    const cublasStatus_t s_ = (call);                                                             \
    if (s_ != CUBLAS_STATUS_SUCCESS) ::bsbench::raise(std::string(#call) + ": " +                 \
                                                      cublasGetStatusString(s_), __FILE__, __LINE__); \
  } while (0)

#define BENCH_CUSPARSE(call)                                                                      \
  do {                                                                                            \
    const cusparseStatus_t s_ = (call);                                                           \
    if (s_ != CUSPARSE_STATUS_SUCCESS) ::bsbench::raise(std::string(#call) + ": " +               \
                                                        cusparseGetErrorString(s_), __FILE__, __LINE__); \
  } while (0)

// Owning, move-only device allocation.
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(size_t bytes) : bytes_(bytes) {
    if (bytes) BENCH_CUDA(cudaMalloc(&ptr_, bytes));
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  DeviceBuffer(DeviceBuffer&& o) noexcept : ptr_(o.ptr_), bytes_(o.bytes_) { o.ptr_ = nullptr; o.bytes_ = 0; }
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept {
    if (this != &o) {
      release();
      ptr_ = o.ptr_; bytes_ = o.bytes_;
      o.ptr_ = nullptr; o.bytes_ = 0;
    }
    return *this;
  }
  ~DeviceBuffer() { release(); }

  void* get() const { return ptr_; }
  template <typename T> T* as() const { return static_cast<T*>(ptr_); }
  size_t bytes() const { return bytes_; }

 private:
  void release() noexcept {
    if (ptr_) cudaFree(ptr_);
    ptr_ = nullptr;
  }
  void* ptr_ = nullptr;
  size_t bytes_ = 0;
};

// Storage type of the benchmarked tensors.
enum class DType { BF16, F16, F32 };

// What the benchmark calls a precision: a storage type plus, for fp32, whether tensor cores (TF32)
// may be used. The label goes into every result row.
struct Prec {
  DType dtype;
  bool tf32;
  const char* label;  // "bf16", "fp16", "fp32-FFMA", "fp32-TF32"
};

inline size_t dtype_bytes(DType t) { return t == DType::F32 ? 4 : 2; }

inline cudaDataType cuda_dtype(DType t) {
  switch (t) {
    case DType::BF16: return CUDA_R_16BF;
    case DType::F16: return CUDA_R_16F;
    default: return CUDA_R_32F;
  }
}

// Relative error bound for checking outputs against the fp32 reference (DESIGN §7).
inline double tolerance(const Prec& p) {
  if (p.dtype != DType::F32) return 1e-2;
  return p.tf32 ? 1e-3 : 1e-5;
}

}  // namespace bsbench
