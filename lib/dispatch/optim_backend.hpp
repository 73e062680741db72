#pragma once
// The interface of the optimizer backends (CPU: lib/cpu/optim; no CUDA backend yet) and the plan
// object behind bs_optim_plan_t. The C API layer (lib/api/optim_api.cpp) validates every argument,
// every pointer of every tensor included, and prepares the scalars; a backend only runs the math.
#include <blocksparse/bs_optim.h>

#include <cstddef>
#include <cstdint>
#include <memory>

#include "layout/optim_worklist.hpp"
#include "math/optim_math.hpp"

namespace bs {

struct OptimConfig {
  int32_t backend = BS_BACKEND_CPU;
  int32_t device = 0;
  int32_t num_threads = 0;  // CPU: 0 = OpenMP default (resolved by the backend)
};

// Per-tensor pointer arrays of one call (host arrays of n_tensors entries, in plan order).
struct AdamArgs {
  AdamScalars s;
  void* const* params = nullptr;
  const void* const* grads = nullptr;
  float* const* m = nullptr;
  float* const* v = nullptr;
  const float* const* gates = nullptr;   // NULL, or entries NULL for "no gate"
  const float* const* select = nullptr;  // likewise
  const float* norm_scale = nullptr;     // backend memory; NULL = 1
  bs_stream_t stream = nullptr;
};

struct AdafactorArgs {
  float lr = 0, decay = 0, eps = 0, clip_thresh = 1;
  GradFilter filter;
  void* const* params = nullptr;
  const void* const* grads = nullptr;
  float* const* row_var = nullptr;  // NULL entries for tensors with rows = 1
  float* const* col_var = nullptr;
  const float* norm_scale = nullptr;
  void* workspace = nullptr;
  bs_stream_t stream = nullptr;
};

struct EmaArgs {
  float decay = 0;
  float* const* ema = nullptr;
  const void* const* params = nullptr;
  const float* const* gates = nullptr;
  bs_stream_t stream = nullptr;
};

struct GlobalNormArgs {
  const void* const* grads = nullptr;
  GradFilter filter;
  float clip_norm = 1.0f;
  float* norm = nullptr;        // optional outputs, backend memory
  float* norm_scale = nullptr;
  void* workspace = nullptr;
  bs_stream_t stream = nullptr;
};

class OptimBackend {
 public:
  virtual ~OptimBackend() = default;
  virtual int32_t num_threads() const = 0;
  virtual size_t workspace_size(bs_optim_op_t op) const = 0;
  // Throws unless `p` is memory of this backend (and the plan's device) aligned to `align` bytes.
  virtual void check_tensor(const void* p, size_t align, const char* name) const = 0;
  virtual void adam(const AdamArgs& a) const = 0;
  virtual void adafactor(const AdafactorArgs& a) const = 0;
  virtual void ema(const EmaArgs& a) const = 0;
  virtual void global_norm(const GlobalNormArgs& a) const = 0;
};

// The work list outlives the backend (both belong to the plan). make_optim_backend picks by config.backend.
std::unique_ptr<OptimBackend> make_optim_backend(const OptimConfig& c, const OptimWorklist& w);
std::unique_ptr<OptimBackend> make_optim_cpu_backend(const OptimConfig& c, const OptimWorklist& w);

}  // namespace bs

// The object behind bs_optim_plan_t (global namespace: it completes the public incomplete type).
struct bs_optim_plan_s {
  bs::OptimConfig config;
  bs::OptimWorklist work;  // declared before backend: outlives it
  std::unique_ptr<bs::OptimBackend> backend;
};
