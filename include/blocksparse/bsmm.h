/**
 * @file bsmm.h
 * @brief Block-sparse weight matrix multiply (bsmm): `y = x·W` with `W` block-sparse on a fixed
 *        layout, its backward products and weight helpers.
 *
 * Source of the math: S. Gray, A. Radford, D. Kingma, "GPU Kernels for Block-Sparse Weights"
 * (OpenAI, 2017) and the `BlocksparseMatMul` op of openai/blocksparse.
 *
 * **Layout.** A `CB × KB` 0/1 matrix: `layout[c*KB + k] = 1` connects input block `c` (input
 * features `c*b .. c*b+b-1`) to output block `k`. `C = CB*b` input features, `K = KB*b` output
 * features, `nnz` = number of ones ("nnz blocks").
 *
 * **Weights** `W` are `(nnz, b, b)`, row-major. Block `i` holds the dense sub-matrix
 * `Wdense[c*b:(c+1)*b, k*b:(k+1)*b]` (rows = input features) where `(c, k) = bsmm_block_coord(i)`.
 * Blocks are stored in row-major order of `(c, k)`: exactly the `data` array of a BSR matrix of
 * shape `(C, K)` (SciPy `bsr_matrix.data`, PyTorch `to_sparse_bsr(...).values()`).
 *
 * **Activations.** `N` is the minibatch: every dimension that is not the feature dimension. With
 * `feature_axis = 1`, `x` is `(N, C)` and `y` is `(N, K)`, row-major; with `feature_axis = 0`,
 * `x` is `(C, N)` and `y` is `(K, N)`. All tensors are dense and contiguous.
 *
 * **Ops.**
 * - fprop: `y = alpha·(x·W) + beta·y`
 * - bprop: `dx = alpha·(dy·Wᵀ) + beta·dx`
 * - updat: `dW[i] = alpha·Σ_p x_p[:, c]ᵀ·dy_p[:, k] + beta·dW[i]` for every nonzero block `i`
 *   only (the original's `group_param_grads` when there are several pairs `p`).
 * - Optional gates: one fp32 per block; block `i`'s term is multiplied by `gate[i]`, and a block
 *   whose gate is exactly 0 is skipped.
 * As in BLAS, `beta = 0` overwrites the output without reading it (NaN in it does not propagate).
 *
 * **Numerics.** fp32, fp16 and bf16 storage, fp32 accumulation; results are rounded to the storage
 * type once, round-to-nearest-even. fp32 is exact fp32 unless the plan opts into TF32. One
 * exception: gated fprop/bprop of 16-bit CUDA plans multiply each weight block by its gate in the
 * storage type (`g·W` rounded to fp16/bf16) before the tensor-core product.
 *
 * **Threads, streams, determinism.** A plan is immutable after creation: one plan may be executed
 * concurrently from several threads and streams, each call with its own workspace. Execute
 * functions allocate nothing and never synchronize (CUDA plans enqueue on `stream` and can be
 * captured in a CUDA graph; CPU plans complete before returning). Every op is deterministic:
 * the same inputs give bitwise the same outputs on the same backend, build and device.
 * bsmm_destroy() must not race with other uses of the same plan.
 *
 * **Pointers.** CPU plans take host pointers; CUDA plans take device pointers of the plan's device
 * for every tensor (x, y, W, gates, gains, workspace). Layout arrays are always host pointers.
 * Pointers must be aligned to the element size (CPU) or to 16 bytes (CUDA tensors); otherwise
 * #BS_STATUS_MISALIGNED_POINTER.
 *
 * **Errors.** Every function validates all of its arguments before touching any output; on failure
 * the outputs are untouched and bs_get_last_error() gives the details. Statuses that every
 * function below can return in addition to those listed: #BS_STATUS_INTERNAL_ERROR.
 */
#ifndef BLOCKSPARSE_BSMM_H
#define BLOCKSPARSE_BSMM_H

#include <blocksparse/bs_platform.h>
#include <blocksparse/bs_types.h>

BS_BEGIN_DECLS

/** @brief Opaque bsmm plan: layout, lookup tables and backend state, made once by bsmm_create(). */
typedef struct bsmm_plan_s* bsmm_plan_t;
/** @brief Read-only view of a bsmm plan (every execute and query function takes this). */
typedef const struct bsmm_plan_s* const_bsmm_plan_t;

/** @brief Block sizes a plan accepts: 8, 16, 32, 64, 128. */
#define BSMM_BLOCK_SIZES {8, 16, 32, 64, 128}

/**
 * @brief Creation parameters of a bsmm plan. Fill with bsmm_params_init() (or #BSMM_PARAMS_INIT)
 * before setting fields: fields are only ever appended, and struct_size tells the library which
 * ones the caller knows.
 */
typedef struct bsmm_params {
  uint32_t struct_size;   /**< sizeof(bsmm_params_t) as compiled by the caller; set by bsmm_params_init(). */
  int32_t backend;        /**< #bs_backend_t. Default #BS_BACKEND_CPU. */
  int32_t device;         /**< CUDA device ordinal (CUDA plans only; must be 0 for CPU plans). Default 0. */
  int32_t block_size;     /**< b, one of 8, 16, 32, 64, 128. Default 32. */
  int32_t feature_axis;   /**< 1: activations `(N, features)`; 0: `(features, N)`. Default 1. */
  int32_t dtype;          /**< #bs_dtype_t of x, y, W and their gradients. Default #BS_DTYPE_F32. */
  int32_t math_mode;      /**< #bs_math_mode_t. Default #BS_MATH_DEFAULT (exact fp32). */
  int32_t num_threads;    /**< CPU plans: threads per call, 0 = one per hardware thread. Must be 0 for CUDA plans. Default 0. */
} bsmm_params_t;

/**
 * @brief Fills @p params with the defaults documented on each field and sets struct_size.
 * @param[out] params       The struct to fill.
 * @param[in]  struct_size  `sizeof(bsmm_params_t)` as the caller compiled it (use #BSMM_PARAMS_INIT).
 * @return #BS_STATUS_SUCCESS, #BS_STATUS_NULL_POINTER, #BS_STATUS_STRUCT_SIZE_MISMATCH.
 * Thread-safe.
 */
BS_API bs_status_t bsmm_params_init(bsmm_params_t* params, size_t struct_size);

/** @brief bsmm_params_init() with the caller's struct size. */
#define BSMM_PARAMS_INIT(params) bsmm_params_init((params), sizeof(*(params)))

/**
 * @brief Creates a plan from a dense 0/1 layout.
 *
 * Builds the block order, the lookup tables of every op and, for CUDA plans, uploads them to the
 * device and picks kernels (the only step that allocates). Host-synchronous.
 *
 * **Plan memory** is O(nnz + CB + KB), all of it allocated here: a CPU plan peaks (during creation)
 * and stays at most at `8·(CB + KB + 2) + 48·nnz` bytes plus 64 KiB; a CUDA plan's device tables
 * take at most `4·(350·nnz + 8·(CB + KB) + 64)` bytes (b = 8; fewer per block for larger blocks)
 * and creation needs up to four times that in host memory besides. The `CB + KB` term is below one
 * row of x plus one row of y (`b·(CB + KB)` elements, b >= 8), so no shape the caller can feed
 * makes the plan larger than its activations; a one-block plan with KB = 2^30 holds an 8 GiB table
 * (its y has 2^33 or more features per sample). The CUDA backend refuses nnz, C or K of 2^31 or more
 * (#BS_STATUS_NOT_SUPPORTED: it indexes with 32-bit integers).
 *
 * @param[out] plan    Receives the new plan; untouched on failure. Free with bsmm_destroy().
 * @param[in]  params  Creation parameters (see #bsmm_params_t).
 * @param[in]  layout  Host array of `CB*KB` bytes, row-major `(CB, KB)`, each 0 or 1, at least one 1.
 * @param[in]  CB      Number of input blocks (rows of the layout), >= 1.
 * @param[in]  KB      Number of output blocks (columns of the layout), >= 1.
 * @return #BS_STATUS_SUCCESS; #BS_STATUS_NULL_POINTER (plan, params, layout);
 *         #BS_STATUS_STRUCT_SIZE_MISMATCH; #BS_STATUS_INVALID_VALUE (bad enum, block size, axis,
 *         CB or KB < 1, num_threads < 0, device); #BS_STATUS_OVERFLOW (CB*KB*b*b or C, K too large);
 *         #BS_STATUS_INVALID_LAYOUT (a value other than 0/1, or no block);
 *         #BS_STATUS_BACKEND_UNAVAILABLE; #BS_STATUS_ARCH_NOT_SUPPORTED; #BS_STATUS_NOT_SUPPORTED;
 *         #BS_STATUS_OUT_OF_MEMORY; #BS_STATUS_EXECUTION_FAILED (device upload).
 * Thread-safe (creates an independent object).
 */
BS_API bs_status_t bsmm_create(bsmm_plan_t* plan, const bsmm_params_t* params, const uint8_t* layout,
                               int64_t CB, int64_t KB);

/**
 * @brief Creates a plan from a layout given in BSR (block CSR) form: for input block row `c`, the
 * output blocks `col_idx[row_ptr[c] .. row_ptr[c+1]-1]`. Block `i` of W is the `i`-th entry of
 * `col_idx`, so W is the `data` array of the same BSR matrix.
 *
 * @param[out] plan     Receives the new plan; untouched on failure.
 * @param[in]  params   Creation parameters.
 * @param[in]  CB       Number of input blocks, >= 1.
 * @param[in]  KB       Number of output blocks, >= 1.
 * @param[in]  row_ptr  Host array of CB+1 entries, `row_ptr[0] = 0`, non-decreasing, `row_ptr[CB] = nnz >= 1`.
 * @param[in]  col_idx  Host array of nnz entries in `[0, KB)`, strictly increasing within each row.
 * @return As bsmm_create(); #BS_STATUS_INVALID_LAYOUT for malformed row pointers or indices.
 * Thread-safe.
 */
BS_API bs_status_t bsmm_create_bsr(bsmm_plan_t* plan, const bsmm_params_t* params, int64_t CB, int64_t KB,
                                   const int64_t* row_ptr, const int64_t* col_idx);

/**
 * @brief Destroys a plan and frees its host and device memory. NULL is a no-op.
 * Must not race with other calls using the same plan; work already enqueued on a stream that
 * reads the plan's tables must have completed (CUDA plans).
 * After this call the handle is dangling: destroying it again or passing it to any function is
 * undefined behaviour (as with free()).
 * @param[in] plan  The plan to destroy, or NULL.
 * @return #BS_STATUS_SUCCESS.
 */
BS_API bs_status_t bsmm_destroy(bsmm_plan_t plan);

/** @brief Integer properties of a plan, read with bsmm_get_attr(). */
typedef enum bsmm_attr {
  BSMM_ATTR_C = 0,             /**< Input features C = CB*b. */
  BSMM_ATTR_K = 1,             /**< Output features K = KB*b. */
  BSMM_ATTR_CB = 2,            /**< Input blocks (layout rows). */
  BSMM_ATTR_KB = 3,            /**< Output blocks (layout columns). */
  BSMM_ATTR_BLOCK_SIZE = 4,    /**< Block size b. */
  BSMM_ATTR_NNZ_BLOCKS = 5,    /**< Number of nonzero blocks (first dimension of W). */
  BSMM_ATTR_FEATURE_AXIS = 6,  /**< 0 or 1. */
  BSMM_ATTR_DTYPE = 7,         /**< #bs_dtype_t. */
  BSMM_ATTR_BACKEND = 8,       /**< #bs_backend_t. */
  BSMM_ATTR_DEVICE = 9,        /**< CUDA device ordinal (0 for CPU plans). */
  BSMM_ATTR_MATH_MODE = 10,    /**< #bs_math_mode_t. */
  BSMM_ATTR_NUM_THREADS = 11, /**< CPU threads per call actually used (0 for CUDA plans). */
  BSMM_ATTR_FORCE_INT32 = 0x7fffffff /**< Not a value: keeps the enum 32 bits wide on every compiler. */
} bsmm_attr_t;

/**
 * @brief Reads one integer property of a plan.
 * @param[in]  plan   The plan.
 * @param[in]  attr   The property (#bsmm_attr_t).
 * @param[out] value  Receives its value.
 * @return #BS_STATUS_SUCCESS, #BS_STATUS_NULL_POINTER, #BS_STATUS_INVALID_VALUE (unknown attr).
 * Thread-safe.
 */
BS_API bs_status_t bsmm_get_attr(const_bsmm_plan_t plan, bsmm_attr_t attr, int64_t* value);

/**
 * @brief Shape of the weight tensor: `{nnz, b, b}`.
 * @param[in]  plan   The plan.
 * @param[out] shape  Receives `{nnz, b, b}`.
 * @return #BS_STATUS_SUCCESS, #BS_STATUS_NULL_POINTER. Thread-safe.
 */
BS_API bs_status_t bsmm_get_weight_shape(const_bsmm_plan_t plan, int64_t shape[3]);

/**
 * @brief Shape of the input `x` (and `dx`) for minibatch @p N: `{N, C}` (feature_axis 1) or `{C, N}`.
 * @param[in]  plan   The plan.
 * @param[in]  N      Minibatch, >= 0.
 * @param[out] shape  Receives the two dimensions, outermost first.
 * @return #BS_STATUS_SUCCESS, #BS_STATUS_NULL_POINTER, #BS_STATUS_INVALID_VALUE (N < 0),
 *         #BS_STATUS_OVERFLOW (N*C). Thread-safe.
 */
BS_API bs_status_t bsmm_get_input_shape(const_bsmm_plan_t plan, int64_t N, int64_t shape[2]);

/**
 * @brief Shape of the output `y` (and `dy`) for minibatch @p N: `{N, K}` (feature_axis 1) or `{K, N}`.
 * @param[in]  plan   The plan.
 * @param[in]  N      Minibatch, >= 0.
 * @param[out] shape  Receives the two dimensions, outermost first.
 * @return As bsmm_get_input_shape(). Thread-safe.
 */
BS_API bs_status_t bsmm_get_output_shape(const_bsmm_plan_t plan, int64_t N, int64_t shape[2]);

/**
 * @brief Layout coordinates of weight block @p block: input block @p c, output block @p k.
 * @param[in]  plan   The plan.
 * @param[in]  block  Index of the block in W, in `[0, nnz)`.
 * @param[out] c      Receives its input block (layout row).
 * @param[out] k      Receives its output block (layout column).
 * @return #BS_STATUS_SUCCESS, #BS_STATUS_NULL_POINTER, #BS_STATUS_INVALID_VALUE (block outside
 *         `[0, nnz)`). Thread-safe.
 */
BS_API bs_status_t bsmm_block_coord(const_bsmm_plan_t plan, int64_t block, int64_t* c, int64_t* k);

/**
 * @brief Copies the plan's layout as a dense `(CB, KB)` 0/1 byte array.
 * @param[in]  plan        The plan.
 * @param[out] layout      Host buffer of at least `CB*KB` bytes.
 * @param[in]  layout_len  Its size in bytes.
 * @return #BS_STATUS_SUCCESS, #BS_STATUS_NULL_POINTER, #BS_STATUS_SHAPE_MISMATCH (too small).
 * Thread-safe.
 */
BS_API bs_status_t bsmm_get_layout(const_bsmm_plan_t plan, uint8_t* layout, int64_t layout_len);

/** @brief The execute functions, for bsmm_get_workspace_size(). */
typedef enum bsmm_op {
  BSMM_OP_FPROP = 0,              /**< bsmm_fprop() */
  BSMM_OP_BPROP = 1,              /**< bsmm_bprop() */
  BSMM_OP_UPDAT = 2,              /**< bsmm_updat() */
  BSMM_OP_L2_NORMALIZE = 3,       /**< bsmm_l2_normalize() */
  BSMM_OP_L2_NORMALIZE_GRAD = 4,  /**< bsmm_l2_normalize_grad() */
  BSMM_OP_IDENTITY_INIT = 5, /**< bsmm_identity_init() */
  BSMM_OP_FORCE_INT32 = 0x7fffffff /**< Not a value: keeps the enum 32 bits wide on every compiler. */
} bsmm_op_t;

/**
 * @brief Workspace bytes that @p op needs on this plan for minibatch @p N (the same size serves any
 * smaller N). The size may be 0; a call with that size accepts a NULL workspace. What it holds
 * depends on the backend: CUDA fprop/bprop keep fp32 partial sums of their split small-N path
 * (N <= 128; larger N need none), CUDA updat fp32 partial sums of split minibatches.
 * @param[in]  plan   The plan.
 * @param[in]  op     The execute function (#bsmm_op_t).
 * @param[in]  N      Largest minibatch the workspace will serve, >= 0 (ignored by ops on the weights only).
 * @param[out] bytes  Receives the size in bytes.
 * @return #BS_STATUS_SUCCESS, #BS_STATUS_NULL_POINTER, #BS_STATUS_INVALID_VALUE (op, N < 0),
 *         #BS_STATUS_OVERFLOW. Thread-safe.
 */
BS_API bs_status_t bsmm_get_workspace_size(const_bsmm_plan_t plan, bsmm_op_t op, int64_t N, size_t* bytes);

/**
 * @brief Forward product `y = alpha·(x·W) + beta·y` (gated: block i's term times gate[i]).
 *
 * @param[in]     plan             The plan.
 * @param[in]     N                Minibatch, >= 0. N = 0 returns at once (pointers may then be NULL).
 * @param[in]     x                Input, `(N, C)` or `(C, N)` (see the file overview), plan dtype.
 * @param[in]     w                Weights `(nnz, b, b)`, plan dtype.
 * @param[in,out] y                Output, `(N, K)` or `(K, N)`, plan dtype. Output columns whose
 *                                 layout column is empty receive `beta·y` (0 with beta = 0).
 * @param[in]     alpha, beta      Finite fp32 scales.
 * @param[in]     gate             Optional (NULL = no gates): nnz fp32 gates.
 * @param[in]     workspace        Scratch of at least the bytes of bsmm_get_workspace_size(#BSMM_OP_FPROP, N).
 * @param[in]     workspace_bytes  Its size.
 * @param[in]     stream           CUDA stream (CUDA plans); ignored by CPU plans.
 * @return #BS_STATUS_SUCCESS; #BS_STATUS_NULL_POINTER; #BS_STATUS_INVALID_VALUE (N < 0, non-finite
 *         alpha/beta); #BS_STATUS_OVERFLOW; #BS_STATUS_WORKSPACE_TOO_SMALL;
 *         #BS_STATUS_MISALIGNED_POINTER; #BS_STATUS_WRONG_BACKEND; #BS_STATUS_WRONG_DEVICE;
 *         #BS_STATUS_EXECUTION_FAILED.
 * Thread-safe for concurrent calls on one plan with distinct outputs and workspaces. Deterministic.
 */
BS_API bs_status_t bsmm_fprop(const_bsmm_plan_t plan, int64_t N, const void* x, const void* w, void* y, float alpha,
                              float beta, const float* gate, void* workspace, size_t workspace_bytes,
                              bs_stream_t stream);

/**
 * @brief Backward product for the input: `dx = alpha·(dy·Wᵀ) + beta·dx` (gated as bsmm_fprop()).
 *
 * @param[in]     plan             The plan.
 * @param[in]     N                Minibatch, >= 0. N = 0 returns at once (pointers may then be NULL).
 * @param[in]     dy               Gradient of the output, `(N, K)` or `(K, N)`, plan dtype.
 * @param[in]     w                Weights `(nnz, b, b)`, plan dtype.
 * @param[in,out] dx               Gradient of the input, `(N, C)` or `(C, N)`, plan dtype. Input
 *                                 features whose layout row is empty receive `beta·dx`.
 * @param[in]     alpha, beta      Finite fp32 scales.
 * @param[in]     gate             Optional (NULL = no gates): nnz fp32 gates.
 * @param[in]     workspace        Scratch of at least the bytes of bsmm_get_workspace_size(#BSMM_OP_BPROP, N).
 * @param[in]     workspace_bytes  Its size.
 * @param[in]     stream           CUDA stream (CUDA plans); ignored by CPU plans.
 * @return As bsmm_fprop().
 * Thread-safe for concurrent calls on one plan with distinct outputs and workspaces. Deterministic.
 */
BS_API bs_status_t bsmm_bprop(const_bsmm_plan_t plan, int64_t N, const void* dy, const void* w, void* dx, float alpha,
                              float beta, const float* gate, void* workspace, size_t workspace_bytes,
                              bs_stream_t stream);

/**
 * @brief Weight gradient on the layout: `dW[i] = alpha·gate[i]·Σ_p x_p[:, c]ᵀ·dy_p[:, k] + beta·dW[i]`.
 *
 * Several `(x, dy)` pairs (for instance the time steps of an RNN sharing W) are summed in fp32
 * before the single rounding to the storage type. With N = 0 the sum is empty and the result is
 * `beta·dW` (as in BLAS).
 *
 * @param[in]     plan             The plan.
 * @param[in]     N                Minibatch of every pair, >= 0.
 * @param[in]     n_pairs          Number of pairs, >= 1.
 * @param[in]     x                Host array of @p n_pairs input pointers, each `(N, C)` or `(C, N)`.
 * @param[in]     dy               Host array of @p n_pairs output-gradient pointers, each `(N, K)` or `(K, N)`.
 * @param[in,out] dw               Weight gradient `(nnz, b, b)`, plan dtype.
 * @param[in]     alpha, beta      Finite fp32 scales.
 * @param[in]     gate             Optional (NULL = no gates): nnz fp32 gates; blocks with gate 0 get `beta·dW[i]`.
 * @param[in]     workspace        Scratch of bsmm_get_workspace_size(#BSMM_OP_UPDAT, N) bytes.
 * @param[in]     workspace_bytes  Its size.
 * @param[in]     stream           CUDA stream; ignored by CPU plans.
 * @return As bsmm_fprop(); #BS_STATUS_INVALID_VALUE also for n_pairs < 1.
 * Thread-safe as bsmm_fprop(). Deterministic (no atomics; fixed summation order).
 */
BS_API bs_status_t bsmm_updat(const_bsmm_plan_t plan, int64_t N, int32_t n_pairs, const void* const* x,
                              const void* const* dy, void* dw, float alpha, float beta, const float* gate,
                              void* workspace, size_t workspace_bytes, bs_stream_t stream);

/**
 * @brief Identity initialisation of the weights (the original's `identity_init`): block `i` at
 * `(c, k)` is `scale·I` when `c % KB == k % CB`, and 0 otherwise. On a square layout with its
 * diagonal this makes `x·W = scale·x`.
 * @param[in]  plan    The plan.
 * @param[out] w       Weights `(nnz, b, b)`, plan dtype.
 * @param[in]  scale   Finite fp32.
 * @param[in]  stream  CUDA stream (CUDA plans); ignored by CPU plans.
 * @return #BS_STATUS_SUCCESS, #BS_STATUS_NULL_POINTER, #BS_STATUS_INVALID_VALUE (non-finite scale),
 *         #BS_STATUS_MISALIGNED_POINTER, #BS_STATUS_WRONG_BACKEND, #BS_STATUS_WRONG_DEVICE,
 *         #BS_STATUS_EXECUTION_FAILED. Thread-safe. Deterministic.
 */
BS_API bs_status_t bsmm_identity_init(const_bsmm_plan_t plan, void* w, float scale, bs_stream_t stream);

/**
 * @brief Weight normalisation per output feature (the original's `l2_normalize`): for every
 * output feature `j` (a column of the dense `(C, K)` weight), over all blocks of its block column,
 * `y[:, j] = w[:, j] / sqrt(max(Σ w[:, j]², epsilon))`, times `gain[j]` when a gain is given.
 *
 * @param[in]  plan             The plan.
 * @param[in]  w                Weights `(nnz, b, b)`, plan dtype.
 * @param[in]  gain             Optional (NULL = none): K fp32 gains.
 * @param[out] y                Normalised weights `(nnz, b, b)`, plan dtype (may equal @p w).
 * @param[in]  epsilon          Finite, >= 0: lower bound of the squared norm.
 * @param[in]  workspace        Scratch of bsmm_get_workspace_size(#BSMM_OP_L2_NORMALIZE) bytes.
 * @param[in]  workspace_bytes  Its size.
 * @param[in]  stream           CUDA stream (CUDA plans); ignored by CPU plans.
 * @return As bsmm_identity_init(); #BS_STATUS_WORKSPACE_TOO_SMALL. Thread-safe. Deterministic.
 */
BS_API bs_status_t bsmm_l2_normalize(const_bsmm_plan_t plan, const void* w, const float* gain, void* y,
                                     float epsilon, void* workspace, size_t workspace_bytes, bs_stream_t stream);

/**
 * @brief Gradient of bsmm_l2_normalize(). With `s_j = max(Σ w[:, j]², epsilon)`,
 * `n_j = sqrt(s_j)`, `g_j = gain[j]` (1 without gain) and `u = dy·g_j`:
 * `dw[:, j] = (u[:, j] - w[:, j]·[Σ w² >= epsilon]·Σ(u[:, j]·w[:, j]) / s_j) / n_j`, and
 * `dgain[j] = Σ dy[:, j]·w[:, j] / n_j` (0 for an output feature whose block column is empty).
 *
 * @param[in]  plan             The plan.
 * @param[in]  dy               Gradient of the normalised weights `(nnz, b, b)`, plan dtype.
 * @param[in]  w                The weights that were normalised, plan dtype.
 * @param[in]  gain             Optional (NULL = none): K fp32 gains.
 * @param[out] dw               Gradient of w `(nnz, b, b)`, plan dtype (may equal @p dy).
 * @param[out] dgain            K fp32 gain gradients; required when @p gain is given, must be NULL otherwise.
 * @param[in]  epsilon          As bsmm_l2_normalize().
 * @param[in]  workspace        Scratch of bsmm_get_workspace_size(#BSMM_OP_L2_NORMALIZE_GRAD) bytes.
 * @param[in]  workspace_bytes  Its size.
 * @param[in]  stream           CUDA stream (CUDA plans); ignored by CPU plans.
 * @return As bsmm_l2_normalize(). Thread-safe. Deterministic.
 */
BS_API bs_status_t bsmm_l2_normalize_grad(const_bsmm_plan_t plan, const void* dy, const void* w, const float* gain,
                                          void* dw, float* dgain, float epsilon, void* workspace,
                                          size_t workspace_bytes, bs_stream_t stream);

BS_END_DECLS

#endif /* BLOCKSPARSE_BSMM_H */
