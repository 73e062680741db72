#pragma once
// Storage conversions on the device: fp32 <-> fp16/bf16 with the hardware's round-to-nearest-even
// instructions (the host's software versions are in lib/core/dtype.hpp). Shared by every op family.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "core/dtype.hpp"

namespace bs {
namespace cuda {

__device__ __forceinline__ float load_float(float v) { return v; }
__device__ __forceinline__ float load_float(half_t v) { return __half2float(__ushort_as_half(v.bits)); }
__device__ __forceinline__ float load_float(bf16_t v) { return __bfloat162float(__ushort_as_bfloat16(v.bits)); }
template <typename T>
__device__ __forceinline__ T store_as(float f);
template <>
__device__ __forceinline__ float store_as<float>(float f) {
  return f;
}
template <>
__device__ __forceinline__ half_t store_as<half_t>(float f) {
  return half_t{__half_as_ushort(__float2half_rn(f))};
}
template <>
__device__ __forceinline__ bf16_t store_as<bf16_t>(float f) {
  return bf16_t{__bfloat16_as_ushort(__float2bfloat16_rn(f))};
}

}  // namespace cuda
}  // namespace bs
