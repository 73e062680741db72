/**
 * @file bs_ew.h
 * @brief Element-wise ops with fp32/fp16/bf16 storage (the original's `ewops.py`): binary and unary
 *        ops with their gradients, bias + activation, float cast, add_n.
 *
 * **Conventions of the plain (plan-less) ops** (this header and bs_norms.h, bs_dropout.h, bs_lstm.h):
 * - `backend` picks where the data lives and the code runs. #BS_BACKEND_CPU: host pointers, OpenMP
 *   threads, the call finishes before it returns, `stream` is ignored. #BS_BACKEND_CUDA: every
 *   tensor is a device (or managed) pointer of the *current* CUDA device of the calling thread
 *   (checked with `cudaPointerGetAttributes`: #BS_STATUS_WRONG_BACKEND for host memory,
 *   #BS_STATUS_WRONG_DEVICE for another GPU's); the work is enqueued on `stream` (a
 *   `cudaStream_t`, NULL = legacy default stream), nothing is allocated and nothing synchronizes, so
 *   calls can be captured in a CUDA graph.
 * - Tensor pointers must be aligned to their element size (#BS_STATUS_MISALIGNED_POINTER);
 *   16-byte alignment lets CUDA kernels use vector loads. Sizes are `int64_t` element counts; a
 *   count of 0 returns at once (pointers may then be NULL).
 * - Storage is rounded once per output, round-to-nearest-even; arithmetic is fp32. Per-feature
 *   vectors (bias, gain, ...) are fp32 unless stated otherwise.
 * - Element-wise outputs may alias an input of the same shape and dtype exactly (in-place); any
 *   other overlap is undefined. Reduction outputs (dbias, dgain, ...) must not overlap anything.
 * - All ops are deterministic: reductions use a fixed partition and order, never atomics.
 * - Every function validates all arguments before writing anything; on failure outputs are
 *   untouched and bs_get_last_error() has the details. Statuses every function may return:
 *   #BS_STATUS_SUCCESS; #BS_STATUS_NULL_POINTER; #BS_STATUS_INVALID_VALUE (bad enum, negative size,
 *   non-finite or out-of-range scalar); #BS_STATUS_OVERFLOW (a byte size overflows);
 *   #BS_STATUS_MISALIGNED_POINTER; #BS_STATUS_WRONG_BACKEND; #BS_STATUS_WRONG_DEVICE;
 *   #BS_STATUS_BACKEND_UNAVAILABLE (CUDA not built, or no GPU); #BS_STATUS_EXECUTION_FAILED (a CUDA
 *   launch failed; outputs may be partly written); #BS_STATUS_INTERNAL_ERROR.
 * - Thread-safe: the functions keep no state; concurrent calls must not share outputs.
 */
#ifndef BLOCKSPARSE_BS_EW_H
#define BLOCKSPARSE_BS_EW_H

#include <blocksparse/bs_platform.h>
#include <blocksparse/bs_types.h>

BS_BEGIN_DECLS

/** @brief Binary element-wise ops `z = f(x, y)`. */
typedef enum bs_ew_binary_op {
  BS_EW_ADD = 0,       /**< `x + y`; gradients `dz`, `dz`. */
  BS_EW_SUBTRACT = 1,  /**< `x - y`; gradients `dz`, `-dz`. */
  BS_EW_MULTIPLY = 2,  /**< `x·y`; gradients `dz·y`, `dz·x`. */
  BS_EW_DIVIDE = 3,    /**< `x / y`; gradients `dz/y`, `-dz·x/y²`. */
  BS_EW_MAXIMUM = 4,   /**< `max(x, y)`; the gradient goes to x where `x >= y`, else to y. */
  BS_EW_MINIMUM = 5,   /**< `min(x, y)`; the gradient goes to x where `x <= y`, else to y. */
  BS_EW_BINARY_FORCE_INT32 = 0x7fffffff /**< Not a value: keeps the enum 32 bits wide on every compiler. */
} bs_ew_binary_op_t;

/**
 * @brief `z = op(x, y)` on `(rows, cols)` tensors; with @p y_is_vector, `y` has shape `(cols)` and
 * is broadcast along the last axis (`z[r, c] = op(x[r, c], y[c])`, the original's BIASADD/GAINMUL).
 *
 * @param[in]  backend      #bs_backend_t: where the tensors live and the work runs.
 * @param[in]  op           #bs_ew_binary_op_t.
 * @param[in]  dtype        #bs_dtype_t of x, y and z.
 * @param[in]  rows, cols   Shape of x and z, both >= 0 (any contiguous tensor: rows·cols elements;
 *                          0 elements returns at once).
 * @param[in]  x            Input `(rows, cols)` row-major.
 * @param[in]  y            Input `(rows, cols)`, or `(cols)` when @p y_is_vector is 1.
 * @param[in]  y_is_vector  0 or 1.
 * @param[out] z            Output `(rows, cols)`; may alias x (or y when y is not a vector).
 * @param[in]  stream       CUDA stream; ignored by the CPU backend.
 * @return The statuses listed in the file overview. Thread-safe; deterministic.
 */
BS_API bs_status_t bs_ew_binary(bs_backend_t backend, bs_ew_binary_op_t op, bs_dtype_t dtype, int64_t rows,
                                int64_t cols, const void* x, const void* y, int32_t y_is_vector, void* z,
                                bs_stream_t stream);

/**
 * @brief Gradients of bs_ew_binary(): `dx = dz·∂z/∂x`, `dy = dz·∂z/∂y` (summed over rows in fp32
 * in a fixed order when y is a vector, then rounded to @p dtype).
 *
 * @param[in]  backend      #bs_backend_t.
 * @param[in]  op           #bs_ew_binary_op_t of the forward.
 * @param[in]  dtype        #bs_dtype_t of every tensor.
 * @param[in]  rows, cols   Shape of x, dz and dx, both >= 0. With rows = 0 and a vector y, dy
 *                          (when given) is set to zeros.
 * @param[in]  dz           Gradient of z, `(rows, cols)`.
 * @param[in]  x, y         The forward's inputs.
 * @param[in]  y_is_vector  0 or 1, as in the forward.
 * @param[out] dx           Optional (NULL = skip): `(rows, cols)`, may alias dz.
 * @param[out] dy           Optional (NULL = skip): shape of y; may alias dz when y is not a vector.
 * @param[in]  stream       CUDA stream; ignored by the CPU backend.
 * @return The statuses listed in the file overview. Thread-safe; deterministic.
 */
BS_API bs_status_t bs_ew_binary_grad(bs_backend_t backend, bs_ew_binary_op_t op, bs_dtype_t dtype, int64_t rows,
                                     int64_t cols, const void* dz, const void* x, const void* y, int32_t y_is_vector,
                                     void* dx, void* dy, bs_stream_t stream);

/** @brief Unary element-wise ops `y = f(x)`; `alpha` is used where noted. */
typedef enum bs_ew_unary_op {
  BS_EW_NEGATIVE = 0,    /**< `-x` */
  BS_EW_RECIPROCAL = 1,  /**< `1/x` */
  BS_EW_SQUARE = 2,      /**< `x²` */
  BS_EW_SQRT = 3,        /**< `sqrt(x)` */
  BS_EW_EXP = 4,         /**< `exp(x)` */
  BS_EW_LOG = 5,         /**< `log(x)` */
  BS_EW_SIGMOID = 6,     /**< `1/(1+exp(-x))` */
  BS_EW_TANH = 7,        /**< `tanh(x)` */
  BS_EW_RELU = 8,        /**< `max(x, 0)`; gradient 0 at x = 0. */
  BS_EW_ELU = 9,         /**< `x > 0 ? x : alpha·(exp(x)-1)` (the original's default alpha is 1). */
  BS_EW_GELU = 10,       /**< tanh approximation `0.5·x·(1+tanh(sqrt(2/π)·(x + alpha·x³)))`, alpha = 0.044715 in the original. */
  BS_EW_SWISH = 11,      /**< `x·sigmoid(alpha·x)`; alpha = 1.702 is the original's `fast_gelu`. */
  BS_EW_UNARY_FORCE_INT32 = 0x7fffffff /**< Not a value: keeps the enum 32 bits wide on every compiler. */
} bs_ew_unary_op_t;

/**
 * @brief `y = op(x)` on @p n elements.
 * @param[in]  backend  #bs_backend_t.
 * @param[in]  op       #bs_ew_unary_op_t.
 * @param[in]  dtype    #bs_dtype_t of x and y.
 * @param[in]  n        Elements, >= 0 (0 returns at once).
 * @param[in]  x        Input of @p n elements.
 * @param[in]  alpha    Finite; used by ELU, GELU and SWISH, ignored otherwise.
 * @param[out] y        Output of @p n elements; may alias x.
 * @param[in]  stream   CUDA stream; ignored by the CPU backend.
 * @return The statuses listed in the file overview (#BS_STATUS_INVALID_VALUE for a non-finite
 *         alpha). Thread-safe; deterministic.
 */
BS_API bs_status_t bs_ew_unary(bs_backend_t backend, bs_ew_unary_op_t op, bs_dtype_t dtype, int64_t n,
                               const void* x, float alpha, void* y, bs_stream_t stream);

/**
 * @brief Gradient of bs_ew_unary(): `dx = dy·op'(x)`, computed from the forward's *input* x.
 * @param[in]  backend  #bs_backend_t.
 * @param[in]  op       #bs_ew_unary_op_t of the forward.
 * @param[in]  dtype    #bs_dtype_t of dy, x and dx.
 * @param[in]  n        Elements, >= 0 (0 returns at once).
 * @param[in]  dy       Gradient of y, @p n elements.
 * @param[in]  x        The forward's input.
 * @param[in]  alpha    The forward's alpha (finite).
 * @param[out] dx       Output of @p n elements; may alias dy or x.
 * @param[in]  stream   CUDA stream; ignored by the CPU backend.
 * @return The statuses listed in the file overview. Thread-safe; deterministic.
 */
BS_API bs_status_t bs_ew_unary_grad(bs_backend_t backend, bs_ew_unary_op_t op, bs_dtype_t dtype, int64_t n,
                                    const void* dy, const void* x, float alpha, void* dx, bs_stream_t stream);

/** @brief Activations of bs_bias_act(). */
typedef enum bs_act {
  BS_ACT_NONE = 0,       /**< identity */
  BS_ACT_RELU = 1,       /**< `max(z, 0)` */
  BS_ACT_GELU = 2,       /**< #BS_EW_GELU with alpha = 0.044715 */
  BS_ACT_FAST_GELU = 3,  /**< `z·sigmoid(1.702·z)` (the original's `fast_gelu`) */
  BS_ACT_FORCE_INT32 = 0x7fffffff /**< Not a value: keeps the enum 32 bits wide on every compiler. */
} bs_act_t;

/**
 * @brief Fused bias + activation (the original's `bias_relu`): `y = act(x + bias)`, bias along the
 * feature axis.
 * @param[in]  backend       #bs_backend_t.
 * @param[in]  act           #bs_act_t.
 * @param[in]  dtype         #bs_dtype_t of x and y.
 * @param[in]  feature_axis  1: x is `(N, K)` (bias along the last axis); 0: x is `(K, N)`.
 * @param[in]  N, K          Sizes, >= 0 (no elements returns at once).
 * @param[in]  x             Input, dtype @p dtype.
 * @param[in]  bias          K fp32, or NULL (no bias: `y = act(x)`).
 * @param[out] y             Output, the shape of x; may alias x.
 * @param[in]  stream        CUDA stream; ignored by the CPU backend.
 * @return The statuses listed in the file overview. Thread-safe; deterministic.
 */
BS_API bs_status_t bs_bias_act(bs_backend_t backend, bs_act_t act, bs_dtype_t dtype, int32_t feature_axis, int64_t N,
                               int64_t K, const void* x, const float* bias, void* y, bs_stream_t stream);

/**
 * @brief Gradient of bs_bias_act(), recomputing `z = x + bias`: `dx = dy·act'(z)` and
 * `dbias = Σ_N dx` (fp32, exact order fixed, no atomics).
 * @param[in]  backend       #bs_backend_t.
 * @param[in]  act           #bs_act_t of the forward.
 * @param[in]  dtype         #bs_dtype_t of dy, x and dx.
 * @param[in]  feature_axis  As in the forward: 1 `(N, K)`, 0 `(K, N)`.
 * @param[in]  N, K          Sizes, >= 0. N = 0 writes zeros to dbias when given.
 * @param[in]  dy            Gradient of y, the shape of x.
 * @param[in]  x             The forward's input.
 * @param[in]  bias          The forward's bias (NULL = none).
 * @param[out] dx            Output, the shape of x; may alias dy.
 * @param[out] dbias         Optional (NULL = skip): K fp32, overwritten.
 * @param[in]  stream        CUDA stream; ignored by the CPU backend.
 * @return The statuses listed in the file overview. Thread-safe; deterministic.
 */
BS_API bs_status_t bs_bias_act_grad(bs_backend_t backend, bs_act_t act, bs_dtype_t dtype, int32_t feature_axis,
                                    int64_t N, int64_t K, const void* dy, const void* x, const float* bias,
                                    void* dx, float* dbias, bs_stream_t stream);

/**
 * @brief Converts @p n elements from @p src_dtype to @p dst_dtype, round-to-nearest-even (NaN stays
 * NaN, overflow gives ±inf). The gradient of a cast is the cast back.
 * @param[in]  backend    #bs_backend_t.
 * @param[in]  src_dtype  #bs_dtype_t of x.
 * @param[in]  dst_dtype  #bs_dtype_t of y.
 * @param[in]  n          Elements, >= 0 (0 returns at once).
 * @param[in]  x          Input, @p src_dtype.
 * @param[out] y          Output, @p dst_dtype; may alias x only when both dtypes are equal
 *                        (#BS_STATUS_INVALID_VALUE otherwise).
 * @param[in]  stream     CUDA stream; ignored by the CPU backend.
 * @return The statuses listed in the file overview. Thread-safe; deterministic.
 */
BS_API bs_status_t bs_float_cast(bs_backend_t backend, bs_dtype_t src_dtype, bs_dtype_t dst_dtype, int64_t n,
                                 const void* x, void* y, bs_stream_t stream);

/** @brief Most inputs bs_add_n() takes in one call. */
#define BS_ADD_N_MAX_INPUTS 64

/**
 * @brief `y = Σ_i xs[i]` over @p count tensors of @p n elements, summed in fp32 in index order and
 * rounded once.
 * @param[in]  backend  #bs_backend_t.
 * @param[in]  dtype    #bs_dtype_t of every tensor.
 * @param[in]  n        Elements per tensor, >= 0 (0 returns at once).
 * @param[in]  count    1 .. #BS_ADD_N_MAX_INPUTS (#BS_STATUS_INVALID_VALUE otherwise).
 * @param[in]  xs       Host array of @p count tensor pointers (each a device pointer for CUDA).
 * @param[out] y        Output of @p n elements; may alias one of the inputs.
 * @param[in]  stream   CUDA stream; ignored by the CPU backend.
 * @return The statuses listed in the file overview. Thread-safe; deterministic.
 */
BS_API bs_status_t bs_add_n(bs_backend_t backend, bs_dtype_t dtype, int64_t n, int32_t count,
                            const void* const* xs, void* y, bs_stream_t stream);

BS_END_DECLS

#endif /* BLOCKSPARSE_BS_EW_H */
