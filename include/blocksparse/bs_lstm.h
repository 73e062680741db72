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
 * @param[in]  backend      #bs_backend_t: where the tensors live and the work runs.
 * @param[in]  dtype        #bs_dtype_t of every `(N, K)` / `(N, 4K)` tensor; bias vectors are fp32.
 * @param[in]  N, K         Sizes, >= 0 (no elements returns at once).
 * @param[in]  c            Previous cell state `(N, K)`.
 * @param[in]  h            Gate pre-activations `(N, 4K)`, order `[i, u, f, o]`.
 * @param[in]  bias         `(4K)` fp32 or NULL.
 * @param[in]  forget_bias  Finite; added to the forget gate (the original's default is 1).
 * @param[out] c_next       Output `(N, K)`; may alias c.
 * @param[out] h_next       Output `(N, K)`; must not overlap anything.
 * @param[in]  stream       CUDA stream; ignored by the CPU backend.
 * @return The statuses of bs_ew.h. Thread-safe; deterministic.
 */
BS_API bs_status_t bs_lstm_gates_fprop(bs_backend_t backend, bs_dtype_t dtype, int64_t N, int64_t K, const void* c,
                                       const void* h, const float* bias, float forget_bias, void* c_next,
                                       void* h_next, bs_stream_t stream);

/**
 * @brief LSTM gates backward, recomputing the gates from c, h and bias. With `t = tanh(c')`:
 * `dc'_total = dc_next + dh_next·σ(o)·(1-t²)`, `dc = dc'_total·σ(f+fb)`,
 * `di = dc'_total·tanh(u)·σ'(i)`, `du = dc'_total·σ(i)·(1-tanh²(u))`, `df = dc'_total·c·σ'(f+fb)`,
 * `do = dh_next·t·σ'(o)`; `dbias = Σ_N dh` (fp32, fixed order).
 * @param[in]  backend      #bs_backend_t: where the tensors live and the work runs.
 * @param[in]  dtype        #bs_dtype_t of every `(N, K)` / `(N, 4K)` tensor; bias vectors are fp32.
 * @param[in]  N, K         Sizes, >= 0. K = 0 returns at once; N = 0 writes zeros to dbias.
 * @param[in]  dc_next      Gradient of c_next `(N, K)`, or NULL (zero).
 * @param[in]  dh_next      Gradient of h_next `(N, K)`, or NULL (zero).
 * @param[in]  c, h, bias, forget_bias  The forward's inputs.
 * @param[out] dc           Output `(N, K)`; may alias dc_next.
 * @param[out] dh           Output `(N, 4K)` (gradient of the gate pre-activations).
 * @param[out] dbias        Optional `(4K)` fp32 (overwritten).
 * @param[in]  stream       CUDA stream; ignored by the CPU backend.
 * @return The statuses of bs_ew.h. Thread-safe; deterministic.
 */
BS_API bs_status_t bs_lstm_gates_bprop(bs_backend_t backend, bs_dtype_t dtype, int64_t N, int64_t K,
                                       const void* dc_next, const void* dh_next, const void* c, const void* h,
                                       const float* bias, float forget_bias, void* dc, void* dh, float* dbias,
                                       bs_stream_t stream);

/**
 * @brief Splits `x (N, 4K)` into four `(N, K)` tensors: `out[g][n, k] = x[n, g·K + k]`. The gradient
 * is bs_concat4().
 * @param[in]  backend      #bs_backend_t: where the tensors live and the work runs.
 * @param[in]  dtype        #bs_dtype_t of every `(N, K)` / `(N, 4K)` tensor; bias vectors are fp32.
 * @param[in]  N, K         Sizes, >= 0 (no elements returns at once).
 * @param[in]  x            Input `(N, 4K)`.
 * @param[in]  out          Host array of 4 output pointers, each `(N, K)` (none may overlap x or
 *                          each other).
 * @param[in]  stream       CUDA stream; ignored by the CPU backend.
 * @return The statuses of bs_ew.h. Thread-safe; deterministic.
 */
BS_API bs_status_t bs_split4(bs_backend_t backend, bs_dtype_t dtype, int64_t N, int64_t K, const void* x,
                             void* const* out, bs_stream_t stream);

/**
 * @brief Concatenates four `(N, K)` tensors into `y (N, 4K)` along axis 1. The gradient is bs_split4().
 * @param[in]  backend      #bs_backend_t: where the tensors live and the work runs.
 * @param[in]  dtype        #bs_dtype_t of every `(N, K)` / `(N, 4K)` tensor; bias vectors are fp32.
 * @param[in]  N, K         Sizes, >= 0 (no elements returns at once).
 * @param[in]  in           Host array of 4 input pointers, each `(N, K)` (none may overlap y).
 * @param[out] y            Output `(N, 4K)`.
 * @param[in]  stream       CUDA stream; ignored by the CPU backend.
 * @return The statuses of bs_ew.h. Thread-safe; deterministic.
 */
BS_API bs_status_t bs_concat4(bs_backend_t backend, bs_dtype_t dtype, int64_t N, int64_t K, const void* const* in,
                              void* y, bs_stream_t stream);

BS_END_DECLS

#endif /* BLOCKSPARSE_BS_LSTM_H */
