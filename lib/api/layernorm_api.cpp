// extern "C" entry points of layernorm.h: plan creation and validation of every call.
#include <blocksparse/layernorm.h>
#include <omp.h>

#include <cstddef>
#include <memory>

#include "ops/ops_api_util.hpp"

using namespace bs;
using namespace bs::ops;

// The object behind layernorm_plan_t: validated configuration and its backend.
struct layernorm_plan_s {
  LnConfig config;
  const OpsBackend* backend = nullptr;
};

namespace {

constexpr size_t kParamsV1Size = offsetof(layernorm_params_t, num_threads) + sizeof(int32_t);

LnConfig validate_params(const layernorm_params_t* in) {
  const layernorm_params_t p = read_params(in, kParamsV1Size, "params");
  LnConfig c;
  c.backend = p.backend;
  c.device = p.device;
  c.dtype = p.dtype;
  c.feature_axis = p.feature_axis;
  c.segments = p.segments;
  c.relu = p.relu;
  c.deterministic = p.deterministic;
  c.num_threads = p.num_threads;
  c.K = p.K;
  c.epsilon = p.epsilon;
  check_enum(c.backend, BS_BACKEND_CPU, BS_BACKEND_CUDA, "params->backend", "bs_backend_t");
  check_dtype(c.dtype, "params->dtype");
  if (c.feature_axis != 0 && c.feature_axis != 1)
    fail(BS_STATUS_INVALID_VALUE, "params->feature_axis must be 0 or 1 (got ", c.feature_axis, ")");
  if (c.K < 1) fail(BS_STATUS_INVALID_VALUE, "params->K must be >= 1 (got ", c.K, ")");
  if (c.segments < 1 || c.K % c.segments != 0)
    fail(BS_STATUS_INVALID_VALUE, "params->segments must be >= 1 and divide K = ", c.K, " (got ", c.segments, ")");
  check_finite(c.epsilon, "params->epsilon");
  if (c.epsilon < 0.0f) fail(BS_STATUS_INVALID_VALUE, "params->epsilon must be >= 0 (got ", c.epsilon, ")");
  check_flag(c.relu, "params->relu");
  check_flag(c.deterministic, "params->deterministic");
  if (c.num_threads < 0) fail(BS_STATUS_INVALID_VALUE, "params->num_threads must be >= 0 (got ", c.num_threads, ")");
  if (c.backend == BS_BACKEND_CUDA && c.num_threads != 0)
    fail(BS_STATUS_INVALID_VALUE, "params->num_threads must be 0 for CUDA plans (got ", c.num_threads, ")");
  if (c.device < 0) fail(BS_STATUS_INVALID_VALUE, "params->device must be >= 0 (got ", c.device, ")");
  checked_bytes(c.K, 8, "K");
  if (c.backend == BS_BACKEND_CPU && c.num_threads == 0) c.num_threads = omp_get_max_threads();
  return c;
}

const layernorm_plan_s& plan_ref(const_layernorm_plan_t plan) {
  check_not_null(plan, "plan");
  return *plan;
}

void check_N(const LnConfig& c, int64_t N) {
  check_size(N, "N");
  checked_elements(N, c.K, c.dtype, "N*K");
}

void check_workspace(const layernorm_plan_s& p, const CallTarget& t, int64_t N, bool bprop, const void* ws,
                     size_t ws_bytes) {
  const size_t need = p.backend->layernorm_workspace(p.config, N, bprop);
  if (ws_bytes < need)
    fail(BS_STATUS_WORKSPACE_TOO_SMALL, "workspace_bytes is ", ws_bytes, " but this call needs ", need,
         " (see layernorm_get_workspace_size)");
  if (need > 0) t.words(ws, "workspace");
}

}  // namespace

extern "C" {

BS_API bs_status_t layernorm_params_init(layernorm_params_t* params, size_t struct_size) {
  return translate(__func__, [&] {
    check_not_null(params, "params");
    if (struct_size < kParamsV1Size || struct_size > sizeof(layernorm_params_t))
      fail(BS_STATUS_STRUCT_SIZE_MISMATCH, "struct_size is ", struct_size, "; this library accepts ", kParamsV1Size,
           "..", sizeof(layernorm_params_t));
    layernorm_params_t d{};
    d.struct_size = static_cast<uint32_t>(struct_size);
    d.backend = BS_BACKEND_CPU;
    d.device = 0;
    d.dtype = BS_DTYPE_F32;
    d.feature_axis = 1;
    d.segments = 1;
    d.K = 0;
    d.epsilon = 1e-6f;
    d.relu = 0;
    d.deterministic = 1;
    d.num_threads = 0;
    std::memcpy(params, &d, struct_size);
  });
}

BS_API bs_status_t layernorm_create(layernorm_plan_t* plan, const layernorm_params_t* params) {
  return translate(__func__, [&] {
    check_not_null(plan, "plan");
    const LnConfig config = validate_params(params);
    const OpsBackend& be = ops_backend(config.backend);
    be.check_device(config.device);
    auto p = std::make_unique<layernorm_plan_s>();
    p->config = config;
    p->backend = &be;
    *plan = p.release();
  });
}

BS_API bs_status_t layernorm_destroy(layernorm_plan_t plan) {
  return translate(__func__, [&] { delete plan; });
}

BS_API bs_status_t layernorm_get_workspace_size(const_layernorm_plan_t plan, layernorm_op_t op, int64_t N,
                                                size_t* bytes) {
  return translate(__func__, [&] {
    const layernorm_plan_s& p = plan_ref(plan);
    check_not_null(bytes, "bytes");
    check_enum(op, LAYERNORM_OP_FPROP, LAYERNORM_OP_BPROP, "op", "layernorm_op_t");
    check_N(p.config, N);
    *bytes = p.backend->layernorm_workspace(p.config, N, op == LAYERNORM_OP_BPROP);
  });
}

BS_API bs_status_t layernorm_fprop(const_layernorm_plan_t plan, int64_t N, const void* x, const float* gain,
                                   const float* bias, void* y, float* mean, float* rstd, void* workspace,
                                   size_t workspace_bytes, bs_stream_t stream) {
  return translate(__func__, [&] {
    const layernorm_plan_s& p = plan_ref(plan);
    const LnConfig& c = p.config;
    check_N(c, N);
    if (N == 0) return;
    const CallTarget t(*p.backend, c.device);
    t.tensor(x, c.dtype, "x");
    t.optional_words(gain, "gain");
    t.optional_words(bias, "bias");
    t.tensor(y, c.dtype, "y");
    if ((mean == nullptr) != (rstd == nullptr))
      fail(BS_STATUS_NULL_POINTER, mean ? "rstd" : "mean", " is NULL but ", mean ? "mean" : "rstd",
           " is given (both or neither)");
    t.optional_words(mean, "mean");
    t.optional_words(rstd, "rstd");
    check_workspace(p, t, N, false, workspace, workspace_bytes);
    LnFpropArgs a;
    a.N = N;
    a.x = x;
    a.gain = gain;
    a.bias = bias;
    a.y = y;
    a.mean = mean;
    a.rstd = rstd;
    a.workspace = workspace;
    a.workspace_bytes = workspace_bytes;
    a.stream = stream;
    p.backend->layernorm_fprop(c, a);
  });
}

BS_API bs_status_t layernorm_bprop(const_layernorm_plan_t plan, int64_t N, const void* dy, const void* x,
                                   const float* gain, const float* bias, const float* mean, const float* rstd,
                                   void* dx, float* dgain, float* dbias, void* workspace, size_t workspace_bytes,
                                   bs_stream_t stream) {
  return translate(__func__, [&] {
    const layernorm_plan_s& p = plan_ref(plan);
    const LnConfig& c = p.config;
    check_N(c, N);
    const CallTarget t(*p.backend, c.device);
    t.optional_words(dgain, "dgain");
    t.optional_words(dbias, "dbias");
    if (N == 0 && !dgain && !dbias) return;
    if (N > 0) {
      t.tensor(dy, c.dtype, "dy");
      t.tensor(x, c.dtype, "x");
      t.optional_words(gain, "gain");
      t.optional_words(bias, "bias");
      t.words(mean, "mean");
      t.words(rstd, "rstd");
      t.tensor(dx, c.dtype, "dx");
    }
    check_workspace(p, t, N, true, workspace, workspace_bytes);
    LnBpropArgs a;
    a.N = N;
    a.dy = dy;
    a.x = x;
    a.gain = gain;
    a.bias = bias;
    a.mean = mean;
    a.rstd = rstd;
    a.dx = dx;
    a.dgain = dgain;
    a.dbias = dbias;
    a.workspace = workspace;
    a.workspace_bytes = workspace_bytes;
    a.stream = stream;
    p.backend->layernorm_bprop(c, a);
  });
}

}  // extern "C"
