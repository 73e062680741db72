#pragma once
// Argument checks shared by every entry point. Each throws bs::Error with a message that names
// the argument, so the C API reports e.g. "bsmm_fprop: x is NULL".
#include <blocksparse/bs_types.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>

#include "core/error.hpp"

namespace bs {

inline void check_not_null(const void* p, const char* name) {
  if (p == nullptr) fail(BS_STATUS_NULL_POINTER, name, " is NULL");
}

inline void check_finite(float v, const char* name) {
  if (!std::isfinite(v)) fail(BS_STATUS_INVALID_VALUE, name, " must be finite (got ", v, ")");
}

// a*b for non-negative sizes, or BS_STATUS_OVERFLOW naming what was being computed.
inline int64_t checked_mul(int64_t a, int64_t b, const char* what) {
  int64_t r = 0;
  if (a < 0 || b < 0 || __builtin_mul_overflow(a, b, &r)) fail(BS_STATUS_OVERFLOW, what, " overflows int64");
  return r;
}

// a+b for non-negative sizes, or BS_STATUS_OVERFLOW.
inline int64_t checked_add(int64_t a, int64_t b, const char* what) {
  int64_t r = 0;
  if (a < 0 || b < 0 || __builtin_add_overflow(a, b, &r)) fail(BS_STATUS_OVERFLOW, what, " overflows int64");
  return r;
}

// Bytes of `count` elements of `elem_bytes`, also checked against the address space.
inline size_t checked_bytes(int64_t count, size_t elem_bytes, const char* what) {
  const int64_t bytes = checked_mul(count, static_cast<int64_t>(elem_bytes), what);
  if (static_cast<uint64_t>(bytes) > std::numeric_limits<size_t>::max() / 2)
    fail(BS_STATUS_OVERFLOW, what, " exceeds the address space");
  return static_cast<size_t>(bytes);
}

// The value a caller passed for an enum parameter. C lets any int through an enum type, but loading
// a value outside the enumerators' range through the C++ enum type is undefined behaviour (UBSan
// -fsanitize=enum), so entry points read enum arguments only through this.
template <typename E>
int32_t enum_arg(const E& e) {
  static_assert(std::is_enum_v<E> && sizeof(E) == sizeof(int32_t), "a 32-bit C enum");
  int32_t v;
  std::memcpy(&v, &e, sizeof v);
  return v;
}

inline bool is_aligned(const void* p, size_t alignment) {
  return reinterpret_cast<uintptr_t>(p) % alignment == 0;
}

inline void check_aligned(const void* p, size_t alignment, const char* name) {
  if (p != nullptr && !is_aligned(p, alignment))
    fail(BS_STATUS_MISALIGNED_POINTER, name, " is not aligned to ", alignment, " bytes");
}

// Reads a caller's parameter struct whose first field is its uint32_t size: fields the caller's
// header did not have keep the defaults in `out`. Sizes below the first published version, or
// larger than this library's struct, are refused.
template <typename Params>
Params read_params(const Params* in, size_t min_size, const char* name) {
  check_not_null(in, name);
  const uint32_t size = in->struct_size;
  if (size < min_size || size > sizeof(Params))
    fail(BS_STATUS_STRUCT_SIZE_MISMATCH, name, "->struct_size is ", size, "; this library accepts ", min_size,
         "..", sizeof(Params), " (fill it with the *_params_init function)");
  Params out{};
  std::memcpy(&out, in, size);
  return out;
}

}  // namespace bs
