// extern "C" entry points of bs_dropout.h.
#include <blocksparse/bs_dropout.h>

#include <cmath>

#include "ops/ew_math.hpp"
#include "ops/ops_api_util.hpp"

using namespace bs;
using namespace bs::ops;

namespace {

// Fills the keep threshold and scale from keep_prob (validated).
void set_keep(DropoutArgs& a, float keep_prob) {
  if (!(keep_prob > 0.0f && keep_prob <= 1.0f))
    fail(BS_STATUS_INVALID_VALUE, "keep_prob must be in (0, 1] (got ", keep_prob, ")");
  a.threshold = static_cast<uint64_t>(std::floor(static_cast<double>(keep_prob) * 4294967296.0));
  a.scale = 1.0f / keep_prob;
}

int64_t check_n(int64_t n, int32_t dtype) {
  check_size(n, "n");
  return checked_elements(n, 1, dtype, "n");
}

}  // namespace

extern "C" {

BS_API bs_status_t bs_philox4x32_10(const uint32_t counter[4], const uint32_t key[2], uint32_t out[4]) {
  return translate(__func__, [&] {
    check_not_null(counter, "counter");
    check_not_null(key, "key");
    check_not_null(out, "out");
    uint32_t r[4];
    philox4x32_10(counter, key, r);
    for (int i = 0; i < 4; ++i) out[i] = r[i];
  });
}

BS_API bs_status_t bs_dropout_mask(bs_backend_t backend, int64_t n, float keep_prob, uint64_t seed, uint64_t offset,
                                   uint32_t* mask, bs_stream_t stream) {
  return translate(__func__, [&] {
    const CallTarget t(backend);
    DropoutArgs a;
    set_keep(a, keep_prob);
    a.n = check_n(n, BS_DTYPE_F32);
    if (n == 0) return;
    t.words(mask, "mask");
    a.keys = dropout_keys(seed);
    a.offset = offset;
    a.mask_out = mask;
    a.stream = stream;
    t.backend().dropout(a);
  });
}

BS_API bs_status_t bs_dropout_fprop(bs_backend_t backend, bs_dtype_t dtype, int64_t n, const void* x,
                                    float keep_prob, uint64_t seed, uint64_t offset, void* y, uint32_t* mask,
                                    bs_stream_t stream) {
  return translate(__func__, [&] {
    const CallTarget t(backend);
    check_dtype(dtype, "dtype");
    DropoutArgs a;
    set_keep(a, keep_prob);
    a.n = check_n(n, dtype);
    if (n == 0) return;
    t.tensor(x, dtype, "x");
    t.tensor(y, dtype, "y");
    t.optional_words(mask, "mask");
    a.dtype = dtype;
    a.x = x;
    a.y = y;
    a.mask_out = mask;
    a.keys = dropout_keys(seed);
    a.offset = offset;
    a.stream = stream;
    t.backend().dropout(a);
  });
}

BS_API bs_status_t bs_dropout_apply(bs_backend_t backend, bs_dtype_t dtype, int64_t n, const void* x,
                                    const uint32_t* mask, float keep_prob, void* y, bs_stream_t stream) {
  return translate(__func__, [&] {
    const CallTarget t(backend);
    check_dtype(dtype, "dtype");
    DropoutArgs a;
    set_keep(a, keep_prob);
    a.n = check_n(n, dtype);
    if (n == 0) return;
    t.tensor(x, dtype, "x");
    t.words(mask, "mask");
    t.tensor(y, dtype, "y");
    a.dtype = dtype;
    a.x = x;
    a.y = y;
    a.mask_in = mask;
    a.stream = stream;
    t.backend().dropout(a);
  });
}

}  // extern "C"
