#pragma once
// CPU backend of bst: host pointers, OpenMP threads, fp32 arithmetic on block-sized tiles.
//
// Work is split into tasks that each own a set of output rows: (batch, head, query block) for the
// outputs indexed by queries (SDD scores of a block row, softmax rows, DSD, the fused forward and
// dq), (batch, head, key block) for those indexed by keys (DSD_T, dk/dv). A task runs on one
// thread and sums in an order fixed by the layout, so results do not depend on the thread count
// or the schedule: every op is deterministic. Tasks are handed out longest rows first.
//
// Scratch: one slot of fp32 tiles per thread in the caller's workspace (nothing is allocated on
// the execute path); the backward also keeps the row sums δ = Σ do·o there.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "cpu/bst/bst_gemm.hpp"
#include "dispatch/bst_backend.hpp"

namespace bs {
namespace cpu {

class CpuBst final : public BstBackend {
 public:
  CpuBst(const BstConfig& config, const BstLayout& layout);

  int32_t num_threads() const override { return threads_; }
  size_t workspace_size(bst_op_t op, int64_t batch) const override;
  void check_tensor(const void* p, const char* name) const override;
  void check_supported(bst_op_t) const override {}
  void unfused(const BstUnfusedArgs& args) const override;
  void attention_fprop(const BstAttentionArgs& args) const override;
  void attention_bprop(const BstAttentionArgs& args) const override;

 private:
  // Floats of one thread's scratch slot.
  size_t slot_floats() const;
  float* slot(void* workspace, int thread) const;

  template <typename T>
  void sdd(const BstUnfusedArgs& a) const;
  template <typename T>
  void softmax(const BstUnfusedArgs& a) const;
  template <typename T>
  void dsd(const BstUnfusedArgs& a) const;
  template <typename T>
  void dsd_t(const BstUnfusedArgs& a) const;
  template <typename T>
  void fprop(const BstAttentionArgs& a) const;
  template <typename T>
  void bprop(const BstAttentionArgs& a) const;

  BstConfig cfg_;
  const BstLayout& layout_;
  int32_t threads_ = 1;
  const BstGemm& gemm_;
  std::vector<int64_t> rows_;  // (head, query block) pairs, longest first
  std::vector<int64_t> cols_;  // (head, key block) pairs, longest first
};

}  // namespace cpu
}  // namespace bs
