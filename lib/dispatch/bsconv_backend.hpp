#pragma once
// The interface of bsconv backends (CPU in lib/cpu/bsconv_cpu.cpp) and the plan object behind the
// opaque bsconv_plan_t. The C API layer validates everything that does not depend on the backend.
#include <blocksparse/bsconv.h>

#include <cstddef>
#include <cstdint>
#include <memory>

#include "layout/bsconv_layout.hpp"

namespace bs {

struct BsconvConfig {
  int32_t backend = BS_BACKEND_CPU;
  int32_t device = 0;
  int32_t dtype = BS_DTYPE_F32;
  int32_t layout = BSCONV_LAYOUT_CHANNELS_FIRST;
  int32_t num_threads = 0;
  bool deconv = false;
  int64_t C = 0, K = 0;  // the plan's own input and output channels
};

// One execute call; which pointers are used depends on the op.
struct BsconvArgs {
  bsconv_op_t op = BSCONV_OP_FPROP;
  int64_t N = 0;
  const void* a = nullptr;  // fprop x, bprop dy, updat x, edge x / dy, l2 f / dy
  const void* b = nullptr;  // fprop/bprop f, updat dy, edge-bprop x, l2-grad f
  void* out = nullptr;      // y, dx, df
  const float* g = nullptr;     // edge gain / l2 gain
  const float* bias = nullptr;  // edge bias
  float* dg = nullptr;
  float* db = nullptr;
  float alpha = 1.0f, beta = 0.0f, epsilon = 0.0f;
  void* workspace = nullptr;
  size_t workspace_bytes = 0;
  bs_stream_t stream = nullptr;
};

class BsconvBackend {
 public:
  virtual ~BsconvBackend() = default;
  virtual int32_t num_threads() const = 0;
  virtual size_t workspace_size(bsconv_op_t op, int64_t N) const = 0;
  virtual void check_tensor(const void* p, const char* name) const = 0;
  virtual void run(const BsconvArgs& args) const = 0;
};

std::unique_ptr<BsconvBackend> make_bsconv_backend(const BsconvConfig& config, const ConvLayout& layout);
std::unique_ptr<BsconvBackend> make_bsconv_cpu_backend(const BsconvConfig& config, const ConvLayout& layout);

}  // namespace bs

struct bsconv_plan_s {
  bs::BsconvConfig config;
  bs::ConvLayout layout;  // declared before backend: outlives it
  std::unique_ptr<bs::BsconvBackend> backend;
};
