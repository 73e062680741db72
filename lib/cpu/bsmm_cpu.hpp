#pragma once
// CPU backend of bsmm: host pointers, OpenMP threads, fp32 accumulation on a register-blocked
// micro-kernel (microkernel.hpp).
//
// Determinism: every output tile belongs to exactly one task, a task runs on one thread, and the
// summation order inside a tile is fixed by the layout alone, so results do not depend on the
// thread count or the schedule. No atomics, no reductions across threads.
//
// Memory: nothing is allocated on the execute path. Scratch comes from the caller's workspace:
// a shared region (fprop/bprop: the input as fp32 block-major panels) followed by one slot per
// thread (accumulators, packed weight blocks, activation slices).
#include <cstddef>
#include <cstdint>
#include <vector>

#include "cpu/microkernel.hpp"
#include "dispatch/bsmm_backend.hpp"

namespace bs {
namespace cpu {

constexpr size_t kAlign = 64;  // cache line: every scratch region starts on one

inline size_t round_up(size_t v, size_t a) { return (v + a - 1) / a * a; }

// Bump allocator over a caller's buffer (sizes were checked against workspace_size()).
class Scratch {
 public:
  explicit Scratch(void* base) : p_(reinterpret_cast<uintptr_t>(base)) { p_ = round_up(p_, kAlign); }
  template <typename U>
  U* take(size_t count) {
    U* r = reinterpret_cast<U*>(p_);
    p_ += round_up(count * sizeof(U), kAlign);
    return r;
  }

 private:
  uintptr_t p_;
};

// Tile sizes, fixed at plan creation from the block size.
struct Tiling {
  // fprop / bprop: output tiles of up to nr_max rows x one block; blocks summed kc at a time.
  int nv = 2;           // micro-tile width in 8-float vectors (16 columns; 8 for b = 8)
  int mr = 6;           // micro-tile rows
  int64_t nr_max = 256; // rows of N per task
  int64_t kc = 4;       // blocks per depth chunk: kc·b = 128, so an 8 KiB B panel stays in L1
                        // beside the A streams
  // updat: b x b tiles accumulated over N in chunks of nc rows, blocks of one layout row in
  // groups that share the x slice (8 KiB B panel per 128-row chunk, as above).
  int u_nv = 2;
  int u_mr = 6;
  int64_t nc = 128;
};

// An updat task: blocks [begin, end) of one layout row (consecutive in BSR order).
struct UpdatTask {
  int64_t begin, end;
};

class CpuBsmm final : public BsmmBackend {
 public:
  CpuBsmm(const BsmmConfig& config, const BsmmLayout& layout);

  int32_t num_threads() const override { return threads_; }
  size_t workspace_size(bsmm_op_t op, int64_t N) const override;
  void check_tensor(const void* p, const char* name) const override;
  void xprop(const BsmmXpropArgs& args) const override;
  void updat(const BsmmUpdatArgs& args) const override;
  void identity_init(void* w, float scale, bs_stream_t stream) const override;
  void l2_normalize(const BsmmL2NormArgs& args) const override;

 private:
  size_t xprop_thread_bytes() const;
  size_t updat_thread_bytes() const;
  int64_t xprop_row_tiles(int64_t N, int64_t out_blocks) const;

  template <typename T>
  void xprop_typed(const BsmmXpropArgs& a) const;
  template <typename T>
  void updat_typed(const BsmmUpdatArgs& a) const;
  template <typename T>
  void l2_typed(const BsmmL2NormArgs& a) const;

  BsmmConfig cfg_;
  const BsmmLayout& layout_;
  int32_t threads_ = 1;
  Tiling tile_;
  const MicroKernelSet* kernels_ = nullptr;
  std::vector<UpdatTask> updat_tasks_;
  int64_t updat_group_ = 1;  // largest task (blocks)
};

}  // namespace cpu
}  // namespace bs
