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
 * @param[in]  backend   #bs_backend_t: where the tensors live and the work runs.
 * @param[in]  dtype     #bs_dtype_t of the activations (x, y, dy, dx); per-channel vectors are fp32.
 * @param[in]  N, C, S   Sizes, >= 0; N·S >= 1 when C >= 1 (statistics need a sample). C = 0
 *                       returns at once.
 * @param[in]  x         Input `(N, C, S)`.
 * @param[in]  gain      C fp32 or NULL (ones).
 * @param[in]  bias      C fp32 or NULL (zeros).
 * @param[in]  epsilon   Added to the variance; finite, >= 0.
 * @param[out] y         Output `(N, C, S)`; may alias x.
 * @param[out] mean      C fp32 batch means (required: the backward needs them).
 * @param[out] var       C fp32 biased batch variances (required).
 * @param[in]  stream    CUDA stream; ignored by the CPU backend.
 * @return The statuses of bs_ew.h; #BS_STATUS_INVALID_VALUE also for N·S = 0 with C > 0 and for a
 *         negative or non-finite epsilon. Thread-safe; deterministic (fixed-order fp32 sums).
 */
BS_API bs_status_t bs_batchnorm_fprop_train(bs_backend_t backend, bs_dtype_t dtype, int64_t N, int64_t C, int64_t S,
                                            const void* x, const float* gain, const float* bias, float epsilon,
                                            void* y, float* mean, float* var, bs_stream_t stream);

/**
 * @brief Batch norm forward in inference mode with given statistics:
 * `y = gain·(x-mean)/sqrt(var+epsilon) + bias`.
 * @param[in]  backend   #bs_backend_t: where the tensors live and the work runs.
 * @param[in]  dtype     #bs_dtype_t of the activations (x, y, dy, dx); per-channel vectors are fp32.
 * @param[in]  N, C, S   Sizes, >= 0 (no elements returns at once).
 * @param[in]  x         Input `(N, C, S)`.
 * @param[in]  gain      C fp32 or NULL (ones).
 * @param[in]  bias      C fp32 or NULL (zeros).
 * @param[in]  mean      C fp32 (required).
 * @param[in]  var       C fp32 (required); var >= 0 is the caller's responsibility.
 * @param[in]  epsilon   Finite, >= 0.
 * @param[out] y         Output `(N, C, S)`; may alias x.
 * @param[in]  stream    CUDA stream; ignored by the CPU backend.
 * @return The statuses of bs_ew.h. Thread-safe; deterministic.
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
 * @param[in]  backend   #bs_backend_t: where the tensors live and the work runs.
 * @param[in]  dtype     #bs_dtype_t of the activations (x, y, dy, dx); per-channel vectors are fp32.
 * @param[in]  training  1: gradient of bs_batchnorm_fprop_train(); 0: of bs_batchnorm_fprop_infer().
 * @param[in]  N, C, S   Sizes, >= 0. C = 0 returns at once.
 * @param[in]  dy        Gradient of y `(N, C, S)`.
 * @param[in]  x         The forward's input.
 * @param[in]  gain      As in the forward (NULL = ones).
 * @param[in]  mean, var The forward's statistics, C fp32 each (required).
 * @param[in]  epsilon   As in the forward.
 * @param[out] dx        Output `(N, C, S)`; may alias dy.
 * @param[out] dgain     Optional C fp32 (overwritten).
 * @param[out] dbias     Optional C fp32 (overwritten).
 * @param[in]  stream    CUDA stream; ignored by the CPU backend.
 * @return The statuses of bs_ew.h; #BS_STATUS_INVALID_VALUE also for `training` not 0/1 or N·S = 0
 *         with C > 0 in training mode. Thread-safe; deterministic.
 */
BS_API bs_status_t bs_batchnorm_bprop(bs_backend_t backend, bs_dtype_t dtype, int32_t training, int64_t N, int64_t C,
                                      int64_t S, const void* dy, const void* x, const float* gain, const float* mean,
                                      const float* var, float epsilon, void* dx, float* dgain, float* dbias,
                                      bs_stream_t stream);

/**
 * @brief Channel-wise linear along dim 1: `y = relu?(a·x + b)`, or with @p bias_first
 * `y = relu?(a·(x + b))`; a and b broadcast over N and S.
 * @param[in]  backend   #bs_backend_t: where the tensors live and the work runs.
 * @param[in]  dtype     #bs_dtype_t of the activations (x, y, dy, dx); per-channel vectors are fp32.
 * @param[in]  N, C, S     Sizes, >= 0 (no elements returns at once).
 * @param[in]  x           Input `(N, C, S)`.
 * @param[in]  a           C fp32 or NULL (ones).
 * @param[in]  b           C fp32 or NULL (zeros).
 * @param[in]  relu        0 or 1.
 * @param[in]  bias_first  0 or 1.
 * @param[out] y           Output `(N, C, S)`; may alias x.
 * @param[in]  stream      CUDA stream; ignored by the CPU backend.
 * @return The statuses of bs_ew.h. Thread-safe; deterministic.
 */
BS_API bs_status_t bs_cwise_linear_fprop(bs_backend_t backend, bs_dtype_t dtype, int64_t N, int64_t C, int64_t S,
                                         const void* x, const float* a, const float* b, int32_t relu,
                                         int32_t bias_first, void* y, bs_stream_t stream);

/**
 * @brief Backward of bs_cwise_linear_fprop(), recomputing the pre-activation for the ReLU mask:
 * with `g = relu ? dy·[pre > 0] : dy`: `dx = a·g`, `da = Σ g·x` (`Σ g·(x+b)` with bias_first),
 * `db = Σ g` (`Σ a·g` with bias_first).
 * @param[in]  backend   #bs_backend_t: where the tensors live and the work runs.
 * @param[in]  dtype     #bs_dtype_t of the activations (x, y, dy, dx); per-channel vectors are fp32.
 * @param[in]  N, C, S     Sizes, >= 0. C = 0 returns at once; N·S = 0 writes zeros to da/db.
 * @param[in]  dy          Gradient of y `(N, C, S)`.
 * @param[in]  x           The forward's input.
 * @param[in]  a, b        As in the forward (NULL = ones / zeros).
 * @param[in]  relu        0 or 1, as in the forward.
 * @param[in]  bias_first  0 or 1, as in the forward.
 * @param[out] dx          Output `(N, C, S)`, may alias dy; or NULL (skip).
 * @param[out] da, db      Optional C fp32 (overwritten).
 * @param[in]  stream      CUDA stream; ignored by the CPU backend.
 * @return The statuses of bs_ew.h. Thread-safe; deterministic.
 */
BS_API bs_status_t bs_cwise_linear_bprop(bs_backend_t backend, bs_dtype_t dtype, int64_t N, int64_t C, int64_t S,
                                         const void* dy, const void* x, const float* a, const float* b, int32_t relu,
                                         int32_t bias_first, void* dx, float* da, float* db, bs_stream_t stream);

BS_END_DECLS

#endif /* BLOCKSPARSE_BS_NORMS_H */
