// extern "C" entry points of bs_lstm.h.
#include <blocksparse/bs_lstm.h>

#include "ops/ops_api_util.hpp"

using namespace bs;
using namespace bs::ops;

namespace {

// Checks dtype, N, K (and that (N, 4K) is addressable); returns N·K.
int64_t check_nk(bs_dtype_t dtype, int64_t N, int64_t K) {
  check_dtype(dtype, "dtype");
  check_size(N, "N");
  check_size(K, "K");
  checked_elements(N, checked_mul(K, 4, "4*K"), dtype, "N*4*K");
  return N * K;
}

}  // namespace

extern "C" {

BS_API bs_status_t bs_lstm_gates_fprop(bs_backend_t backend, bs_dtype_t dtype, int64_t N, int64_t K, const void* c,
                                       const void* h, const float* bias, float forget_bias, void* c_next,
                                       void* h_next, bs_stream_t stream) {
  return translate(__func__, [&] {
    const CallTarget t(backend);
    const int64_t n = check_nk(dtype, N, K);
    check_finite(forget_bias, "forget_bias");
    if (n == 0) return;
    t.tensor(c, dtype, "c");
    t.tensor(h, dtype, "h");
    t.optional_words(bias, "bias");
    t.tensor(c_next, dtype, "c_next");
    t.tensor(h_next, dtype, "h_next");
    LstmArgs a;
    a.dtype = dtype;
    a.N = N;
    a.K = K;
    a.c = c;
    a.h = h;
    a.bias = bias;
    a.forget_bias = forget_bias;
    a.c_next = c_next;
    a.h_next = h_next;
    a.stream = stream;
    t.backend().lstm_fprop(a);
  });
}

BS_API bs_status_t bs_lstm_gates_bprop(bs_backend_t backend, bs_dtype_t dtype, int64_t N, int64_t K,
                                       const void* dc_next, const void* dh_next, const void* c, const void* h,
                                       const float* bias, float forget_bias, void* dc, void* dh, float* dbias,
                                       bs_stream_t stream) {
  return translate(__func__, [&] {
    const CallTarget t(backend);
    const int64_t n = check_nk(dtype, N, K);
    check_finite(forget_bias, "forget_bias");
    if (K == 0) return;
    t.optional_words(dbias, "dbias");
    if (n > 0) {
      t.optional_tensor(dc_next, dtype, "dc_next");
      t.optional_tensor(dh_next, dtype, "dh_next");
      t.tensor(c, dtype, "c");
      t.tensor(h, dtype, "h");
      t.optional_words(bias, "bias");
      t.tensor(dc, dtype, "dc");
      t.tensor(dh, dtype, "dh");
    }
    LstmArgs a;
    a.dtype = dtype;
    a.N = N;
    a.K = K;
    a.dc_next = dc_next;
    a.dh_next = dh_next;
    a.c = c;
    a.h = h;
    a.bias = bias;
    a.forget_bias = forget_bias;
    a.dc = dc;
    a.dh = dh;
    a.dbias = dbias;
    a.stream = stream;
    if (n > 0 || dbias) t.backend().lstm_bprop(a);
  });
}

BS_API bs_status_t bs_split4(bs_backend_t backend, bs_dtype_t dtype, int64_t N, int64_t K, const void* x,
                             void* const* out, bs_stream_t stream) {
  return translate(__func__, [&] {
    const CallTarget t(backend);
    if (check_nk(dtype, N, K) == 0) return;
    t.tensor(x, dtype, "x");
    check_not_null(out, "out");
    Split4Args a;
    for (int g = 0; g < 4; ++g) {
      t.tensor(out[g], dtype, "out[g]");
      a.parts[g] = out[g];
    }
    a.dtype = dtype;
    a.N = N;
    a.K = K;
    a.src_whole = x;
    a.stream = stream;
    t.backend().split4(a);
  });
}

BS_API bs_status_t bs_concat4(bs_backend_t backend, bs_dtype_t dtype, int64_t N, int64_t K, const void* const* in,
                              void* y, bs_stream_t stream) {
  return translate(__func__, [&] {
    const CallTarget t(backend);
    if (check_nk(dtype, N, K) == 0) return;
    check_not_null(in, "in");
    Split4Args a;
    for (int g = 0; g < 4; ++g) {
      t.tensor(in[g], dtype, "in[g]");
      a.src_parts[g] = in[g];
    }
    t.tensor(y, dtype, "y");
    a.concat = true;
    a.dtype = dtype;
    a.N = N;
    a.K = K;
    a.dst_whole = y;
    a.stream = stream;
    t.backend().split4(a);
  });
}

}  // extern "C"
