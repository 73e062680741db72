#pragma once
// The interface every bst backend implements (CPU in lib/cpu/bst, CUDA in kernels/bst), and the
// plan object behind the opaque bst_plan_t. The C API layer validates everything that does not
// depend on the backend; a backend validates its own pointers and what it implements.
#include <blocksparse/bst.h>

#include <cstddef>
#include <cstdint>
#include <memory>

#include "layout/bst_layout.hpp"
#include "layout/bst_masking.hpp"

namespace bs {

// The validated creation parameters of a plan.
struct BstConfig {
  int32_t backend = BS_BACKEND_CPU;
  int32_t device = 0;
  int32_t block_size = 64;
  int32_t heads = 1;
  int32_t head_dim = 64;
  int32_t dtype = BS_DTYPE_F32;
  int32_t format = BST_FORMAT_BSHD;
  int32_t num_threads = 0;
  BstCausal causal;
  int64_t Sq = 0, Sk = 0;

  // Element offset of (batch n, position s, head h, feature 0) in a tensor of `S` positions, and
  // the distance between consecutive positions of one head.
  int64_t offset(int64_t n, int64_t s, int64_t h, int64_t S) const {
    return format == BST_FORMAT_BSHD ? ((n * S + s) * heads + h) * head_dim : ((n * heads + h) * S + s) * head_dim;
  }
  int64_t row_stride() const { return format == BST_FORMAT_BSHD ? int64_t{heads} * head_dim : head_dim; }
};

// One unfused op (bst_sdd ... bst_dsd_t). Operands by op:
//   SDD:          a = query side, b = key side, out = scores
//   SOFTMAX:      a = scores, out = probs (may equal a)
//   SOFTMAX_GRAD: a = probs, b = dprobs, out = dscores (may equal b)
//   DSD:          a = scores, b = key side, out = query side
//   DSD_T:        a = scores, b = query side, out = key side
struct BstUnfusedArgs {
  bst_op_t op = BST_OP_SDD;
  int64_t batch = 0;
  const void* a = nullptr;
  const void* b = nullptr;
  void* out = nullptr;
  float scale = 1.0f;
  void* workspace = nullptr;
  size_t workspace_bytes = 0;
  bs_stream_t stream = nullptr;
};

// Dropout of the attention probabilities: keep iff the element's Philox word < threshold.
struct BstDropout {
  uint64_t threshold = uint64_t{1} << 32;  // 2^32: keep everything
  float scale = 1.0f;                      // 1/keep_prob rounded to fp32
  uint64_t seed = 0, offset = 0;
  bool active() const { return threshold < (uint64_t{1} << 32); }
};

// Fused attention. fprop reads q, k, v and writes o (and lse when not null); bprop reads q, k, v,
// o, dout, lse and writes dq, dk, dv.
struct BstAttentionArgs {
  int64_t batch = 0;
  const void *q = nullptr, *k = nullptr, *v = nullptr, *o = nullptr, *dout = nullptr;
  void *o_out = nullptr, *dq = nullptr, *dk = nullptr, *dv = nullptr;
  const float* lse = nullptr;
  float* lse_out = nullptr;
  float scale = 1.0f;
  BstDropout dropout;
  void* workspace = nullptr;
  size_t workspace_bytes = 0;
  bs_stream_t stream = nullptr;
};

class BstBackend {
 public:
  virtual ~BstBackend() = default;
  virtual int32_t num_threads() const = 0;
  virtual size_t workspace_size(bst_op_t op, int64_t batch) const = 0;
  // Throws unless `p` is a usable tensor pointer of this backend (memory kind, device, alignment).
  virtual void check_tensor(const void* p, const char* name) const = 0;
  // Throws BS_STATUS_NOT_SUPPORTED when this backend has no kernel for the op on this plan.
  virtual void check_supported(bst_op_t op) const = 0;
  virtual void unfused(const BstUnfusedArgs& args) const = 0;
  virtual void attention_fprop(const BstAttentionArgs& args) const = 0;
  virtual void attention_bprop(const BstAttentionArgs& args) const = 0;
};

// Backend factories. The layout outlives the backend (both belong to the plan).
std::unique_ptr<BstBackend> make_bst_backend(const BstConfig& config, const BstLayout& layout);
std::unique_ptr<BstBackend> make_bst_cpu_backend(const BstConfig& config, const BstLayout& layout);

}  // namespace bs

// The object behind bst_plan_t (global namespace: it completes the public incomplete type).
struct bst_plan_s {
  bs::BstConfig config;
  bs::BstLayout layout;  // declared before backend: outlives it
  std::unique_ptr<bs::BstBackend> backend;
};
