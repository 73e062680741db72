#pragma once
// CPU backend of the ops (host pointers, OpenMP). Its member functions are defined by family in
// lib/cpu/ops_cpu_*.cpp. Every reduction uses a partition that depends only on the shape (and, for
// layer norm, on the plan's thread count), so results are bitwise repeatable.
#include <cstring>

#include "core/dtype.hpp"
#include "ops/ops_backend.hpp"

namespace bs::ops {

class CpuOps final : public OpsBackend {
 public:
  int32_t current_device() const override { return 0; }
  void check_device(int32_t device) const override;
  void check_pointer(const void* p, size_t align, int32_t device, const char* name) const override;
  void* upload(const void* host, size_t bytes, int32_t device) const override;
  void release(void* p, int32_t device) const noexcept override;

  size_t layernorm_workspace(const LnConfig& c, int64_t N, bool bprop) const override;
  void layernorm_fprop(const LnConfig& c, const LnFpropArgs& a) const override;
  void layernorm_bprop(const LnConfig& c, const LnBpropArgs& a) const override;

  void ew_unary(const UnaryArgs& a) const override;
  void ew_binary(const BinaryArgs& a) const override;
  void ew_binary_grad(const BinaryArgs& a) const override;
  void float_cast(const CastArgs& a) const override;
  void add_n(const AddNArgs& a) const override;
  void dropout(const DropoutArgs& a) const override;
  void channel(const ChannelArgs& a) const override;
  void lstm_fprop(const LstmArgs& a) const override;
  void lstm_bprop(const LstmArgs& a) const override;
  void split4(const Split4Args& a) const override;
  void sparse_proj(const ProjArgs& a) const override;
};

// Typed element access for host loops: element i of a tensor of storage type T, as fp32.
template <typename T>
inline float ld(const void* p, int64_t i) {
  return to_float(static_cast<const T*>(p)[i]);
}
template <typename T>
inline void st(void* p, int64_t i, float v) {
  static_cast<T*>(p)[i] = from_float<T>(v);
}

// Element-wise loops are split into chunks of this many elements (one OpenMP task each).
constexpr int64_t kCpuChunk = 1 << 14;

}  // namespace bs::ops
