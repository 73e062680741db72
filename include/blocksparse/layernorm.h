/**
 * @file layernorm.h
 * @brief Layer normalisation over the feature axis, forward and backward (the original's
 *        `layer_norm` / `LayerNorm` / `LayerNormGrad` ops), with optional segments and fused ReLU.
 *
 * Source of the math: J. L. Ba, J. R. Kiros, G. E. Hinton, "Layer Normalization" (2016), and
 * `blocksparse/norms.py` of openai/blocksparse (segments, fused ReLU, deterministic mode).
 *
 * **Shapes.** `K` features (fixed by the plan), minibatch `N` (every other dimension, given per
 * call). `feature_axis = 1`: `x`, `y`, `dy`, `dx` are `(N, K)` row-major (features last);
 * `feature_axis = 0`: `(K, N)` (features first). With `segments = S`, the K features are split into
 * S contiguous slices of `K/S` features (the four LSTM gates use S = 4), each normalised on its
 * own with its own slice of gain and bias. `gain`, `bias`, `dgain`, `dbias` are fp32 `(K)`;
 * `mean` and `rstd` are fp32 `(S, N)`: entry `s*N + n` belongs to segment `s` of sample `n`.
 *
 * **Math** (per sample n and segment s, over the `Ks = K/S` features k of the segment):
 * `mean = Σx/Ks`, `var = Σ(x-mean)²/Ks` (biased), `rstd = 1/sqrt(var + epsilon)`,
 * `xhat = (x-mean)·rstd`, `z = gain·xhat + bias`, `y = relu ? max(z, 0) : z`.
 * Backward: `g = relu ? dy·[z > 0] : dy`, `dbias = Σ_n g`, `dgain = Σ_n g·xhat`, and with
 * `u = g·gain`: `dx = rstd·(u - mean_k(u) - xhat·mean_k(u·xhat))`.
 * All arithmetic is fp32; x/y are fp32, fp16 or bf16 storage rounded once (nearest even).
 *
 * **Threads, streams, determinism.** A plan is immutable: one plan may run concurrently from several
 * threads and streams, each call with its own outputs and workspace. Execute functions allocate
 * nothing and never synchronize (CUDA plans enqueue on `stream`; CPU plans finish before they
 * return). fprop and dx are always deterministic. dgain/dbias are bitwise repeatable when the plan is
 * deterministic (the default: fixed partition of N, partial sums in the workspace, fixed-order final
 * sum); with `deterministic = 0` the CUDA backend may add per-block partial sums with atomics
 * (order-dependent rounding). The CPU backend is always deterministic for a given `num_threads`.
 *
 * **Pointers.** CPU plans take host pointers aligned to their element size; CUDA plans take device
 * pointers of the plan's device (checked with the CUDA runtime), aligned to their element size
 * (16-byte alignment enables vector loads). Outputs must not overlap inputs.
 *
 * **Errors.** Every function validates all its arguments before writing anything; on failure the
 * outputs are untouched and bs_get_last_error() has the details. Every function may also return
 * #BS_STATUS_INTERNAL_ERROR.
 */
#ifndef BLOCKSPARSE_LAYERNORM_H
#define BLOCKSPARSE_LAYERNORM_H

#include <blocksparse/bs_platform.h>
#include <blocksparse/bs_types.h>

BS_BEGIN_DECLS

/** @brief Opaque layer-norm plan (shape, options, backend), made by layernorm_create(). */
typedef struct layernorm_plan_s* layernorm_plan_t;
/** @brief Read-only view of a layer-norm plan. */
typedef const struct layernorm_plan_s* const_layernorm_plan_t;

/**
 * @brief Creation parameters of a layer-norm plan. Fill with layernorm_params_init() (or
 * #LAYERNORM_PARAMS_INIT) before setting fields; fields are only ever appended.
 */
typedef struct layernorm_params {
  uint32_t struct_size;   /**< sizeof(layernorm_params_t) as compiled by the caller; set by layernorm_params_init(). */
  int32_t backend;        /**< #bs_backend_t. Default #BS_BACKEND_CPU. */
  int32_t device;         /**< CUDA device ordinal (must be 0 for CPU plans). Default 0. */
  int32_t dtype;          /**< #bs_dtype_t of x, y, dy, dx. Default #BS_DTYPE_F32. */
  int32_t feature_axis;   /**< 1: `(N, K)` features last; 0: `(K, N)` features first. Default 1. */
  int32_t segments;       /**< S >= 1, dividing K. Default 1. */
  int64_t K;              /**< Number of features, >= 1. Default 0 (must be set). */
  float epsilon;          /**< Added to the variance; finite, >= 0. Default 1e-6 (the original's). */
  int32_t relu;           /**< 1: fused ReLU after the affine step; 0: none. Default 0. */
  int32_t deterministic;  /**< 1: bitwise repeatable dgain/dbias (no atomics); 0: atomics allowed. Default 1. */
  int32_t num_threads;    /**< CPU plans: threads per call, 0 = OpenMP default. Must be 0 for CUDA plans. Default 0. */
} layernorm_params_t;

/**
 * @brief Fills @p params with the defaults documented on each field and sets struct_size.
 * @param[out] params       The struct to fill.
 * @param[in]  struct_size  `sizeof(layernorm_params_t)` as the caller compiled it.
 * @return #BS_STATUS_SUCCESS, #BS_STATUS_NULL_POINTER, #BS_STATUS_STRUCT_SIZE_MISMATCH. Thread-safe.
 */
BS_API bs_status_t layernorm_params_init(layernorm_params_t* params, size_t struct_size);

/** @brief layernorm_params_init() with the caller's struct size. */
#define LAYERNORM_PARAMS_INIT(params) layernorm_params_init((params), sizeof(*(params)))

/**
 * @brief Creates a layer-norm plan. Host-synchronous; allocates only the plan object.
 * @param[out] plan    Receives the plan; untouched on failure. Free with layernorm_destroy().
 * @param[in]  params  Creation parameters.
 * @return #BS_STATUS_SUCCESS; #BS_STATUS_NULL_POINTER; #BS_STATUS_STRUCT_SIZE_MISMATCH;
 *         #BS_STATUS_INVALID_VALUE (bad enum, K < 1, segments < 1 or not dividing K, epsilon
 *         negative or not finite, relu/deterministic not 0/1, num_threads < 0 or set for CUDA,
 *         device < 0 or not 0 for CPU, device not present); #BS_STATUS_BACKEND_UNAVAILABLE (CUDA not
 *         built or no GPU); #BS_STATUS_OUT_OF_MEMORY. Thread-safe.
 */
BS_API bs_status_t layernorm_create(layernorm_plan_t* plan, const layernorm_params_t* params);

/**
 * @brief Destroys a plan. Must not race with other uses of the plan; enqueued work using it may
 * still run (the plan holds no device memory).
 * After this call the handle is dangling: destroying it again or passing it to any function is
 * undefined behaviour (as with free()).
 * @param[in] plan  The plan, or NULL (a no-op).
 * @return #BS_STATUS_SUCCESS.
 */
BS_API bs_status_t layernorm_destroy(layernorm_plan_t plan);

/** @brief The execute functions, for layernorm_get_workspace_size(). */
typedef enum layernorm_op {
  LAYERNORM_OP_FPROP = 0, /**< layernorm_fprop() */
  LAYERNORM_OP_BPROP = 1, /**< layernorm_bprop() */
  LAYERNORM_OP_FORCE_INT32 = 0x7fffffff /**< Not a value: keeps the enum 32 bits wide on every compiler. */
} layernorm_op_t;

/**
 * @brief Workspace bytes that @p op needs for minibatch @p N (it serves any smaller N too). May be 0,
 * in which case the call accepts a NULL workspace.
 * @param[in]  plan   The plan.
 * @param[in]  op     #layernorm_op_t: the execute function the workspace is for.
 * @param[in]  N      Minibatch, >= 0.
 * @param[out] bytes  Receives the size in bytes.
 * @return #BS_STATUS_SUCCESS, #BS_STATUS_NULL_POINTER, #BS_STATUS_INVALID_VALUE (op, N < 0),
 *         #BS_STATUS_OVERFLOW. Thread-safe.
 */
BS_API bs_status_t layernorm_get_workspace_size(const_layernorm_plan_t plan, layernorm_op_t op, int64_t N,
                                                size_t* bytes);

/**
 * @brief Forward: `y = relu?(gain·(x - mean)·rstd + bias)` per sample and segment.
 *
 * @param[in]  plan             The plan.
 * @param[in]  N                Minibatch, >= 0. N = 0 returns at once (pointers may then be NULL).
 * @param[in]  x                Input `(N, K)` or `(K, N)`, plan dtype.
 * @param[in]  gain             Optional (NULL = all ones): K fp32.
 * @param[in]  bias             Optional (NULL = all zeros): K fp32.
 * @param[out] y                Output, the shape and dtype of x.
 * @param[out] mean             Optional (NULL = not saved): `(S, N)` fp32 means, for layernorm_bprop().
 * @param[out] rstd             Optional, given exactly when @p mean is: `(S, N)` fp32 `1/sqrt(var+eps)`.
 * @param[in]  workspace        Scratch of layernorm_get_workspace_size(#LAYERNORM_OP_FPROP, N) bytes.
 * @param[in]  workspace_bytes  Its size.
 * @param[in]  stream           CUDA stream (CUDA plans); ignored by CPU plans.
 * @return #BS_STATUS_SUCCESS; #BS_STATUS_NULL_POINTER (plan, x, y, workspace when needed, one of
 *         mean/rstd without the other); #BS_STATUS_INVALID_VALUE (N < 0); #BS_STATUS_OVERFLOW;
 *         #BS_STATUS_WORKSPACE_TOO_SMALL; #BS_STATUS_MISALIGNED_POINTER; #BS_STATUS_WRONG_BACKEND;
 *         #BS_STATUS_WRONG_DEVICE; #BS_STATUS_EXECUTION_FAILED.
 * Thread-safe for concurrent calls with distinct outputs and workspaces. Deterministic.
 */
BS_API bs_status_t layernorm_fprop(const_layernorm_plan_t plan, int64_t N, const void* x, const float* gain,
                                   const float* bias, void* y, float* mean, float* rstd, void* workspace,
                                   size_t workspace_bytes, bs_stream_t stream);

/**
 * @brief Backward: `dx`, and optionally `dgain`, `dbias`, from `dy` and the saved statistics.
 *
 * @param[in]  plan             The plan (the one that ran the forward, or an equal one).
 * @param[in]  N                Minibatch, >= 0. N = 0 writes zeros to dgain/dbias when given.
 * @param[in]  dy               Gradient of y, the shape and dtype of x.
 * @param[in]  x                The forward's input.
 * @param[in]  gain             As in the forward (NULL = ones).
 * @param[in]  bias             As in the forward (NULL = zeros); only read when the plan has relu.
 * @param[in]  mean, rstd       `(S, N)` fp32 statistics saved by layernorm_fprop(); required.
 * @param[out] dx               Gradient of x, the shape and dtype of x (overwritten).
 * @param[out] dgain            Optional (NULL = not computed): K fp32 (overwritten, not accumulated).
 * @param[out] dbias            Optional (NULL = not computed): K fp32 (overwritten).
 * @param[in]  workspace        Scratch of layernorm_get_workspace_size(#LAYERNORM_OP_BPROP, N) bytes.
 * @param[in]  workspace_bytes  Its size.
 * @param[in]  stream           CUDA stream; ignored by CPU plans.
 * @return As layernorm_fprop().
 * Thread-safe as layernorm_fprop(). Deterministic unless the plan was made with `deterministic = 0`
 * (then dgain/dbias on CUDA may differ in the last bits between runs).
 */
BS_API bs_status_t layernorm_bprop(const_layernorm_plan_t plan, int64_t N, const void* dy, const void* x,
                                   const float* gain, const float* bias, const float* mean, const float* rstd,
                                   void* dx, float* dgain, float* dbias, void* workspace, size_t workspace_bytes,
                                   bs_stream_t stream);

BS_END_DECLS

#endif /* BLOCKSPARSE_LAYERNORM_H */
