#pragma once
// Validation helpers shared by the extern "C" shims of the ops (lib/api/ops_*_api.cpp and
// layernorm_api.cpp). Every check throws bs::Error with a message naming the argument.
#include "core/checks.hpp"
#include "core/dtype.hpp"
#include "ops/ops_backend.hpp"

namespace bs::ops {

// The backend and device a call runs on, and pointer checks against them.
class CallTarget {
 public:
  // Plain ops: the current device of `backend`.
  explicit CallTarget(int32_t backend) : be_(ops_backend(backend)), device_(be_.current_device()) {
    be_.check_device(device_);
  }
  // Plans: the plan's backend and device.
  CallTarget(const OpsBackend& be, int32_t device) : be_(be), device_(device) {}

  const OpsBackend& backend() const { return be_; }
  int32_t device() const { return device_; }

  // A required tensor of `dtype` elements.
  void tensor(const void* p, int32_t dtype, const char* name) const {
    check_not_null(p, name);
    be_.check_pointer(p, dtype_bytes(dtype), device_, name);
  }
  void optional_tensor(const void* p, int32_t dtype, const char* name) const {
    if (p) tensor(p, dtype, name);
  }
  // fp32 vectors and uint32 masks (4-byte elements).
  void words(const void* p, const char* name) const { tensor(p, BS_DTYPE_F32, name); }
  void optional_words(const void* p, const char* name) const { optional_tensor(p, BS_DTYPE_F32, name); }

 private:
  const OpsBackend& be_;
  int32_t device_;
};

inline void check_size(int64_t v, const char* name) {
  if (v < 0) fail(BS_STATUS_INVALID_VALUE, name, " must be >= 0 (got ", v, ")");
}

// Element count a*b (each >= 0), checked so that its byte size fits the address space.
inline int64_t checked_elements(int64_t a, int64_t b, int32_t dtype, const char* what) {
  const int64_t n = checked_mul(a, b, what);
  checked_bytes(n, dtype_valid(dtype) ? dtype_bytes(dtype) : 4, what);
  return n;
}

inline void check_enum(int32_t v, int32_t lo, int32_t hi, const char* name, const char* type) {
  if (v < lo || v > hi) fail(BS_STATUS_INVALID_VALUE, name, " is not a ", type, " (got ", v, ")");
}

inline void check_flag(int32_t v, const char* name) {
  if (v != 0 && v != 1) fail(BS_STATUS_INVALID_VALUE, name, " must be 0 or 1 (got ", v, ")");
}

}  // namespace bs::ops
