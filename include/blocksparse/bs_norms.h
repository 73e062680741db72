/**
 * @file bs_norms.h
 * @brief Batch normalisation over `N C (D) H W` and channel-wise linear `y = relu?(a·x + b)`
 *        (the original's `batch_norm`, `batch_norm_inference` and `cwise_linear`).
 *
 * Conventions (backend, pointers, dtypes, aliasing, determinism, statuses, thread-safety): as for
 * every plain op, see bs_ew.h.
 *
 * **Shapes.** Activations are `(N, C, S)` row-major, where S is the product of the spatial
 * dimensions (D·H·W; 1 for `(N, C)` tensors). Per-channel vectors are fp32 `(C)`. Reductions run
 * over N and S, in fp32 with a fixed order.
 *
 * Source of the math: S. Ioffe, C. Szegedy, "Batch Normalization" (2015) and `blocksparse/norms.py`
 * and `conv.py` of openai/blocksparse.
 */
#ifndef BLOCKSPARSE_BS_NORMS_H
#define BLOCKSPARSE_BS_NORMS_H

#include <blocksparse/bs_platform.h>
#include <blocksparse/bs_types.h>

BS_BEGIN_DECLS

/**
 * @brief Batch norm forward in training mode: per channel c, `mean = Σx/(N·S)`,
 * `var = Σ(x-mean)²/(N·S)` (biased, as the original), `y = gain·(x-mean)/sqrt(var+epsilon) + bias`.
 *
 * @param N, C, S   Sizes; N·S >= 1 when C >= 1 (statistics need at least one sample).
 * @param x         Input `(N, C, S)`, @p dtype.
 * @param gain      C fp32 or NULL (ones).
 * @param bias      C fp32 or NULL (zeros).
 * @param epsilon   Finite, >= 0.
 * @param y         Output `(N, C, S)`; may alias x.
 * @param mean      Output C fp32 (required: the backward needs it).
 * @param var       Output C fp32 (required).
 * @return The statuses of bs_ew.h; #BS_STATUS_INVALID_VALUE also for N·S = 0 with C > 0.
 */
BS_API bs_status_t bs_batchnorm_fprop_train(bs_backend_t backend, bs_dtype_t dtype, int64_t N, int64_t C, int64_t S,
                                            const void* x, const float* gain, const float* bias, float epsilon,
                                            void* y, float* mean, float* var, bs_stream_t stream);

/**
 * @brief Batch norm forward in inference mode with given statistics:
 * `y = gain·(x-mean)/sqrt(var+epsilon) + bias`.
 * @param mean, var  C fp32 each (required); var >= 0 is the caller's responsibility.
 * Other parameters as bs_batchnorm_fprop_train(); N·S may be 0.
 */
BS_API bs_status_t bs_batchnorm_fprop_infer(bs_backend_t backend, bs_dtype_t dtype, int64_t N, int64_t C, int64_t S,
                                            const void* x, const float* gain, const float* bias, const float* mean,
                                            const float* var, float epsilon, void* y, bs_stream_t stream);

/**
 * @brief Batch norm backward. With `rstd = 1/sqrt(var+eps)`, `xhat = (x-mean)·rstd`, `M = N·S`:
 * `dbias = Σ dy`, `dgain = Σ dy·xhat`, and
 * training mode: `dx = gain·rstd·(dy - dbias/M - xhat·dgain/M)`;
 * inference mode (statistics were inputs): `dx = gain·rstd·dy`.
 *
 * @param training  1: gradient of bs_batchnorm_fprop_train(); 0: of bs_batchnorm_fprop_infer().
 * @param dy        Gradient of y `(N, C, S)`.
 * @param x         The forward's input.
 * @param gain      As in the forward (NULL = ones).
 * @param mean, var The forward's statistics (required).
 * @param dx        Output `(N, C, S)`; may alias dy.
 * @param dgain     Optional C fp32 (overwritten).
 * @param dbias     Optional C fp32 (overwritten).
 * @return The statuses of bs_ew.h; #BS_STATUS_INVALID_VALUE also for `training` not 0/1 or N·S = 0
 *         with C > 0 in training mode.
 */
BS_API bs_status_t bs_batchnorm_bprop(bs_backend_t backend, bs_dtype_t dtype, int32_t training, int64_t N, int64_t C,
                                      int64_t S, const void* dy, const void* x, const float* gain, const float* mean,
                                      const float* var, float epsilon, void* dx, float* dgain, float* dbias,
                                      bs_stream_t stream);

/**
 * @brief Channel-wise linear along dim 1: `y = relu?(a·x + b)`, or with @p bias_first
 * `y = relu?(a·(x + b))`; a and b broadcast over N and S.
 * @param x          Input `(N, C, S)`.
 * @param a          C fp32 or NULL (ones).
 * @param b          C fp32 or NULL (zeros).
 * @param relu       0 or 1.
 * @param bias_first 0 or 1.
 * @param y          Output `(N, C, S)`; may alias x.
 * @return The statuses of bs_ew.h.
 */
BS_API bs_status_t bs_cwise_linear_fprop(bs_backend_t backend, bs_dtype_t dtype, int64_t N, int64_t C, int64_t S,
                                         const void* x, const float* a, const float* b, int32_t relu,
                                         int32_t bias_first, void* y, bs_stream_t stream);

/**
 * @brief Backward of bs_cwise_linear_fprop(), recomputing the pre-activation for the ReLU mask:
 * with `g = relu ? dy·[pre > 0] : dy`: `dx = a·g`, `da = Σ g·x` (`Σ g·(x+b)` with bias_first),
 * `db = Σ g` (`Σ a·g` with bias_first).
 * @param dy       Gradient of y.
 * @param x        The forward's input.
 * @param a, b     As in the forward.
 * @param dx       Output `(N, C, S)`, may alias dy; or NULL (skip).
 * @param da, db   Optional C fp32 (overwritten).
 * @return The statuses of bs_ew.h.
 */
BS_API bs_status_t bs_cwise_linear_bprop(bs_backend_t backend, bs_dtype_t dtype, int64_t N, int64_t C, int64_t S,
                                         const void* dy, const void* x, const float* a, const float* b, int32_t relu,
                                         int32_t bias_first, void* dx, float* da, float* db, bs_stream_t stream);

BS_END_DECLS

#endif /* BLOCKSPARSE_BS_NORMS_H */
