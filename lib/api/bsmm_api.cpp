// extern "C" entry points of bsmm.h: validate every argument that does not depend on the backend,
// then hand over to the plan's backend. Nothing is written to an output before validation ends.
#include <blocksparse/bsmm.h>

#include <cstddef>

#include "core/checks.hpp"
#include "core/dtype.hpp"
#include "dispatch/bsmm_backend.hpp"

namespace bs {
namespace {

// Size of the first published bsmm_params_t: struct_size values below it are refused.
constexpr size_t kParamsV1Size = offsetof(bsmm_params_t, num_threads) + sizeof(int32_t);

const bsmm_plan_s& plan_ref(const_bsmm_plan_t plan) {
  check_not_null(plan, "plan");
  return *plan;
}

bool valid_block_size(int32_t b) { return b == 8 || b == 16 || b == 32 || b == 64 || b == 128; }

BsmmConfig validate_params(const bsmm_params_t* in, int64_t CB, int64_t KB) {
  const bsmm_params_t p = read_params(in, kParamsV1Size, "params");
  BsmmConfig c;
  c.backend = p.backend;
  c.device = p.device;
  c.block_size = p.block_size;
  c.feature_axis = p.feature_axis;
  c.dtype = p.dtype;
  c.math_mode = p.math_mode;
  c.num_threads = p.num_threads;
  if (c.backend != BS_BACKEND_CPU && c.backend != BS_BACKEND_CUDA)
    fail(BS_STATUS_INVALID_VALUE, "params->backend is not a bs_backend_t (got ", c.backend, ")");
  if (!valid_block_size(c.block_size))
    fail(BS_STATUS_INVALID_VALUE, "params->block_size must be 8, 16, 32, 64 or 128 (got ", c.block_size, ")");
  if (c.feature_axis != 0 && c.feature_axis != 1)
    fail(BS_STATUS_INVALID_VALUE, "params->feature_axis must be 0 or 1 (got ", c.feature_axis, ")");
  check_dtype(c.dtype, "params->dtype");
  if (c.math_mode != BS_MATH_DEFAULT && c.math_mode != BS_MATH_TF32)
    fail(BS_STATUS_INVALID_VALUE, "params->math_mode is not a bs_math_mode_t (got ", c.math_mode, ")");
  if (c.num_threads < 0) fail(BS_STATUS_INVALID_VALUE, "params->num_threads must be >= 0 (got ", c.num_threads, ")");
  if (c.backend == BS_BACKEND_CPU && c.device != 0)
    fail(BS_STATUS_INVALID_VALUE, "params->device must be 0 for CPU plans (got ", c.device, ")");
  if (c.backend == BS_BACKEND_CUDA && c.device < 0)
    fail(BS_STATUS_INVALID_VALUE, "params->device must be >= 0 (got ", c.device, ")");
  if (c.backend == BS_BACKEND_CUDA && c.num_threads != 0)
    fail(BS_STATUS_INVALID_VALUE, "params->num_threads must be 0 for CUDA plans (got ", c.num_threads, ")");
  if (CB < 1) fail(BS_STATUS_INVALID_VALUE, "CB must be >= 1 (got ", CB, ")");
  if (KB < 1) fail(BS_STATUS_INVALID_VALUE, "KB must be >= 1 (got ", KB, ")");
  c.C = checked_mul(CB, c.block_size, "C = CB*block_size");
  c.K = checked_mul(KB, c.block_size, "K = KB*block_size");
  // Every element index of x, y and W must fit in int64 for any N the caller can address.
  checked_mul(checked_mul(CB, KB, "CB*KB"), int64_t{c.block_size} * c.block_size, "CB*KB*b*b");
  return c;
}

void finish_create(bsmm_plan_t* out, const BsmmConfig& config, BsmmLayout&& layout) {
  auto plan = std::make_unique<bsmm_plan_s>();
  plan->config = config;
  plan->layout = std::move(layout);
  plan->backend = make_bsmm_backend(plan->config, plan->layout);
  *out = plan.release();
}

void check_N(int64_t N) {
  if (N < 0) fail(BS_STATUS_INVALID_VALUE, "N must be >= 0 (got ", N, ")");
}

// Byte size of an activation with `features` features and minibatch N (also checks overflow).
size_t activation_bytes(const bsmm_plan_s& p, int64_t N, int64_t features, const char* name) {
  return checked_bytes(checked_mul(N, features, name), dtype_bytes(p.config.dtype), name);
}

void check_workspace(const bsmm_plan_s& p, bsmm_op_t op, int64_t N, const void* ws, size_t ws_bytes) {
  const size_t need = p.backend->workspace_size(op, N);
  if (ws_bytes < need)
    fail(BS_STATUS_WORKSPACE_TOO_SMALL, "workspace_bytes is ", ws_bytes, " but this call needs ", need,
         " (see bsmm_get_workspace_size)");
  if (need > 0) {
    check_not_null(ws, "workspace");
    p.backend->check_tensor(ws, "workspace");
  }
}

// A non-NULL tensor pointer: aligned to its element size (bsmm.h; the CPU kernels load whole
// elements), then the backend's own rules (memory kind, device, stricter alignment).
void check_data(const bsmm_plan_s& p, const void* ptr, size_t elem_bytes, const char* name) {
  check_aligned(ptr, elem_bytes, name);
  p.backend->check_tensor(ptr, name);
}

// A tensor of the plan's dtype (x, y, W and their gradients).
void check_tensor(const bsmm_plan_s& p, const void* ptr, const char* name) {
  check_not_null(ptr, name);
  check_data(p, ptr, dtype_bytes(p.config.dtype), name);
}

void xprop(bool bprop, const_bsmm_plan_t plan, int64_t N, const void* in, const void* w, void* out, float alpha,
           float beta, const float* gate, void* ws, size_t ws_bytes, bs_stream_t stream) {
  const bsmm_plan_s& p = plan_ref(plan);
  check_N(N);
  const char* in_name = bprop ? "dy" : "x";
  const char* out_name = bprop ? "dx" : "y";
  activation_bytes(p, N, bprop ? p.config.K : p.config.C, in_name);
  activation_bytes(p, N, bprop ? p.config.C : p.config.K, out_name);
  check_finite(alpha, "alpha");
  check_finite(beta, "beta");
  if (N == 0) return;
  check_tensor(p, in, in_name);
  check_tensor(p, w, "w");
  check_tensor(p, out, out_name);
  if (gate) check_data(p, gate, sizeof(float), "gate");
  check_workspace(p, bprop ? BSMM_OP_BPROP : BSMM_OP_FPROP, N, ws, ws_bytes);
  BsmmXpropArgs a;
  a.bprop = bprop;
  a.N = N;
  a.in = in;
  a.w = w;
  a.out = out;
  a.alpha = alpha;
  a.beta = beta;
  a.gate = gate;
  a.workspace = ws;
  a.workspace_bytes = ws_bytes;
  a.stream = stream;
  p.backend->xprop(a);
}

void l2_normalize(bool grad, const_bsmm_plan_t plan, const void* in, const void* w, const float* gain, void* out,
                  float* dgain, float epsilon, void* ws, size_t ws_bytes, bs_stream_t stream) {
  const bsmm_plan_s& p = plan_ref(plan);
  check_tensor(p, in, grad ? "dy" : "w");
  if (grad) check_tensor(p, w, "w");
  check_tensor(p, out, grad ? "dw" : "y");
  if (gain) check_data(p, gain, sizeof(float), "gain");
  if (grad && gain && !dgain) fail(BS_STATUS_NULL_POINTER, "dgain is NULL but a gain is given");
  if (grad && !gain && dgain) fail(BS_STATUS_INVALID_VALUE, "dgain must be NULL when no gain is given");
  if (dgain) check_data(p, dgain, sizeof(float), "dgain");
  check_finite(epsilon, "epsilon");
  if (epsilon < 0.0f) fail(BS_STATUS_INVALID_VALUE, "epsilon must be >= 0 (got ", epsilon, ")");
  check_workspace(p, grad ? BSMM_OP_L2_NORMALIZE_GRAD : BSMM_OP_L2_NORMALIZE, 0, ws, ws_bytes);
  BsmmL2NormArgs a;
  a.grad = grad;
  a.in = in;
  a.w = w;
  a.gain = gain;
  a.out = out;
  a.dgain = dgain;
  a.epsilon = epsilon;
  a.workspace = ws;
  a.workspace_bytes = ws_bytes;
  a.stream = stream;
  p.backend->l2_normalize(a);
}

}  // namespace
}  // namespace bs

using namespace bs;

extern "C" {

BS_API bs_status_t bsmm_params_init(bsmm_params_t* params, size_t struct_size) {
  return translate(__func__, [&] {
    check_not_null(params, "params");
    if (struct_size < kParamsV1Size || struct_size > sizeof(bsmm_params_t))
      fail(BS_STATUS_STRUCT_SIZE_MISMATCH, "struct_size is ", struct_size, "; this library accepts ", kParamsV1Size,
           "..", sizeof(bsmm_params_t));
    bsmm_params_t d{};
    d.struct_size = static_cast<uint32_t>(struct_size);
    d.backend = BS_BACKEND_CPU;
    d.device = 0;
    d.block_size = 32;
    d.feature_axis = 1;
    d.dtype = BS_DTYPE_F32;
    d.math_mode = BS_MATH_DEFAULT;
    d.num_threads = 0;
    std::memcpy(params, &d, struct_size);
  });
}

BS_API bs_status_t bsmm_create(bsmm_plan_t* plan, const bsmm_params_t* params, const uint8_t* layout, int64_t CB,
                               int64_t KB) {
  return translate(__func__, [&] {
    check_not_null(plan, "plan");
    const BsmmConfig config = validate_params(params, CB, KB);
    finish_create(plan, config, BsmmLayout::from_dense(layout, CB, KB));
  });
}

BS_API bs_status_t bsmm_create_bsr(bsmm_plan_t* plan, const bsmm_params_t* params, int64_t CB, int64_t KB,
                                   const int64_t* row_ptr, const int64_t* col_idx) {
  return translate(__func__, [&] {
    check_not_null(plan, "plan");
    const BsmmConfig config = validate_params(params, CB, KB);
    finish_create(plan, config, BsmmLayout::from_bsr(CB, KB, row_ptr, col_idx));
  });
}

BS_API bs_status_t bsmm_destroy(bsmm_plan_t plan) {
  return translate(__func__, [&] { delete plan; });
}

BS_API bs_status_t bsmm_get_attr(const_bsmm_plan_t plan, bsmm_attr_t attr, int64_t* value) {
  return translate(__func__, [&] {
    const bsmm_plan_s& p = plan_ref(plan);
    check_not_null(value, "value");
    const BsmmConfig& c = p.config;
    const int32_t a = enum_arg(attr);
    switch (a) {
      case BSMM_ATTR_C: *value = c.C; break;
      case BSMM_ATTR_K: *value = c.K; break;
      case BSMM_ATTR_CB: *value = p.layout.CB; break;
      case BSMM_ATTR_KB: *value = p.layout.KB; break;
      case BSMM_ATTR_BLOCK_SIZE: *value = c.block_size; break;
      case BSMM_ATTR_NNZ_BLOCKS: *value = p.layout.nnz; break;
      case BSMM_ATTR_FEATURE_AXIS: *value = c.feature_axis; break;
      case BSMM_ATTR_DTYPE: *value = c.dtype; break;
      case BSMM_ATTR_BACKEND: *value = c.backend; break;
      case BSMM_ATTR_DEVICE: *value = c.device; break;
      case BSMM_ATTR_MATH_MODE: *value = c.math_mode; break;
      case BSMM_ATTR_NUM_THREADS: *value = p.backend->num_threads(); break;
      default: fail(BS_STATUS_INVALID_VALUE, "attr is not a bsmm_attr_t (got ", a, ")");
    }
  });
}

BS_API bs_status_t bsmm_get_weight_shape(const_bsmm_plan_t plan, int64_t shape[3]) {
  return translate(__func__, [&] {
    const bsmm_plan_s& p = plan_ref(plan);
    check_not_null(shape, "shape");
    shape[0] = p.layout.nnz;
    shape[1] = p.config.block_size;
    shape[2] = p.config.block_size;
  });
}

static bs_status_t activation_shape(const char* fn, const_bsmm_plan_t plan, int64_t N, bool output, int64_t shape[2]) {
  return translate(fn, [&] {
    const bsmm_plan_s& p = plan_ref(plan);
    check_not_null(shape, "shape");
    check_N(N);
    const int64_t features = output ? p.config.K : p.config.C;
    checked_mul(N, features, "N*features");
    shape[0] = p.config.feature_axis == 1 ? N : features;
    shape[1] = p.config.feature_axis == 1 ? features : N;
  });
}

BS_API bs_status_t bsmm_get_input_shape(const_bsmm_plan_t plan, int64_t N, int64_t shape[2]) {
  return activation_shape(__func__, plan, N, false, shape);
}

BS_API bs_status_t bsmm_get_output_shape(const_bsmm_plan_t plan, int64_t N, int64_t shape[2]) {
  return activation_shape(__func__, plan, N, true, shape);
}

BS_API bs_status_t bsmm_block_coord(const_bsmm_plan_t plan, int64_t block, int64_t* c, int64_t* k) {
  return translate(__func__, [&] {
    const bsmm_plan_s& p = plan_ref(plan);
    check_not_null(c, "c");
    check_not_null(k, "k");
    if (block < 0 || block >= p.layout.nnz)
      fail(BS_STATUS_INVALID_VALUE, "block must be in [0, ", p.layout.nnz, ") (got ", block, ")");
    *c = p.layout.block_rows[block];
    *k = p.layout.row_cols[block];
  });
}

BS_API bs_status_t bsmm_get_layout(const_bsmm_plan_t plan, uint8_t* layout, int64_t layout_len) {
  return translate(__func__, [&] {
    const bsmm_plan_s& p = plan_ref(plan);
    check_not_null(layout, "layout");
    const int64_t need = p.layout.CB * p.layout.KB;
    if (layout_len < need) fail(BS_STATUS_SHAPE_MISMATCH, "layout_len is ", layout_len, " but CB*KB = ", need);
    std::memset(layout, 0, static_cast<size_t>(need));
    for (int64_t i = 0; i < p.layout.nnz; ++i) layout[p.layout.block_rows[i] * p.layout.KB + p.layout.row_cols[i]] = 1;
  });
}

BS_API bs_status_t bsmm_get_workspace_size(const_bsmm_plan_t plan, bsmm_op_t op, int64_t N, size_t* bytes) {
  return translate(__func__, [&] {
    const bsmm_plan_s& p = plan_ref(plan);
    check_not_null(bytes, "bytes");
    check_N(N);
    const int32_t o = enum_arg(op);
    if (o < BSMM_OP_FPROP || o > BSMM_OP_IDENTITY_INIT)
      fail(BS_STATUS_INVALID_VALUE, "op is not a bsmm_op_t (got ", o, ")");
    *bytes = p.backend->workspace_size(static_cast<bsmm_op_t>(o), N);
  });
}

BS_API bs_status_t bsmm_fprop(const_bsmm_plan_t plan, int64_t N, const void* x, const void* w, void* y, float alpha,
                              float beta, const float* gate, void* workspace, size_t workspace_bytes,
                              bs_stream_t stream) {
  return translate(__func__, [&] {
    xprop(false, plan, N, x, w, y, alpha, beta, gate, workspace, workspace_bytes, stream);
  });
}

BS_API bs_status_t bsmm_bprop(const_bsmm_plan_t plan, int64_t N, const void* dy, const void* w, void* dx, float alpha,
                              float beta, const float* gate, void* workspace, size_t workspace_bytes,
                              bs_stream_t stream) {
  return translate(__func__, [&] {
    xprop(true, plan, N, dy, w, dx, alpha, beta, gate, workspace, workspace_bytes, stream);
  });
}

BS_API bs_status_t bsmm_updat(const_bsmm_plan_t plan, int64_t N, int32_t n_pairs, const void* const* x,
                              const void* const* dy, void* dw, float alpha, float beta, const float* gate,
                              void* workspace, size_t workspace_bytes, bs_stream_t stream) {
  return translate(__func__, [&] {
    const bsmm_plan_s& p = plan_ref(plan);
    check_N(N);
    if (n_pairs < 1) fail(BS_STATUS_INVALID_VALUE, "n_pairs must be >= 1 (got ", n_pairs, ")");
    activation_bytes(p, N, p.config.C, "x");
    activation_bytes(p, N, p.config.K, "dy");
    check_finite(alpha, "alpha");
    check_finite(beta, "beta");
    check_tensor(p, dw, "dw");
    if (gate) check_data(p, gate, sizeof(float), "gate");
    if (N > 0) {
      check_not_null(x, "x");
      check_not_null(dy, "dy");
      for (int32_t i = 0; i < n_pairs; ++i) {
        if (!x[i]) fail(BS_STATUS_NULL_POINTER, "x[", i, "] is NULL");
        if (!dy[i]) fail(BS_STATUS_NULL_POINTER, "dy[", i, "] is NULL");
        check_data(p, x[i], dtype_bytes(p.config.dtype), "x[i]");
        check_data(p, dy[i], dtype_bytes(p.config.dtype), "dy[i]");
      }
    }
    check_workspace(p, BSMM_OP_UPDAT, N, workspace, workspace_bytes);
    BsmmUpdatArgs a;
    a.N = N;
    a.n_pairs = n_pairs;
    a.x = x;
    a.dy = dy;
    a.dw = dw;
    a.alpha = alpha;
    a.beta = beta;
    a.gate = gate;
    a.workspace = workspace;
    a.workspace_bytes = workspace_bytes;
    a.stream = stream;
    p.backend->updat(a);
  });
}

BS_API bs_status_t bsmm_identity_init(const_bsmm_plan_t plan, void* w, float scale, bs_stream_t stream) {
  return translate(__func__, [&] {
    const bsmm_plan_s& p = plan_ref(plan);
    check_tensor(p, w, "w");
    check_finite(scale, "scale");
    p.backend->identity_init(w, scale, stream);
  });
}

BS_API bs_status_t bsmm_l2_normalize(const_bsmm_plan_t plan, const void* w, const float* gain, void* y,
                                     float epsilon, void* workspace, size_t workspace_bytes, bs_stream_t stream) {
  return translate(__func__, [&] {
    l2_normalize(false, plan, w, w, gain, y, nullptr, epsilon, workspace, workspace_bytes, stream);
  });
}

BS_API bs_status_t bsmm_l2_normalize_grad(const_bsmm_plan_t plan, const void* dy, const void* w, const float* gain,
                                          void* dw, float* dgain, float epsilon, void* workspace,
                                          size_t workspace_bytes, bs_stream_t stream) {
  return translate(__func__, [&] {
    l2_normalize(true, plan, dy, w, gain, dw, dgain, epsilon, workspace, workspace_bytes, stream);
  });
}

}  // extern "C"
