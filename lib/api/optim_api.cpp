// extern "C" entry points of bs_optim.h: validate every argument (every pointer of every tensor),
// fold the hyper-parameters into the scalars the kernels use, then hand over to the plan's backend.
#include <blocksparse/bs_optim.h>

#include <cmath>
#include <cstddef>
#include <cstring>

#include "core/checks.hpp"
#include "core/dtype.hpp"
#include "dispatch/optim_backend.hpp"

namespace bs {
namespace {

constexpr size_t kParamsV1Size = offsetof(bs_optim_params_t, num_threads) + sizeof(int32_t);
constexpr size_t kAdamV1Size = sizeof(bs_adam_hparams_t);
constexpr size_t kAdafactorV1Size = sizeof(bs_adafactor_hparams_t);

const bs_optim_plan_s& plan_ref(const_bs_optim_plan_t plan) {
  check_not_null(plan, "plan");
  return *plan;
}

void check_flag(int32_t v, const char* name) {
  if (v != 0 && v != 1) fail(BS_STATUS_INVALID_VALUE, name, " must be 0 or 1 (got ", v, ")");
}

void check_range(float v, float lo, float hi, bool hi_open, const char* name) {
  if (!(v >= lo && (hi_open ? v < hi : v <= hi)))
    fail(BS_STATUS_INVALID_VALUE, name, " must be in [", lo, ", ", hi, hi_open ? ")" : "]", " (got ", v, ")");
}

void check_positive(float v, const char* name) {
  if (!(std::isfinite(v) && v > 0.0f)) fail(BS_STATUS_INVALID_VALUE, name, " must be finite and > 0 (got ", v, ")");
}

void check_nonnegative(float v, const char* name) {
  if (!(std::isfinite(v) && v >= 0.0f)) fail(BS_STATUS_INVALID_VALUE, name, " must be finite and >= 0 (got ", v, ")");
}

GradFilter read_filter(const bs_grad_filter_t& f, const char* name) {
  const std::string n(name);
  check_finite(f.grad_scale, (n + ".grad_scale").c_str());
  check_nonnegative(f.saturate, (n + ".saturate").c_str());
  check_flag(f.zero_infs, (n + ".zero_infs").c_str());
  check_flag(f.zero_nans, (n + ".zero_nans").c_str());
  GradFilter g;
  g.scale = f.grad_scale;
  g.saturate = f.saturate;
  g.zero_infs = f.zero_infs;
  g.zero_nans = f.zero_nans;
  return g;
}

bs_grad_filter_t default_filter() {
  bs_grad_filter_t f{};
  f.grad_scale = 1.0f;
  return f;
}

// Checks the pointers of every tensor; an error names the tensor ("tensor 3: params is NULL").
template <typename Body>
void for_each_tensor(const bs_optim_plan_s& p, Body&& body) {
  const int32_t n = static_cast<int32_t>(p.work.tensors.size());
  for (int32_t i = 0; i < n; ++i) {
    try {
      body(i, p.work.tensors[static_cast<size_t>(i)]);
    } catch (const Error& e) {
      throw Error(e.status(), concat("tensor ", i, ": ", e.what()));
    }
  }
}

void check_ptr(const bs_optim_plan_s& p, const void* ptr, size_t elem, const char* name) {
  check_not_null(ptr, name);
  check_aligned(ptr, elem, name);
  p.backend->check_tensor(ptr, elem, name);
}

// A per-block vector entry: allowed only for tensors with blocks.
void check_block_vector(const bs_optim_plan_s& p, const float* const* arr, int32_t i, const OptimTensor& t,
                        const char* name) {
  if (!arr || !arr[i]) return;
  if (t.block_elems == 0) fail(BS_STATUS_INVALID_VALUE, name, " is given but the tensor has no blocks (block_elems 0)");
  check_ptr(p, arr[i], sizeof(float), name);
}

void check_workspace(const bs_optim_plan_s& p, bs_optim_op_t op, const void* ws, size_t ws_bytes) {
  const size_t need = p.backend->workspace_size(op);
  if (ws_bytes < need)
    fail(BS_STATUS_WORKSPACE_TOO_SMALL, "workspace_bytes is ", ws_bytes, " but this call needs ", need,
         " (see bs_optim_get_workspace_size)");
  if (need > 0) check_ptr(p, ws, 8, "workspace");
}

void check_scale_ptr(const bs_optim_plan_s& p, const float* norm_scale) {
  if (norm_scale) check_ptr(p, norm_scale, sizeof(float), "norm_scale");
}

AdamScalars adam_scalars(const bs_adam_hparams_t* in) {
  const bs_adam_hparams_t h = read_params(in, kAdamV1Size, "hp");
  if (h.mode != BS_ADAM_L2 && h.mode != BS_ADAM_ADAMW)
    fail(BS_STATUS_INVALID_VALUE, "hp->mode is not a bs_adam_mode_t (got ", h.mode, ")");
  check_finite(h.lr, "hp->lr");
  check_range(h.beta1, 0.0f, 1.0f, true, "hp->beta1");
  check_range(h.beta2, 0.0f, 1.0f, true, "hp->beta2");
  check_positive(h.epsilon, "hp->epsilon");
  check_nonnegative(h.weight_decay, "hp->weight_decay");
  if (h.step < 1) fail(BS_STATUS_INVALID_VALUE, "hp->step must be >= 1 (got ", h.step, ")");
  check_flag(h.bias_correction, "hp->bias_correction");
  if (h.eps_mode != BS_ADAM_EPS_TORCH && h.eps_mode != BS_ADAM_EPS_ORIGINAL)
    fail(BS_STATUS_INVALID_VALUE, "hp->eps_mode is not a bs_adam_eps_mode_t (got ", h.eps_mode, ")");
  check_nonnegative(h.clip_sigma, "hp->clip_sigma");
  check_finite(h.lr_selected, "hp->lr_selected");
  AdamScalars s;
  s.filter = read_filter(h.filter, "hp->filter");
  s.adamw = h.mode == BS_ADAM_ADAMW;
  s.beta1 = h.beta1;
  s.beta2 = h.beta2;
  s.eps = h.epsilon;
  s.weight_decay = h.weight_decay;
  s.lr = h.lr;
  s.lr_sel = h.lr_selected;
  s.clip_sigma = h.clip_sigma;
  const double t = static_cast<double>(h.step);
  const double bc1 = h.bias_correction ? 1.0 - std::pow(static_cast<double>(h.beta1), t) : 1.0;
  const double bc2 = h.bias_correction ? 1.0 - std::pow(static_cast<double>(h.beta2), t) : 1.0;
  const double lr_factor = h.eps_mode == BS_ADAM_EPS_TORCH ? 1.0 / bc1 : std::sqrt(bc2) / bc1;
  s.step_size = static_cast<float>(h.lr * lr_factor);
  s.step_size_sel = static_cast<float>(h.lr_selected * lr_factor);
  s.denom_scale = h.eps_mode == BS_ADAM_EPS_TORCH ? static_cast<float>(1.0 / std::sqrt(bc2)) : 1.0f;
  return s;
}

// The *_init functions: checks the caller's struct size, then copies that many bytes of `d`.
template <typename T>
void init_struct(T* out, size_t struct_size, size_t v1_size, T d, const char* name) {
  check_not_null(out, name);
  if (struct_size < v1_size || struct_size > sizeof(T))
    fail(BS_STATUS_STRUCT_SIZE_MISMATCH, "struct_size is ", struct_size, "; this library accepts ", v1_size, "..",
         sizeof(T));
  d.struct_size = static_cast<uint32_t>(struct_size);
  std::memcpy(out, &d, struct_size);
}

}  // namespace
}  // namespace bs

using namespace bs;

extern "C" {

BS_API bs_status_t bs_optim_params_init(bs_optim_params_t* params, size_t struct_size) {
  return translate(__func__, [&] {
    bs_optim_params_t d{};
    d.backend = BS_BACKEND_CPU;
    init_struct(params, struct_size, kParamsV1Size, d, "params");
  });
}

BS_API bs_status_t bs_adam_hparams_init(bs_adam_hparams_t* hp, size_t struct_size) {
  return translate(__func__, [&] {
    bs_adam_hparams_t d{};
    d.mode = BS_ADAM_ADAMW;
    d.lr = 1e-3f;
    d.beta1 = 0.9f;
    d.beta2 = 0.999f;
    d.epsilon = 1e-8f;
    d.step = 1;
    d.bias_correction = 1;
    d.eps_mode = BS_ADAM_EPS_TORCH;
    d.lr_selected = 1e-3f;
    d.filter = default_filter();
    init_struct(hp, struct_size, kAdamV1Size, d, "hp");
  });
}

BS_API bs_status_t bs_adafactor_hparams_init(bs_adafactor_hparams_t* hp, size_t struct_size) {
  return translate(__func__, [&] {
    bs_adafactor_hparams_t d{};
    d.lr = 5e-4f;
    d.decay = 0.999f;
    d.epsilon = 1e-30f;
    d.clip_thresh = 1.0f;
    d.filter = default_filter();
    init_struct(hp, struct_size, kAdafactorV1Size, d, "hp");
  });
}

BS_API bs_status_t bs_optim_create(bs_optim_plan_t* plan, const bs_optim_params_t* params, int32_t n_tensors,
                                   const int64_t* rows, const int64_t* cols, const int32_t* dtypes,
                                   const int64_t* block_elems) {
  return translate(__func__, [&] {
    check_not_null(plan, "plan");
    const bs_optim_params_t p = read_params(params, kParamsV1Size, "params");
    OptimConfig c;
    c.backend = p.backend;
    c.device = p.device;
    c.num_threads = p.num_threads;
    if (c.backend != BS_BACKEND_CPU && c.backend != BS_BACKEND_CUDA)
      fail(BS_STATUS_INVALID_VALUE, "params->backend is not a bs_backend_t (got ", c.backend, ")");
    if (c.num_threads < 0) fail(BS_STATUS_INVALID_VALUE, "params->num_threads must be >= 0 (got ", c.num_threads, ")");
    if (c.backend == BS_BACKEND_CPU && c.device != 0)
      fail(BS_STATUS_INVALID_VALUE, "params->device must be 0 for CPU plans (got ", c.device, ")");
    if (c.backend == BS_BACKEND_CUDA && c.device < 0)
      fail(BS_STATUS_INVALID_VALUE, "params->device must be >= 0 (got ", c.device, ")");
    if (c.backend == BS_BACKEND_CUDA && c.num_threads != 0)
      fail(BS_STATUS_INVALID_VALUE, "params->num_threads must be 0 for CUDA plans (got ", c.num_threads, ")");
    auto out = std::make_unique<bs_optim_plan_s>();
    out->config = c;
    out->work = OptimWorklist::build(n_tensors, rows, cols, dtypes, block_elems);
    out->backend = make_optim_backend(out->config, out->work);
    *plan = out.release();
  });
}

BS_API bs_status_t bs_optim_destroy(bs_optim_plan_t plan) {
  return translate(__func__, [&] { delete plan; });
}

BS_API bs_status_t bs_optim_get_attr(const_bs_optim_plan_t plan, bs_optim_attr_t attr, int64_t* value) {
  return translate(__func__, [&] {
    const bs_optim_plan_s& p = plan_ref(plan);
    check_not_null(value, "value");
    switch (enum_arg(attr)) {
      case BS_OPTIM_ATTR_N_TENSORS: *value = static_cast<int64_t>(p.work.tensors.size()); break;
      case BS_OPTIM_ATTR_NUMEL: *value = p.work.numel; break;
      case BS_OPTIM_ATTR_BACKEND: *value = p.config.backend; break;
      case BS_OPTIM_ATTR_DEVICE: *value = p.config.device; break;
      case BS_OPTIM_ATTR_NUM_THREADS: *value = p.backend->num_threads(); break;
      case BS_OPTIM_ATTR_CHUNKS: *value = static_cast<int64_t>(p.work.chunks.size()); break;
      case BS_OPTIM_ATTR_LAUNCHES: *value = static_cast<int64_t>(p.work.groups.size()); break;
      default: fail(BS_STATUS_INVALID_VALUE, "attr is not a bs_optim_attr_t (got ", enum_arg(attr), ")");
    }
  });
}

BS_API bs_status_t bs_optim_get_workspace_size(const_bs_optim_plan_t plan, bs_optim_op_t op, size_t* bytes) {
  return translate(__func__, [&] {
    const bs_optim_plan_s& p = plan_ref(plan);
    check_not_null(bytes, "bytes");
    const int32_t o = enum_arg(op);
    if (o < BS_OPTIM_OP_ADAM || o > BS_OPTIM_OP_GLOBAL_NORM)
      fail(BS_STATUS_INVALID_VALUE, "op is not a bs_optim_op_t (got ", o, ")");
    *bytes = p.backend->workspace_size(static_cast<bs_optim_op_t>(o));
  });
}

BS_API bs_status_t bs_optim_adam(const_bs_optim_plan_t plan, const bs_adam_hparams_t* hp, void* const* params,
                                 const void* const* grads, float* const* exp_avg, float* const* exp_avg_sq,
                                 const float* const* gates, const float* const* lr_select, const float* norm_scale,
                                 void* workspace, size_t workspace_bytes, bs_stream_t stream) {
  return translate(__func__, [&] {
    const bs_optim_plan_s& p = plan_ref(plan);
    AdamArgs a;
    a.s = adam_scalars(hp);
    check_not_null(params, "params");
    check_not_null(grads, "grads");
    check_not_null(exp_avg, "exp_avg");
    check_not_null(exp_avg_sq, "exp_avg_sq");
    for_each_tensor(p, [&](int32_t i, const OptimTensor& t) {
      const size_t e = dtype_bytes(t.dtype);
      check_ptr(p, params[i], e, "params");
      check_ptr(p, grads[i], e, "grads");
      check_ptr(p, exp_avg[i], 4, "exp_avg");
      check_ptr(p, exp_avg_sq[i], 4, "exp_avg_sq");
      check_block_vector(p, gates, i, t, "gates");
      check_block_vector(p, lr_select, i, t, "lr_select");
    });
    check_scale_ptr(p, norm_scale);
    check_workspace(p, BS_OPTIM_OP_ADAM, workspace, workspace_bytes);
    a.params = params;
    a.grads = grads;
    a.m = exp_avg;
    a.v = exp_avg_sq;
    a.gates = gates;
    a.select = lr_select;
    a.norm_scale = norm_scale;
    a.stream = stream;
    p.backend->adam(a);
  });
}

BS_API bs_status_t bs_optim_adafactor(const_bs_optim_plan_t plan, const bs_adafactor_hparams_t* hp,
                                      void* const* params, const void* const* grads, float* const* row_var,
                                      float* const* col_var, const float* norm_scale, void* workspace,
                                      size_t workspace_bytes, bs_stream_t stream) {
  return translate(__func__, [&] {
    const bs_optim_plan_s& p = plan_ref(plan);
    const bs_adafactor_hparams_t h = read_params(hp, kAdafactorV1Size, "hp");
    check_finite(h.lr, "hp->lr");
    check_range(h.decay, 0.0f, 1.0f, true, "hp->decay");
    check_positive(h.epsilon, "hp->epsilon");
    check_positive(h.clip_thresh, "hp->clip_thresh");
    AdafactorArgs a;
    a.filter = read_filter(h.filter, "hp->filter");
    a.lr = h.lr;
    a.decay = h.decay;
    a.eps = h.epsilon;
    a.clip_thresh = h.clip_thresh;
    check_not_null(params, "params");
    check_not_null(grads, "grads");
    check_not_null(row_var, "row_var");
    check_not_null(col_var, "col_var");
    for_each_tensor(p, [&](int32_t i, const OptimTensor& t) {
      const size_t e = dtype_bytes(t.dtype);
      check_ptr(p, params[i], e, "params");
      check_ptr(p, grads[i], e, "grads");
      if (t.rows >= 2)
        check_ptr(p, row_var[i], 4, "row_var");
      else if (row_var[i])
        fail(BS_STATUS_INVALID_VALUE, "row_var must be NULL for a tensor with rows = 1 (it has one second moment "
             "per element, in col_var)");
      check_ptr(p, col_var[i], 4, "col_var");
    });
    check_scale_ptr(p, norm_scale);
    check_workspace(p, BS_OPTIM_OP_ADAFACTOR, workspace, workspace_bytes);
    a.params = params;
    a.grads = grads;
    a.row_var = row_var;
    a.col_var = col_var;
    a.norm_scale = norm_scale;
    a.workspace = workspace;
    a.stream = stream;
    p.backend->adafactor(a);
  });
}

BS_API bs_status_t bs_optim_ema(const_bs_optim_plan_t plan, float decay, float* const* ema, const void* const* params,
                                const float* const* gates, bs_stream_t stream) {
  return translate(__func__, [&] {
    const bs_optim_plan_s& p = plan_ref(plan);
    check_range(decay, 0.0f, 1.0f, false, "decay");
    check_not_null(ema, "ema");
    check_not_null(params, "params");
    for_each_tensor(p, [&](int32_t i, const OptimTensor& t) {
      check_ptr(p, ema[i], 4, "ema");
      check_ptr(p, params[i], dtype_bytes(t.dtype), "params");
      check_block_vector(p, gates, i, t, "gates");
    });
    EmaArgs a;
    a.decay = decay;
    a.ema = ema;
    a.params = params;
    a.gates = gates;
    a.stream = stream;
    p.backend->ema(a);
  });
}

BS_API bs_status_t bs_optim_global_norm(const_bs_optim_plan_t plan, const void* const* grads,
                                        const bs_grad_filter_t* filter, float clip_norm, float* norm,
                                        float* norm_scale, void* workspace, size_t workspace_bytes,
                                        bs_stream_t stream) {
  return translate(__func__, [&] {
    const bs_optim_plan_s& p = plan_ref(plan);
    GlobalNormArgs a;
    a.filter = read_filter(filter ? *filter : default_filter(), "filter");
    if (!(clip_norm > 0.0f)) fail(BS_STATUS_INVALID_VALUE, "clip_norm must be > 0 (got ", clip_norm, ")");
    if (!norm && !norm_scale) fail(BS_STATUS_NULL_POINTER, "norm and norm_scale are both NULL (nothing to compute)");
    check_not_null(grads, "grads");
    for_each_tensor(p, [&](int32_t i, const OptimTensor& t) { check_ptr(p, grads[i], dtype_bytes(t.dtype), "grads"); });
    if (norm) check_ptr(p, norm, 4, "norm");
    if (norm_scale) check_ptr(p, norm_scale, 4, "norm_scale");
    check_workspace(p, BS_OPTIM_OP_GLOBAL_NORM, workspace, workspace_bytes);
    a.grads = grads;
    a.clip_norm = clip_norm;
    a.norm = norm;
    a.norm_scale = norm_scale;
    a.workspace = workspace;
    a.stream = stream;
    p.backend->global_norm(a);
  });
}

}  // extern "C"
