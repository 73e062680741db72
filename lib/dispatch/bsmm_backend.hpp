#pragma once
// The interface every bsmm backend implements (CPU in lib/cpu, CUDA in kernels/bsmm), and the
// plan object behind the opaque bsmm_plan_t. The C API layer validates everything that does not
// depend on the backend; a backend validates its own pointers and workspace needs.
#include <blocksparse/bsmm.h>

#include <cstddef>
#include <cstdint>
#include <memory>

#include "layout/bsmm_layout.hpp"

namespace bs {

// The validated creation parameters of a plan.
struct BsmmConfig {
  int32_t backend = BS_BACKEND_CPU;
  int32_t device = 0;
  int32_t block_size = 32;
  int32_t feature_axis = 1;
  int32_t dtype = BS_DTYPE_F32;
  int32_t math_mode = BS_MATH_DEFAULT;
  int32_t num_threads = 0;  // resolved by the CPU backend (0 = all hardware threads)
  int64_t C = 0, K = 0;
};

// Arguments of fprop and bprop: out = alpha·(in·op(W)) + beta·out, op = identity (fprop) or
// transpose (bprop). Activations are (N, features) for feature_axis 1, (features, N) for 0.
struct BsmmXpropArgs {
  bool bprop = false;
  int64_t N = 0;
  const void* in = nullptr;
  const void* w = nullptr;
  void* out = nullptr;
  float alpha = 1.0f, beta = 0.0f;
  const float* gate = nullptr;
  void* workspace = nullptr;
  size_t workspace_bytes = 0;
  bs_stream_t stream = nullptr;
};

struct BsmmUpdatArgs {
  int64_t N = 0;
  int32_t n_pairs = 0;
  const void* const* x = nullptr;
  const void* const* dy = nullptr;
  void* dw = nullptr;
  float alpha = 1.0f, beta = 0.0f;
  const float* gate = nullptr;
  void* workspace = nullptr;
  size_t workspace_bytes = 0;
  bs_stream_t stream = nullptr;
};

// bsmm_l2_normalize (grad = false: in = w, out = y) and its gradient (grad = true: in = dy, out = dw).
struct BsmmL2NormArgs {
  bool grad = false;
  const void* in = nullptr;
  const void* w = nullptr;
  const float* gain = nullptr;
  void* out = nullptr;
  float* dgain = nullptr;
  float epsilon = 0.0f;
  void* workspace = nullptr;
  size_t workspace_bytes = 0;
  bs_stream_t stream = nullptr;
};

class BsmmBackend {
 public:
  virtual ~BsmmBackend() = default;
  // Threads per call (CPU) or 0.
  virtual int32_t num_threads() const = 0;
  virtual size_t workspace_size(bsmm_op_t op, int64_t N) const = 0;
  // Throws unless `p` is a usable tensor pointer of this backend (alignment, device).
  virtual void check_tensor(const void* p, const char* name) const = 0;
  virtual void xprop(const BsmmXpropArgs& args) const = 0;
  virtual void updat(const BsmmUpdatArgs& args) const = 0;
  virtual void identity_init(void* w, float scale, bs_stream_t stream) const = 0;
  virtual void l2_normalize(const BsmmL2NormArgs& args) const = 0;
};

// Backend factories. The layout outlives the backend (both belong to the plan).
std::unique_ptr<BsmmBackend> make_bsmm_backend(const BsmmConfig& config, const BsmmLayout& layout);
std::unique_ptr<BsmmBackend> make_bsmm_cpu_backend(const BsmmConfig& config, const BsmmLayout& layout);
#if defined(BS_WITH_CUDA)
std::unique_ptr<BsmmBackend> make_bsmm_cuda_backend(const BsmmConfig& config, const BsmmLayout& layout);
#endif

}  // namespace bs

// The object behind bsmm_plan_t (global namespace: it completes the public incomplete type).
struct bsmm_plan_s {
  bs::BsmmConfig config;
  bs::BsmmLayout layout;                     // declared before backend: outlives it
  std::unique_ptr<bs::BsmmBackend> backend;
};
