// extern "C" entry points of bs_ew.h: validate everything, then run on the chosen backend.
#include <blocksparse/bs_ew.h>

#include "ops/ops_api_util.hpp"

using namespace bs;
using namespace bs::ops;

namespace {

void check_binary_op(bs_ew_binary_op_t op) { check_enum(op, BS_EW_ADD, BS_EW_MINIMUM, "op", "bs_ew_binary_op_t"); }
void check_unary_op(bs_ew_unary_op_t op) { check_enum(op, BS_EW_NEGATIVE, BS_EW_SWISH, "op", "bs_ew_unary_op_t"); }
void check_act(bs_act_t act) { check_enum(act, BS_ACT_NONE, BS_ACT_FAST_GELU, "act", "bs_act_t"); }

// Shared checks of bs_ew_binary / bs_ew_binary_grad; returns false when there is nothing to do.
bool binary_common(bs_ew_binary_op_t op, bs_dtype_t dtype, int64_t rows, int64_t cols,
                   int32_t y_is_vector) {
  check_binary_op(op);
  check_dtype(dtype, "dtype");
  check_size(rows, "rows");
  check_size(cols, "cols");
  check_flag(y_is_vector, "y_is_vector");
  return checked_elements(rows, cols, dtype, "rows*cols") > 0;
}

void bias_act_common(bs_act_t act, bs_dtype_t dtype, int32_t feature_axis, int64_t N, int64_t K) {
  check_act(act);
  check_dtype(dtype, "dtype");
  if (feature_axis != 0 && feature_axis != 1)
    fail(BS_STATUS_INVALID_VALUE, "feature_axis must be 0 or 1 (got ", feature_axis, ")");
  check_size(N, "N");
  check_size(K, "K");
  checked_elements(N, K, dtype, "N*K");
}

ChannelArgs bias_act_args(bs_act_t act, bs_dtype_t dtype, int32_t feature_axis, int64_t N, int64_t K) {
  ChannelArgs a;
  a.coef = CoefKind::kAffine;
  a.dtype = dtype;
  a.act = act;
  a.O = feature_axis == 1 ? N : 1;
  a.C = K;
  a.I = feature_axis == 1 ? 1 : N;
  return a;
}

}  // namespace

extern "C" {

BS_API bs_status_t bs_ew_binary(bs_backend_t backend, bs_ew_binary_op_t op, bs_dtype_t dtype, int64_t rows,
                                int64_t cols, const void* x, const void* y, int32_t y_is_vector, void* z,
                                bs_stream_t stream) {
  return translate(__func__, [&] {
    const CallTarget t(backend);
    if (!binary_common(op, dtype, rows, cols, y_is_vector)) return;
    t.tensor(x, dtype, "x");
    t.tensor(y, dtype, "y");
    t.tensor(z, dtype, "z");
    BinaryArgs a;
    a.op = op;
    a.dtype = dtype;
    a.rows = rows;
    a.cols = cols;
    a.y_vec = y_is_vector != 0;
    a.x = x;
    a.y = y;
    a.z = z;
    a.stream = stream;
    t.backend().ew_binary(a);
  });
}

BS_API bs_status_t bs_ew_binary_grad(bs_backend_t backend, bs_ew_binary_op_t op, bs_dtype_t dtype, int64_t rows,
                                     int64_t cols, const void* dz, const void* x, const void* y, int32_t y_is_vector,
                                     void* dx, void* dy, bs_stream_t stream) {
  return translate(__func__, [&] {
    const CallTarget t(backend);
    // With y a vector and no rows, dy is an empty sum: zeros.
    if (!binary_common(op, dtype, rows, cols, y_is_vector) && !(y_is_vector && dy && cols > 0)) return;
    if (rows > 0) {
      t.tensor(dz, dtype, "dz");
      t.tensor(x, dtype, "x");
      t.optional_tensor(dx, dtype, "dx");
    }
    t.tensor(y, dtype, "y");
    t.optional_tensor(dy, dtype, "dy");
    BinaryArgs a;
    a.op = op;
    a.dtype = dtype;
    a.rows = rows;
    a.cols = cols;
    a.y_vec = y_is_vector != 0;
    a.x = x;
    a.y = y;
    a.dz = dz;
    a.dx = dx;
    a.dy = dy;
    a.stream = stream;
    if (dx || dy) t.backend().ew_binary_grad(a);
  });
}

static bs_status_t unary(const char* fn, bool grad, bs_backend_t backend, bs_ew_unary_op_t op, bs_dtype_t dtype,
                         int64_t n, const void* dy, const void* x, float alpha, void* out, bs_stream_t stream) {
  return translate(fn, [&] {
    const CallTarget t(backend);
    check_unary_op(op);
    check_dtype(dtype, "dtype");
    check_size(n, "n");
    checked_elements(n, 1, dtype, "n");
    check_finite(alpha, "alpha");
    if (n == 0) return;
    if (grad) t.tensor(dy, dtype, "dy");
    t.tensor(x, dtype, "x");
    t.tensor(out, dtype, grad ? "dx" : "y");
    UnaryArgs a;
    a.op = op;
    a.dtype = dtype;
    a.grad = grad;
    a.n = n;
    a.x = x;
    a.dy = dy;
    a.alpha = alpha;
    a.out = out;
    a.stream = stream;
    t.backend().ew_unary(a);
  });
}

BS_API bs_status_t bs_ew_unary(bs_backend_t backend, bs_ew_unary_op_t op, bs_dtype_t dtype, int64_t n,
                               const void* x, float alpha, void* y, bs_stream_t stream) {
  return unary(__func__, false, backend, op, dtype, n, nullptr, x, alpha, y, stream);
}

BS_API bs_status_t bs_ew_unary_grad(bs_backend_t backend, bs_ew_unary_op_t op, bs_dtype_t dtype, int64_t n,
                                    const void* dy, const void* x, float alpha, void* dx, bs_stream_t stream) {
  return unary(__func__, true, backend, op, dtype, n, dy, x, alpha, dx, stream);
}

BS_API bs_status_t bs_bias_act(bs_backend_t backend, bs_act_t act, bs_dtype_t dtype, int32_t feature_axis, int64_t N,
                               int64_t K, const void* x, const float* bias, void* y, bs_stream_t stream) {
  return translate(__func__, [&] {
    const CallTarget t(backend);
    bias_act_common(act, dtype, feature_axis, N, K);
    if (N == 0 || K == 0) return;
    t.tensor(x, dtype, "x");
    t.optional_words(bias, "bias");
    t.tensor(y, dtype, "y");
    ChannelArgs a = bias_act_args(act, dtype, feature_axis, N, K);
    a.mode = ChannelMode::kForward;
    a.x = x;
    a.b = bias;
    a.out = y;
    a.stream = stream;
    t.backend().channel(a);
  });
}

BS_API bs_status_t bs_bias_act_grad(bs_backend_t backend, bs_act_t act, bs_dtype_t dtype, int32_t feature_axis,
                                    int64_t N, int64_t K, const void* dy, const void* x, const float* bias,
                                    void* dx, float* dbias, bs_stream_t stream) {
  return translate(__func__, [&] {
    const CallTarget t(backend);
    bias_act_common(act, dtype, feature_axis, N, K);
    if (K == 0) return;
    t.optional_words(dbias, "dbias");
    if (N > 0) {
      t.tensor(dy, dtype, "dy");
      t.tensor(x, dtype, "x");
      t.optional_words(bias, "bias");
      t.tensor(dx, dtype, "dx");
    }
    ChannelArgs a = bias_act_args(act, dtype, feature_axis, N, K);
    a.mode = ChannelMode::kBackward;
    a.x = x;
    a.dy = dy;
    a.b = bias;
    a.out = N > 0 ? dx : nullptr;
    a.r1_out = dbias;
    a.stream = stream;
    if (N > 0 || dbias) t.backend().channel(a);
  });
}

BS_API bs_status_t bs_float_cast(bs_backend_t backend, bs_dtype_t src_dtype, bs_dtype_t dst_dtype, int64_t n,
                                 const void* x, void* y, bs_stream_t stream) {
  return translate(__func__, [&] {
    const CallTarget t(backend);
    check_dtype(src_dtype, "src_dtype");
    check_dtype(dst_dtype, "dst_dtype");
    check_size(n, "n");
    checked_elements(n, 4, BS_DTYPE_F32, "n");
    if (n == 0) return;
    t.tensor(x, src_dtype, "x");
    t.tensor(y, dst_dtype, "y");
    if (x == y && src_dtype != dst_dtype) fail(BS_STATUS_INVALID_VALUE, "y may alias x only when the dtypes are equal");
    CastArgs a;
    a.src = src_dtype;
    a.dst = dst_dtype;
    a.n = n;
    a.x = x;
    a.y = y;
    a.stream = stream;
    t.backend().float_cast(a);
  });
}

BS_API bs_status_t bs_add_n(bs_backend_t backend, bs_dtype_t dtype, int64_t n, int32_t count, const void* const* xs,
                            void* y, bs_stream_t stream) {
  return translate(__func__, [&] {
    const CallTarget t(backend);
    check_dtype(dtype, "dtype");
    check_size(n, "n");
    checked_elements(n, 1, dtype, "n");
    if (count < 1 || count > kAddNMax)
      fail(BS_STATUS_INVALID_VALUE, "count must be in 1..", kAddNMax, " (got ", count, ")");
    if (n == 0) return;
    check_not_null(xs, "xs");
    AddNArgs a;
    for (int32_t i = 0; i < count; ++i) {
      if (!xs[i]) fail(BS_STATUS_NULL_POINTER, "xs[", i, "] is NULL");
      t.tensor(xs[i], dtype, "xs[i]");
      a.xs[i] = xs[i];
    }
    t.tensor(y, dtype, "y");
    a.dtype = dtype;
    a.count = count;
    a.n = n;
    a.y = y;
    a.stream = stream;
    t.backend().add_n(a);
  });
}

}  // extern "C"
