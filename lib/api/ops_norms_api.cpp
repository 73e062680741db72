// extern "C" entry points of bs_norms.h (batch norm, channel-wise linear).
#include <blocksparse/bs_ew.h>
#include <blocksparse/bs_norms.h>

#include "ops/ops_api_util.hpp"

using namespace bs;
using namespace bs::ops;

namespace {

// Checks the common scalars; returns the element count N·C·S.
int64_t check_ncs(bs_dtype_t dtype, int64_t N, int64_t C, int64_t S) {
  check_dtype(dtype, "dtype");
  check_size(N, "N");
  check_size(C, "C");
  check_size(S, "S");
  return checked_elements(checked_mul(N, C, "N*C"), S, dtype, "N*C*S");
}

void check_epsilon(float epsilon) {
  check_finite(epsilon, "epsilon");
  if (epsilon < 0.0f) fail(BS_STATUS_INVALID_VALUE, "epsilon must be >= 0 (got ", epsilon, ")");
}

ChannelArgs ncs_args(bs_dtype_t dtype, int64_t N, int64_t C, int64_t S, bs_stream_t stream) {
  ChannelArgs a;
  a.dtype = dtype;
  a.O = N;
  a.C = C;
  a.I = S;
  a.stream = stream;
  return a;
}

}  // namespace

extern "C" {

BS_API bs_status_t bs_batchnorm_fprop_train(bs_backend_t backend, bs_dtype_t dtype, int64_t N, int64_t C, int64_t S,
                                            const void* x, const float* gain, const float* bias, float epsilon,
                                            void* y, float* mean, float* var, bs_stream_t stream) {
  return translate(__func__, [&] {
    const CallTarget t(backend);
    check_ncs(dtype, N, C, S);
    check_epsilon(epsilon);
    if (C == 0) return;
    if (N * S == 0) fail(BS_STATUS_INVALID_VALUE, "training statistics need N*S >= 1 (got N = ", N, ", S = ", S, ")");
    t.tensor(x, dtype, "x");
    t.optional_words(gain, "gain");
    t.optional_words(bias, "bias");
    t.tensor(y, dtype, "y");
    t.words(mean, "mean");
    t.words(var, "var");
    ChannelArgs a = ncs_args(dtype, N, C, S, stream);
    a.mode = ChannelMode::kBnTrainForward;
    a.coef = CoefKind::kBatchnorm;
    a.x = x;
    a.a = gain;
    a.b = bias;
    a.epsilon = epsilon;
    a.out = y;
    a.mean_out = mean;
    a.var_out = var;
    t.backend().channel(a);
  });
}

BS_API bs_status_t bs_batchnorm_fprop_infer(bs_backend_t backend, bs_dtype_t dtype, int64_t N, int64_t C, int64_t S,
                                            const void* x, const float* gain, const float* bias, const float* mean,
                                            const float* var, float epsilon, void* y, bs_stream_t stream) {
  return translate(__func__, [&] {
    const CallTarget t(backend);
    const int64_t n = check_ncs(dtype, N, C, S);
    check_epsilon(epsilon);
    if (n == 0) return;
    t.tensor(x, dtype, "x");
    t.optional_words(gain, "gain");
    t.optional_words(bias, "bias");
    t.words(mean, "mean");
    t.words(var, "var");
    t.tensor(y, dtype, "y");
    ChannelArgs a = ncs_args(dtype, N, C, S, stream);
    a.mode = ChannelMode::kForward;
    a.coef = CoefKind::kBatchnorm;
    a.x = x;
    a.a = gain;
    a.b = bias;
    a.mean = mean;
    a.var = var;
    a.epsilon = epsilon;
    a.out = y;
    t.backend().channel(a);
  });
}

BS_API bs_status_t bs_batchnorm_bprop(bs_backend_t backend, bs_dtype_t dtype, int32_t training, int64_t N, int64_t C,
                                      int64_t S, const void* dy, const void* x, const float* gain, const float* mean,
                                      const float* var, float epsilon, void* dx, float* dgain, float* dbias,
                                      bs_stream_t stream) {
  return translate(__func__, [&] {
    const CallTarget t(backend);
    check_flag(training, "training");
    check_ncs(dtype, N, C, S);
    check_epsilon(epsilon);
    if (C == 0) return;
    if (training && N * S == 0)
      fail(BS_STATUS_INVALID_VALUE, "training statistics need N*S >= 1 (got N = ", N, ", S = ", S, ")");
    t.words(mean, "mean");
    t.words(var, "var");
    t.optional_words(gain, "gain");
    t.optional_words(dgain, "dgain");
    t.optional_words(dbias, "dbias");
    if (N * S > 0) {
      t.tensor(dy, dtype, "dy");
      t.tensor(x, dtype, "x");
      t.tensor(dx, dtype, "dx");
    }
    ChannelArgs a = ncs_args(dtype, N, C, S, stream);
    a.mode = training ? ChannelMode::kBnTrainBackward : ChannelMode::kBackward;
    a.coef = CoefKind::kBatchnorm;
    a.x = x;
    a.dy = dy;
    a.a = gain;
    a.mean = mean;
    a.var = var;
    a.epsilon = epsilon;
    a.out = N * S > 0 ? dx : nullptr;
    a.r1_out = dbias;
    a.r2_out = dgain;
    t.backend().channel(a);
  });
}

BS_API bs_status_t bs_cwise_linear_fprop(bs_backend_t backend, bs_dtype_t dtype, int64_t N, int64_t C, int64_t S,
                                         const void* x, const float* a_vec, const float* b_vec, int32_t relu,
                                         int32_t bias_first, void* y, bs_stream_t stream) {
  return translate(__func__, [&] {
    const CallTarget t(backend);
    const int64_t n = check_ncs(dtype, N, C, S);
    check_flag(relu, "relu");
    check_flag(bias_first, "bias_first");
    if (n == 0) return;
    t.tensor(x, dtype, "x");
    t.optional_words(a_vec, "a");
    t.optional_words(b_vec, "b");
    t.tensor(y, dtype, "y");
    ChannelArgs a = ncs_args(dtype, N, C, S, stream);
    a.mode = ChannelMode::kForward;
    a.act = relu ? BS_ACT_RELU : BS_ACT_NONE;
    a.bias_first = bias_first != 0;
    a.x = x;
    a.a = a_vec;
    a.b = b_vec;
    a.out = y;
    t.backend().channel(a);
  });
}

BS_API bs_status_t bs_cwise_linear_bprop(bs_backend_t backend, bs_dtype_t dtype, int64_t N, int64_t C, int64_t S,
                                         const void* dy, const void* x, const float* a_vec, const float* b_vec,
                                         int32_t relu, int32_t bias_first, void* dx, float* da, float* db,
                                         bs_stream_t stream) {
  return translate(__func__, [&] {
    const CallTarget t(backend);
    const int64_t n = check_ncs(dtype, N, C, S);
    check_flag(relu, "relu");
    check_flag(bias_first, "bias_first");
    if (C == 0) return;
    t.optional_words(a_vec, "a");
    t.optional_words(b_vec, "b");
    t.optional_words(da, "da");
    t.optional_words(db, "db");
    if (n > 0) {
      t.tensor(dy, dtype, "dy");
      t.tensor(x, dtype, "x");
      t.optional_tensor(dx, dtype, "dx");
    }
    ChannelArgs a = ncs_args(dtype, N, C, S, stream);
    a.mode = ChannelMode::kBackward;
    a.act = relu ? BS_ACT_RELU : BS_ACT_NONE;
    a.bias_first = bias_first != 0;
    a.x = x;
    a.dy = dy;
    a.a = a_vec;
    a.b = b_vec;
    a.out = n > 0 ? dx : nullptr;
    a.r1_out = db;
    a.r2_out = da;
    if (a.out || da || db) t.backend().channel(a);
  });
}

}  // extern "C"
