// extern "C" entry points of bsconv.h: validate every argument that does not depend on the backend,
// then hand over to the plan's backend. Nothing is written to an output before validation ends.
#include <blocksparse/bsconv.h>

#include <algorithm>
#include <cstddef>
#include <memory>
#include <vector>

#include "core/checks.hpp"
#include "core/dtype.hpp"
#include "dispatch/bsconv_backend.hpp"

namespace bs {
namespace {

constexpr size_t kParamsV1Size = sizeof(bsconv_params_t);
constexpr const char* kDim[3] = {"[0]", "[1]", "[2]"};

const bsconv_plan_s& plan_ref(const_bsconv_plan_t plan) {
  check_not_null(plan, "plan");
  return *plan;
}

void check_dims(const int32_t* v, int32_t lo, const char* name) {
  for (int d = 0; d < 3; ++d)
    if (v[d] < lo) fail(BS_STATUS_INVALID_VALUE, "params->", name, kDim[d], " must be >= ", lo, " (got ", v[d], ")");
}

// Conv output size along one dimension, or INVALID_VALUE when the filter does not fit.
int64_t conv_out(int64_t X, int64_t T, int64_t st, int64_t dil, int64_t pad, int d) {
  const int64_t span = checked_add(checked_mul(dil, T - 1, "dilated filter"), 1, "dilated filter");
  const int64_t room = checked_add(X, 2 * pad, "padded input") - span;
  if (room < 0)
    fail(BS_STATUS_INVALID_VALUE, "the dilated filter (", span, ") is larger than the padded input (", X + 2 * pad,
         ") along dimension ", d);
  return room / st + 1;
}

struct Validated {
  BsconvConfig cfg;
  ConvGeometry geo;
};

// `maxc`, `maxk`: largest channel index in the blocks + 1 (used when params->C or K is 0).
Validated validate(const bsconv_params_t* in, int64_t maxc, int64_t maxk) {
  const bsconv_params_t p = read_params(in, kParamsV1Size, "params");
  Validated v;
  BsconvConfig& c = v.cfg;
  c.backend = p.backend;
  c.device = p.device;
  c.dtype = p.dtype;
  c.layout = p.layout;
  c.num_threads = p.num_threads;
  if (c.backend != BS_BACKEND_CPU && c.backend != BS_BACKEND_CUDA)
    fail(BS_STATUS_INVALID_VALUE, "params->backend is not a bs_backend_t (got ", c.backend, ")");
  check_dtype(c.dtype, "params->dtype");
  if (c.layout != BSCONV_LAYOUT_CHANNELS_FIRST && c.layout != BSCONV_LAYOUT_CHANNELS_LAST)
    fail(BS_STATUS_INVALID_VALUE, "params->layout is not a bsconv_layout_t (got ", c.layout, ")");
  if (p.deconv != 0 && p.deconv != 1) fail(BS_STATUS_INVALID_VALUE, "params->deconv must be 0 or 1 (got ", p.deconv, ")");
  c.deconv = p.deconv == 1;
  if (p.padding < BSCONV_PADDING_SAME || p.padding > BSCONV_PADDING_EXPLICIT)
    fail(BS_STATUS_INVALID_VALUE, "params->padding is not a bsconv_padding_t (got ", p.padding, ")");
  if (c.num_threads < 0) fail(BS_STATUS_INVALID_VALUE, "params->num_threads must be >= 0 (got ", c.num_threads, ")");
  if (c.backend == BS_BACKEND_CPU && c.device != 0)
    fail(BS_STATUS_INVALID_VALUE, "params->device must be 0 for CPU plans (got ", c.device, ")");
  if (p.C < 0 || p.K < 0) fail(BS_STATUS_INVALID_VALUE, "params->C and params->K must be >= 0");
  c.C = p.C ? p.C : maxc;
  c.K = p.K ? p.K : maxk;
  check_dims(p.filter, 1, "filter");
  check_dims(p.stride, 1, "stride");
  check_dims(p.dilation, 1, "dilation");
  check_dims(p.pad, 0, "pad");
  ConvGeometry& g = v.geo;
  g.Cc = c.deconv ? c.K : c.C;
  g.Kc = c.deconv ? c.C : c.K;
  const bool given = p.output[0] || p.output[1] || p.output[2];
  for (int d = 0; d < 3; ++d) {
    if (p.input[d] < 1) fail(BS_STATUS_INVALID_VALUE, "params->input", kDim[d], " must be >= 1 (got ", p.input[d], ")");
    if (given && p.output[d] < 1)
      fail(BS_STATUS_INVALID_VALUE, "params->output", kDim[d], " must be >= 1 when an output size is given");
    g.T[d] = p.filter[d];
    g.stride[d] = p.stride[d];
    g.dil[d] = p.dilation[d];
    const int64_t span = checked_add(checked_mul(g.dil[d], g.T[d] - 1, "dilated filter"), 1, "dilated filter");
    g.pad[d] = p.padding == BSCONV_PADDING_SAME ? span / 2 : p.padding == BSCONV_PADDING_VALID ? 0 : p.pad[d];
    if (!c.deconv) {
      g.X[d] = p.input[d];
      g.Y[d] = conv_out(g.X[d], g.T[d], g.stride[d], g.dil[d], g.pad[d], d);
      if (given && p.output[d] != g.Y[d])
        fail(BS_STATUS_INVALID_VALUE, "params->output", kDim[d], " is ", p.output[d], " but the convolution gives ",
             g.Y[d]);
    } else {
      g.Y[d] = p.input[d];
      const int64_t X = given ? p.output[d]
                              : checked_add(checked_mul(g.Y[d] - 1, g.stride[d], "deconv output"), span, "deconv output") -
                                    2 * g.pad[d];
      if (X < 1) fail(BS_STATUS_INVALID_VALUE, "the deconvolution output along dimension ", d, " would be ", X);
      g.X[d] = X;
      if (conv_out(X, g.T[d], g.stride[d], g.dil[d], g.pad[d], d) != g.Y[d])
        fail(BS_STATUS_INVALID_VALUE, "params->output", kDim[d], " = ", X, " is not an input size whose convolution has ",
             "size ", g.Y[d]);
    }
  }
  // Every activation element index must fit for N = 1 (act_elems checks each call's N).
  const int64_t xs = checked_mul(checked_mul(g.X[0], g.X[1], "input size"), g.X[2], "input size");
  const int64_t ys = checked_mul(checked_mul(g.Y[0], g.Y[1], "output size"), g.Y[2], "output size");
  checked_mul(g.Cc, xs, "channels*positions");
  checked_mul(g.Kc, ys, "channels*positions");
  return v;
}

int64_t max_index(int64_t n_blocks, const int64_t* ptr, const int64_t* idx, const char* name) {
  check_not_null(ptr, name);
  if (ptr[n_blocks] < 0) fail(BS_STATUS_INVALID_LAYOUT, name, "[n_blocks] must be >= 0");
  int64_t m = 0;
  if (ptr[n_blocks] > 0) check_not_null(idx, name[0] == 'c' ? "c_idx" : "k_idx");
  for (int64_t i = 0; i < ptr[n_blocks]; ++i) m = std::max(m, idx[i] + 1);
  return m;
}

void create(bsconv_plan_t* out, const bsconv_params_t* params, int64_t n_blocks, const int64_t* c_ptr,
            const int64_t* c_idx, const int64_t* k_ptr, const int64_t* k_idx) {
  check_not_null(out, "plan");
  check_not_null(params, "params");
  if (n_blocks < 1) fail(BS_STATUS_INVALID_VALUE, "n_blocks must be >= 1 (got ", n_blocks, ")");
  checked_add(n_blocks, 1, "n_blocks + 1");
  const int64_t maxc = max_index(n_blocks, c_ptr, c_idx, "c_ptr"), maxk = max_index(n_blocks, k_ptr, k_idx, "k_ptr");
  const Validated v = validate(params, maxc, maxk);
  auto plan = std::make_unique<bsconv_plan_s>();
  plan->config = v.cfg;
  plan->layout = make_conv_layout(v.geo, v.cfg.deconv, n_blocks, c_ptr, c_idx, k_ptr, k_idx);
  plan->backend = make_bsconv_backend(plan->config, plan->layout);
  *out = plan.release();
}

void check_N(int64_t N) {
  if (N < 0) fail(BS_STATUS_INVALID_VALUE, "N must be >= 0 (got ", N, ")");
}

// Elements of the plan's input (output = false) or output activation for minibatch N.
int64_t act_elems(const bsconv_plan_s& p, int64_t N, bool output) {
  const ConvGeometry& g = p.layout.g;
  const bool conv_in = output == p.config.deconv;  // plan side -> conv side
  const int64_t per = conv_in ? checked_mul(g.Cc, g.x_size(), "activation") : checked_mul(g.Kc, g.y_size(), "activation");
  const int64_t n = checked_mul(N, per, "N*activation");
  checked_bytes(n, dtype_bytes(p.config.dtype), "activation bytes");
  return n;
}

void check_tensor(const bsconv_plan_s& p, const void* ptr, size_t elem, const char* name) {
  check_not_null(ptr, name);
  check_aligned(ptr, elem, name);
  p.backend->check_tensor(ptr, name);
}

void check_workspace(const bsconv_plan_s& p, bsconv_op_t op, int64_t N, const void* ws, size_t bytes) {
  const size_t need = p.backend->workspace_size(op, N);
  if (bytes < need)
    fail(BS_STATUS_WORKSPACE_TOO_SMALL, "workspace_bytes is ", bytes, " but this call needs ", need);
  if (need > 0) check_tensor(p, ws, 16, "workspace");
}

void run_checked(const bsconv_plan_s& p, BsconvArgs& a) {
  check_workspace(p, a.op, a.N, a.workspace, a.workspace_bytes);
  p.backend->run(a);
}

// fprop, bprop, updat.
void conv_op(bsconv_op_t op, const_bsconv_plan_t plan, int64_t N, const void* in, const void* in2, void* out,
             float alpha, float beta, void* ws, size_t ws_bytes, bs_stream_t stream) {
  const bsconv_plan_s& p = plan_ref(plan);
  check_N(N);
  act_elems(p, N, false);
  act_elems(p, N, true);
  check_finite(alpha, "alpha");
  check_finite(beta, "beta");
  const size_t es = dtype_bytes(p.config.dtype);
  const char* names[3][3] = {{"x", "f", "y"}, {"dy", "f", "dx"}, {"x", "dy", "df"}};
  const int o = static_cast<int>(op);
  if (op == BSCONV_OP_UPDAT) {
    check_tensor(p, out, es, "df");
    if (N > 0) {
      check_tensor(p, in, es, "x");
      check_tensor(p, in2, es, "dy");
    }
  } else {
    if (N == 0) return;
    check_tensor(p, in, es, names[o][0]);
    check_tensor(p, in2, es, names[o][1]);
    check_tensor(p, out, es, names[o][2]);
  }
  BsconvArgs a;
  a.op = op;
  a.N = N;
  a.a = in;
  a.b = in2;
  a.out = out;
  a.alpha = alpha;
  a.beta = beta;
  a.workspace = ws;
  a.workspace_bytes = ws_bytes;
  a.stream = stream;
  run_checked(p, a);
}

}  // namespace
}  // namespace bs

using namespace bs;

extern "C" {

BS_API bs_status_t bsconv_params_init(bsconv_params_t* params, size_t struct_size) {
  return translate(__func__, [&] {
    check_not_null(params, "params");
    if (struct_size != sizeof(bsconv_params_t))
      fail(BS_STATUS_STRUCT_SIZE_MISMATCH, "struct_size is ", struct_size, "; this library accepts ",
           sizeof(bsconv_params_t));
    bsconv_params_t d{};
    d.struct_size = static_cast<uint32_t>(struct_size);
    d.backend = BS_BACKEND_CPU;
    d.dtype = BS_DTYPE_F32;
    d.layout = BSCONV_LAYOUT_CHANNELS_FIRST;
    d.padding = BSCONV_PADDING_SAME;
    for (int i = 0; i < 3; ++i) d.filter[i] = d.stride[i] = d.dilation[i] = 1, d.input[i] = 1;
    *params = d;
  });
}

BS_API bs_status_t bsconv_create(bsconv_plan_t* plan, const bsconv_params_t* params, int64_t n_blocks,
                                 const int64_t* c_ptr, const int64_t* c_idx, const int64_t* k_ptr,
                                 const int64_t* k_idx) {
  return translate(__func__, [&] { create(plan, params, n_blocks, c_ptr, c_idx, k_ptr, k_idx); });
}

BS_API bs_status_t bsconv_create_uniform(bsconv_plan_t* plan, const bsconv_params_t* params, const uint8_t* layout,
                                         int64_t CB, int64_t KB, int64_t block_size) {
  return translate(__func__, [&] {
    check_not_null(plan, "plan");
    check_not_null(params, "params");
    check_not_null(layout, "layout");
    if (CB < 1 || KB < 1 || block_size < 1)
      fail(BS_STATUS_INVALID_VALUE, "CB, KB and block_size must be >= 1 (got ", CB, ", ", KB, ", ", block_size, ")");
    const int64_t C = checked_mul(CB, block_size, "CB*block_size"), K = checked_mul(KB, block_size, "KB*block_size");
    const int64_t cells = checked_mul(CB, KB, "CB*KB");
    checked_bytes(checked_mul(cells, checked_mul(block_size, block_size, "bs^2"), "blocks"), 8, "blocks");
    if ((params->C != 0 && params->C != C) || (params->K != 0 && params->K != K))
      fail(BS_STATUS_INVALID_VALUE, "params->C and params->K must be 0 or CB*block_size, KB*block_size");
    std::vector<int64_t> c_ptr{0}, k_ptr{0}, c_idx, k_idx;
    for (int64_t i = 0; i < cells; ++i) {
      if (layout[i] > 1) fail(BS_STATUS_INVALID_LAYOUT, "layout[", i, "] is ", int{layout[i]}, " (must be 0 or 1)");
      if (!layout[i]) continue;
      for (int64_t e = 0; e < block_size; ++e) c_idx.push_back((i / KB) * block_size + e);
      for (int64_t e = 0; e < block_size; ++e) k_idx.push_back((i % KB) * block_size + e);
      c_ptr.push_back(static_cast<int64_t>(c_idx.size()));
      k_ptr.push_back(static_cast<int64_t>(k_idx.size()));
    }
    if (c_ptr.size() == 1) fail(BS_STATUS_INVALID_LAYOUT, "the layout has no block");
    bsconv_params_t p = *params;
    p.C = C;
    p.K = K;
    create(plan, &p, static_cast<int64_t>(c_ptr.size()) - 1, c_ptr.data(), c_idx.data(), k_ptr.data(), k_idx.data());
  });
}

BS_API bs_status_t bsconv_destroy(bsconv_plan_t plan) {
  return translate(__func__, [&] { delete plan; });
}

BS_API bs_status_t bsconv_get_attr(const_bsconv_plan_t plan, bsconv_attr_t attr, int64_t* value) {
  return translate(__func__, [&] {
    const bsconv_plan_s& p = plan_ref(plan);
    check_not_null(value, "value");
    const int32_t a = enum_arg(attr);
    switch (a) {
      case BSCONV_ATTR_C: *value = p.config.C; break;
      case BSCONV_ATTR_K: *value = p.config.K; break;
      case BSCONV_ATTR_BLOCKS: *value = p.layout.n_blocks; break;
      case BSCONV_ATTR_FILTER_SIZE: *value = p.layout.filter_size; break;
      case BSCONV_ATTR_DTYPE: *value = p.config.dtype; break;
      case BSCONV_ATTR_BACKEND: *value = p.config.backend; break;
      case BSCONV_ATTR_LAYOUT: *value = p.config.layout; break;
      case BSCONV_ATTR_DECONV: *value = p.config.deconv ? 1 : 0; break;
      case BSCONV_ATTR_EDGE_ENTRIES: *value = p.layout.edge_entries; break;
      case BSCONV_ATTR_NUM_THREADS: *value = p.backend->num_threads(); break;
      case BSCONV_ATTR_PAD_D:
      case BSCONV_ATTR_PAD_H:
      case BSCONV_ATTR_PAD_W: *value = p.layout.g.pad[a - BSCONV_ATTR_PAD_D]; break;
      default: fail(BS_STATUS_INVALID_VALUE, "attr is not a bsconv_attr_t (got ", a, ")");
    }
  });
}

static bs_status_t act_shape(const char* fn, const_bsconv_plan_t plan, int64_t N, bool output, int64_t shape[5]) {
  return translate(fn, [&] {
    const bsconv_plan_s& p = plan_ref(plan);
    check_not_null(shape, "shape");
    check_N(N);
    act_elems(p, N, output);
    const ConvGeometry& g = p.layout.g;
    const bool conv_in = output == p.config.deconv;
    const int64_t ch = output ? p.config.K : p.config.C;
    const int64_t* s = conv_in ? g.X : g.Y;
    const bool last = p.config.layout == BSCONV_LAYOUT_CHANNELS_LAST;
    shape[0] = N;
    for (int d = 0; d < 3; ++d) shape[last ? 1 + d : 2 + d] = s[d];
    shape[last ? 4 : 1] = ch;
  });
}

BS_API bs_status_t bsconv_get_input_shape(const_bsconv_plan_t plan, int64_t N, int64_t shape[5]) {
  return act_shape(__func__, plan, N, false, shape);
}

BS_API bs_status_t bsconv_get_output_shape(const_bsconv_plan_t plan, int64_t N, int64_t shape[5]) {
  return act_shape(__func__, plan, N, true, shape);
}

BS_API bs_status_t bsconv_get_block(const_bsconv_plan_t plan, int64_t block, int64_t* offset, int64_t shape[5]) {
  return translate(__func__, [&] {
    const bsconv_plan_s& p = plan_ref(plan);
    check_not_null(offset, "offset");
    check_not_null(shape, "shape");
    const ConvLayout& l = p.layout;
    if (block < 0 || block >= l.n_blocks)
      fail(BS_STATUS_INVALID_VALUE, "block must be in [0, ", l.n_blocks, ") (got ", block, ")");
    *offset = l.blk_off[block];
    shape[0] = l.cout_ptr[block + 1] - l.cout_ptr[block];  // filter rows: conv output channels
    shape[1] = l.cin_ptr[block + 1] - l.cin_ptr[block];
    for (int d = 0; d < 3; ++d) shape[2 + d] = l.g.T[d];
  });
}

BS_API bs_status_t bsconv_get_workspace_size(const_bsconv_plan_t plan, bsconv_op_t op, int64_t N, size_t* bytes) {
  return translate(__func__, [&] {
    const bsconv_plan_s& p = plan_ref(plan);
    check_not_null(bytes, "bytes");
    check_N(N);
    const int32_t o = enum_arg(op);
    if (o < BSCONV_OP_FPROP || o > BSCONV_OP_L2_NORMALIZE_GRAD)
      fail(BS_STATUS_INVALID_VALUE, "op is not a bsconv_op_t (got ", o, ")");
    *bytes = p.backend->workspace_size(static_cast<bsconv_op_t>(o), N);
  });
}

BS_API bs_status_t bsconv_fprop(const_bsconv_plan_t plan, int64_t N, const void* x, const void* f, void* y,
                                float alpha, float beta, void* workspace, size_t workspace_bytes,
                                bs_stream_t stream) {
  return translate(__func__, [&] {
    conv_op(BSCONV_OP_FPROP, plan, N, x, f, y, alpha, beta, workspace, workspace_bytes, stream);
  });
}

BS_API bs_status_t bsconv_bprop(const_bsconv_plan_t plan, int64_t N, const void* dy, const void* f, void* dx,
                                float alpha, float beta, void* workspace, size_t workspace_bytes,
                                bs_stream_t stream) {
  return translate(__func__, [&] {
    conv_op(BSCONV_OP_BPROP, plan, N, dy, f, dx, alpha, beta, workspace, workspace_bytes, stream);
  });
}

BS_API bs_status_t bsconv_updat(const_bsconv_plan_t plan, int64_t N, const void* x, const void* dy, void* df,
                                float alpha, float beta, void* workspace, size_t workspace_bytes,
                                bs_stream_t stream) {
  return translate(__func__, [&] {
    conv_op(BSCONV_OP_UPDAT, plan, N, x, dy, df, alpha, beta, workspace, workspace_bytes, stream);
  });
}

BS_API bs_status_t bsconv_edge_bias_fprop(const_bsconv_plan_t plan, int64_t N, const void* x, const float* g,
                                          const float* b, void* y, void* workspace, size_t workspace_bytes,
                                          bs_stream_t stream) {
  return translate(__func__, [&] {
    const bsconv_plan_s& p = plan_ref(plan);
    check_N(N);
    act_elems(p, N, true);
    check_tensor(p, g, 4, "g");
    check_tensor(p, b, 4, "b");
    if (N == 0) return;
    const size_t es = dtype_bytes(p.config.dtype);
    check_tensor(p, x, es, "x");
    check_tensor(p, y, es, "y");
    BsconvArgs a;
    a.op = BSCONV_OP_EDGE_BIAS_FPROP;
    a.N = N;
    a.a = x;
    a.g = g;
    a.bias = b;
    a.out = y;
    a.workspace = workspace;
    a.workspace_bytes = workspace_bytes;
    a.stream = stream;
    run_checked(p, a);
  });
}

BS_API bs_status_t bsconv_edge_bias_bprop(const_bsconv_plan_t plan, int64_t N, const void* dy, const void* x,
                                          const float* g, void* dx, float* dg, float* db, void* workspace,
                                          size_t workspace_bytes, bs_stream_t stream) {
  return translate(__func__, [&] {
    const bsconv_plan_s& p = plan_ref(plan);
    check_N(N);
    act_elems(p, N, true);
    check_tensor(p, g, 4, "g");
    check_tensor(p, dg, 4, "dg");
    check_tensor(p, db, 4, "db");
    const size_t es = dtype_bytes(p.config.dtype);
    if (N > 0) {
      check_tensor(p, dy, es, "dy");
      check_tensor(p, x, es, "x");
      check_tensor(p, dx, es, "dx");
    }
    BsconvArgs a;
    a.op = BSCONV_OP_EDGE_BIAS_BPROP;
    a.N = N;
    a.a = dy;
    a.b = x;
    a.g = g;
    a.out = dx;
    a.dg = dg;
    a.db = db;
    a.workspace = workspace;
    a.workspace_bytes = workspace_bytes;
    a.stream = stream;
    run_checked(p, a);
  });
}

static bs_status_t l2(const char* fn, bool grad, const_bsconv_plan_t plan, const void* in, const void* f,
                      const float* gain, void* out, float* dgain, float epsilon, void* ws, size_t ws_bytes,
                      bs_stream_t stream) {
  return translate(fn, [&] {
    const bsconv_plan_s& p = plan_ref(plan);
    const size_t es = dtype_bytes(p.config.dtype);
    check_tensor(p, in, es, grad ? "dy" : "f");
    if (grad) check_tensor(p, f, es, "f");
    check_tensor(p, out, es, grad ? "df" : "y");
    if (gain) check_tensor(p, gain, 4, "gain");
    if (grad && gain && !dgain) fail(BS_STATUS_NULL_POINTER, "dgain is NULL but a gain is given");
    if (grad && !gain && dgain) fail(BS_STATUS_INVALID_VALUE, "dgain must be NULL when no gain is given");
    if (dgain) check_tensor(p, dgain, 4, "dgain");
    check_finite(epsilon, "epsilon");
    if (epsilon < 0.0f) fail(BS_STATUS_INVALID_VALUE, "epsilon must be >= 0 (got ", epsilon, ")");
    BsconvArgs a;
    a.op = grad ? BSCONV_OP_L2_NORMALIZE_GRAD : BSCONV_OP_L2_NORMALIZE;
    a.a = in;
    a.b = f;
    a.g = gain;
    a.out = out;
    a.dg = dgain;
    a.epsilon = epsilon;
    a.workspace = ws;
    a.workspace_bytes = ws_bytes;
    a.stream = stream;
    run_checked(p, a);
  });
}

BS_API bs_status_t bsconv_l2_normalize(const_bsconv_plan_t plan, const void* f, const float* gain, void* y,
                                       float epsilon, void* workspace, size_t workspace_bytes, bs_stream_t stream) {
  return l2(__func__, false, plan, f, f, gain, y, nullptr, epsilon, workspace, workspace_bytes, stream);
}

BS_API bs_status_t bsconv_l2_normalize_grad(const_bsconv_plan_t plan, const void* dy, const void* f,
                                            const float* gain, void* df, float* dgain, float epsilon,
                                            void* workspace, size_t workspace_bytes, bs_stream_t stream) {
  return l2(__func__, true, plan, dy, f, gain, df, dgain, epsilon, workspace, workspace_bytes, stream);
}

}  // extern "C"
