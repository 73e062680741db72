// CPU backend of bst: plan-time setup (threads, task orders), workspace sizes, pointer checks and
// scratch slots. The ops live in bst_cpu_unfused.cpp and bst_cpu_fused.cpp.
#include "cpu/bst/bst_cpu.hpp"

#include <omp.h>

#include "core/checks.hpp"
#include "core/dtype.hpp"
#include "cpu/bst/bst_cpu_tile.hpp"
#include "ops/ops_backend.hpp"

namespace bs {
namespace cpu {

CpuBst::CpuBst(const BstConfig& config, const BstLayout& layout)
    : cfg_(config), layout_(layout), gemm_(bst_gemm()) {
  threads_ = config.num_threads > 0 ? config.num_threads : omp_get_max_threads();
  rows_ = layout.rows_longest_first();
  cols_ = layout.cols_longest_first();
}

// One thread's tiles, for the op that needs the most (the backward): eight b × D tiles
// (q, k, v, do, their transposes where needed, two accumulators), four b × b tiles (scores,
// probabilities, their gradient, dropout factors) and four row vectors.
size_t CpuBst::slot_floats() const {
  const int64_t b = layout_.b, D = cfg_.head_dim;
  return static_cast<size_t>(8 * bst::Tiles::padded(b * D) + 4 * bst::Tiles::padded(b * b) +
                             4 * bst::Tiles::padded(b));
}

float* CpuBst::slot(void* workspace, int thread) const {
  const uintptr_t base = (reinterpret_cast<uintptr_t>(workspace) + 63) / 64 * 64;
  return reinterpret_cast<float*>(base) + static_cast<size_t>(thread) * slot_floats();
}

size_t CpuBst::workspace_size(bst_op_t op, int64_t batch) const {
  const size_t slots = 64 + static_cast<size_t>(threads_) * slot_floats() * sizeof(float);
  switch (op) {
    case BST_OP_SOFTMAX:
    case BST_OP_SOFTMAX_GRAD: return 0;  // row-wise on the score tensors themselves
    case BST_OP_ATTENTION_BPROP: {
      // δ = Σ do·o per (batch, head, query), after the slots.
      const int64_t rows = checked_mul(batch, cfg_.Sq * cfg_.heads, "batch*heads*Sq");
      return slots + checked_bytes(rows, sizeof(float), "workspace");
    }
    default: return slots;
  }
}

void CpuBst::check_tensor(const void* p, const char* name) const {
  // Alignment to the element size is checked by the API layer; the workspace is realigned here.
#if defined(BS_WITH_CUDA)
  if (ops::cuda_is_device_pointer(p))
    fail(BS_STATUS_WRONG_BACKEND, name, " is CUDA device memory but the plan's backend is the CPU");
#else
  (void)p;
  (void)name;
#endif
}

}  // namespace cpu

std::unique_ptr<BstBackend> make_bst_cpu_backend(const BstConfig& config, const BstLayout& layout) {
  return std::make_unique<cpu::CpuBst>(config, layout);
}

}  // namespace bs
