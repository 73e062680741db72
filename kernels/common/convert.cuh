#pragma once
// Storage conversions on the device: fp32 <-> fp16/bf16 with the hardware's round-to-nearest-even
// instructions (the host's software versions are in lib/core/dtype.hpp). Shared by every op family.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>
#include <type_traits>

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

// Two fp16/bf16 elements in one 32-bit word, `lo` in the low half: one paired round-to-nearest-even
// conversion (cvt.rn.*x2), and one half of such a word back to fp32.
template <typename T>
__device__ __forceinline__ uint32_t pack2(float lo, float hi) {
  static_assert(sizeof(T) == 2, "pack2: 16-bit types only");
  if constexpr (std::is_same_v<T, bf16_t>) {
    const __nv_bfloat162 h = __floats2bfloat162_rn(lo, hi);
    return *reinterpret_cast<const uint32_t*>(&h);
  } else {
    const __half2 h = __floats2half2_rn(lo, hi);
    return *reinterpret_cast<const uint32_t*>(&h);
  }
}
template <typename T>
__device__ __forceinline__ float half_of(uint32_t v, int h) {
  return load_float(T{static_cast<uint16_t>(h ? v >> 16 : v & 0xFFFFu)});
}

}  // namespace cuda
}  // namespace bs
