/**
 * @file bs_lstm.h
 * @brief Fused LSTM cell gates (the original's `fused_lstm_gates`) and the 4-way split/concat
 *        along axis 1 (`split4`, `concat4`).
 *
 * Conventions (backend, pointers, dtypes, aliasing, determinism, statuses, thread-safety): see
 * bs_ew.h.
 *
 * **Gates.** `h` holds the four gate pre-activations of N samples, `(N, 4K)` row-major, in the
 * original's order `[i, u, f, o]` (input, update/candidate, forget, output; TensorFlow's
 * BasicLSTMCell layout): gate g of sample n, feature k is `h[n, g·K + k]`. With the optional fp32
 * bias `(4K)` added to h first:
 * `c' = σ(f + forget_bias)·c + σ(i)·tanh(u)`, `h' = σ(o)·tanh(c')`.
 * Source: S. Hochreiter, J. Schmidhuber (1997); `blocksparse/lstm.py` of openai/blocksparse.
 */
#ifndef BLOCKSPARSE_BS_LSTM_H
#define BLOCKSPARSE_BS_LSTM_H

#include <blocksparse/bs_platform.h>
#include <blocksparse/bs_types.h>

BS_BEGIN_DECLS

/**
 * @brief LSTM gates forward.
 * @param N, K         Sizes, >= 0.
 * @param c            Previous cell state `(N, K)`.
 * @param h            Gate pre-activations `(N, 4K)`, order `[i, u, f, o]`.
 * @param bias         `(4K)` fp32 or NULL.
 * @param forget_bias  Finite; added to the forget gate (the original's default is 1).
 * @param c_next       Output `(N, K)`; may alias c.
 * @param h_next       Output `(N, K)`; must not overlap anything.
 * @return The statuses of bs_ew.h.
 */
BS_API bs_status_t bs_lstm_gates_fprop(bs_backend_t backend, bs_dtype_t dtype, int64_t N, int64_t K, const void* c,
                                       const void* h, const float* bias, float forget_bias, void* c_next,
                                       void* h_next, bs_stream_t stream);

/**
 * @brief LSTM gates backward, recomputing the gates from c, h and bias. With `t = tanh(c')`:
 * `dc'_total = dc_next + dh_next·σ(o)·(1-t²)`, `dc = dc'_total·σ(f+fb)`,
 * `di = dc'_total·tanh(u)·σ'(i)`, `du = dc'_total·σ(i)·(1-tanh²(u))`, `df = dc'_total·c·σ'(f+fb)`,
 * `do = dh_next·t·σ'(o)`; `dbias = Σ_N dh`.
 * @param dc_next  Gradient of c_next `(N, K)`, or NULL (zero).
 * @param dh_next  Gradient of h_next `(N, K)`, or NULL (zero).
 * @param c, h, bias, forget_bias  The forward's inputs.
 * @param dc       Output `(N, K)`; may alias dc_next.
 * @param dh       Output `(N, 4K)` (gradient of the gate pre-activations).
 * @param dbias    Optional `(4K)` fp32 (overwritten).
 * @return The statuses of bs_ew.h.
 */
BS_API bs_status_t bs_lstm_gates_bprop(bs_backend_t backend, bs_dtype_t dtype, int64_t N, int64_t K,
                                       const void* dc_next, const void* dh_next, const void* c, const void* h,
                                       const float* bias, float forget_bias, void* dc, void* dh, float* dbias,
                                       bs_stream_t stream);

/**
 * @brief Splits `x (N, 4K)` into four `(N, K)` tensors: `out[g][n, k] = x[n, g·K + k]`. The gradient
 * is bs_concat4().
 * @param out  Host array of 4 output pointers (none may overlap x or each other).
 * @return The statuses of bs_ew.h.
 */
BS_API bs_status_t bs_split4(bs_backend_t backend, bs_dtype_t dtype, int64_t N, int64_t K, const void* x,
                             void* const* out, bs_stream_t stream);

/**
 * @brief Concatenates four `(N, K)` tensors into `y (N, 4K)` along axis 1. The gradient is bs_split4().
 * @param in  Host array of 4 input pointers (none may overlap y).
 * @return The statuses of bs_ew.h.
 */
BS_API bs_status_t bs_concat4(bs_backend_t backend, bs_dtype_t dtype, int64_t N, int64_t K, const void* const* in,
                              void* y, bs_stream_t stream);

BS_END_DECLS

#endif /* BLOCKSPARSE_BS_LSTM_H */
