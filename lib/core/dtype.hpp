#pragma once
// Storage types and their conversions to and from fp32 (round-to-nearest-even), usable from host
// code and CUDA device code alike.
#include <blocksparse/bs_types.h>

#include <cstdint>
#include <cstring>

#include "core/error.hpp"

#if defined(__CUDACC__)
#define BS_HOST_DEVICE __host__ __device__
#else
#define BS_HOST_DEVICE
#endif

namespace bs {

inline bool dtype_valid(int32_t dtype) {
  return dtype == BS_DTYPE_F32 || dtype == BS_DTYPE_F16 || dtype == BS_DTYPE_BF16;
}

inline size_t dtype_bytes(int32_t dtype) { return dtype == BS_DTYPE_F32 ? 4 : 2; }

inline const char* dtype_name(int32_t dtype) {
  switch (dtype) {
    case BS_DTYPE_F32: return "fp32";
    case BS_DTYPE_F16: return "fp16";
    case BS_DTYPE_BF16: return "bf16";
    default: return "unknown dtype";
  }
}

inline void check_dtype(int32_t dtype, const char* name) {
  if (!dtype_valid(dtype)) fail(BS_STATUS_INVALID_VALUE, name, " is not a bs_dtype_t (got ", dtype, ")");
}

BS_HOST_DEVICE inline uint32_t float_bits(float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  return u;
}

BS_HOST_DEVICE inline float bits_float(uint32_t u) {
  float f;
  memcpy(&f, &u, 4);
  return f;
}

// Storage structs: distinct types so templates can dispatch on them; bits only, no arithmetic.
struct half_t {
  uint16_t bits;
};
struct bf16_t {
  uint16_t bits;
};

BS_HOST_DEVICE inline float to_float(float v) { return v; }

BS_HOST_DEVICE inline float to_float(bf16_t v) { return bits_float(static_cast<uint32_t>(v.bits) << 16); }

BS_HOST_DEVICE inline float to_float(half_t v) {
  const uint32_t sign = static_cast<uint32_t>(v.bits & 0x8000u) << 16;
  const uint32_t exp = (v.bits >> 10) & 0x1fu;
  const uint32_t man = v.bits & 0x3ffu;
  if (exp == 0x1f) return bits_float(sign | 0x7f800000u | (man << 13));  // inf / nan
  if (exp != 0) return bits_float(sign | ((exp + 112u) << 23) | (man << 13));
  // zero or subnormal: man * 2^-24, exact in fp32
  const float mag = static_cast<float>(man) * 5.9604644775390625e-8f;
  return sign ? -mag : mag;
}

BS_HOST_DEVICE inline bf16_t to_bf16(float f) {
  const uint32_t u = float_bits(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return bf16_t{static_cast<uint16_t>((u >> 16) | 0x40u)};  // quiet nan
  const uint32_t rounding = 0x7fffu + ((u >> 16) & 1u);
  return bf16_t{static_cast<uint16_t>((u + rounding) >> 16)};
}

BS_HOST_DEVICE inline half_t to_half(float f) {
  const uint32_t u = float_bits(f);
  const uint16_t sign = static_cast<uint16_t>((u >> 16) & 0x8000u);
  const uint32_t abs = u & 0x7fffffffu;
  if (abs > 0x7f800000u) return half_t{static_cast<uint16_t>(sign | 0x7e00u)};  // nan
  if (abs >= 0x477ff000u) return half_t{static_cast<uint16_t>(sign | 0x7c00u)};  // rounds to inf
  if (abs < 0x38800000u) {
    // result is subnormal or zero: value / 2^-24 rounded to nearest even, as an integer
    if (abs < 0x33000000u) return half_t{sign};  // below half the smallest subnormal
    const uint32_t exp = abs >> 23;
    const uint32_t man = (abs & 0x7fffffu) | 0x800000u;
    const uint32_t shift = 126u - exp;  // 14..24 (value = man * 2^(exp-150); want / 2^-24)
    const uint32_t q = man >> shift;
    const uint32_t rem = man & ((1u << shift) - 1u);
    const uint32_t halfway = 1u << (shift - 1u);
    const uint32_t r = q + ((rem > halfway || (rem == halfway && (q & 1u))) ? 1u : 0u);
    return half_t{static_cast<uint16_t>(sign | r)};
  }
  // normal: rebias exponent and round the mantissa to 10 bits, nearest even
  const uint32_t rebased = abs - (112u << 23);
  const uint32_t r = rebased + 0xfffu + ((rebased >> 13) & 1u);
  return half_t{static_cast<uint16_t>(sign | (r >> 13))};
}

template <typename T>
BS_HOST_DEVICE inline T from_float(float f);
template <>
BS_HOST_DEVICE inline float from_float<float>(float f) {
  return f;
}
template <>
BS_HOST_DEVICE inline half_t from_float<half_t>(float f) {
  return to_half(f);
}
template <>
BS_HOST_DEVICE inline bf16_t from_float<bf16_t>(float f) {
  return to_bf16(f);
}

// Calls f(T{}) with T the storage type of `dtype` (float, half_t or bf16_t).
template <typename F>
decltype(auto) dispatch_dtype(int32_t dtype, F&& f) {
  switch (dtype) {
    case BS_DTYPE_F16: return f(half_t{});
    case BS_DTYPE_BF16: return f(bf16_t{});
    default: return f(float{});
  }
}

}  // namespace bs
