/**
 * @file bs_optim.h
 * @brief Fused optimizers over a list of tensors (Adam/AdamW with gated and block-sparse variants,
 *        Adafactor, EMA) and the global gradient norm that feeds them (`clip_by_global_norm`).
 *
 * Source of the math: the original's `blocksparse/optimize.py` and `src/optimize_op_gpu.cu`
 * (openai/blocksparse); D. P. Kingma, J. Ba, "Adam" (ICLR 2015); I. Loshchilov, F. Hutter,
 * "Decoupled Weight Decay Regularization" (ICLR 2019, AdamW); N. Shazeer, M. Stern, "Adafactor"
 * (ICML 2018). The list interface follows PyTorch's `_foreach` / fused Adam (`multi_tensor_apply`).
 *
 * **The plan** is made once over the list of parameter tensors a training loop updates: their
 * sizes, dtypes and (optionally) block structure. bs_optim_create() precomputes the work list (the
 * tensors cut into chunks, grouped by dtype).
 *
 * **Status: only the CPU backend is implemented.** bs_optim_create() with #BS_BACKEND_CUDA returns
 * #BS_STATUS_NOT_SUPPORTED (CUDA builds). The launch model below is the design of the CUDA backend. Each execute call then
 * takes host arrays of `n_tensors` pointers (one per tensor, in plan order) and updates every tensor
 * in a few kernel launches (one per group of up to 48-96 tensors of one dtype; the pointers travel
 * in the kernel parameters, so nothing is copied or allocated per call and calls can be captured in
 * a CUDA graph).
 *
 * **Tensors.** Tensor `i` has `rows[i]·cols[i]` elements, row-major (use rows = 1 for 1-D
 * tensors; only Adafactor uses the split). Parameters and gradients have the tensor's dtype (fp32,
 * fp16 or bf16); optimizer states (Adam's m and v, Adafactor's factored second moments, EMA
 * averages) are fp32. Arithmetic is fp32; a 16-bit parameter is rounded once per step
 * (round-to-nearest-even). Tensor `i` may have a block structure of `block_elems[i]` elements per
 * block (b·b for a bsmm weight `(nnz, b, b)`), a multiple of 8 dividing the tensor's size; it then
 * takes optional per-block fp32 vectors (`numel/block_elems` entries):
 * - gates (the original's `gated=True`): a block whose gate is exactly 0 is skipped (its parameters
 *   and states are left untouched, as the original's `apply_adam_gated` / `apply_ema_gated`);
 * - Adam's learning-rate select (the original's `BlocksparseAdam`): blocks whose select is not 0
 *   use `lr_selected` instead of `lr` (e.g. newly grown blocks).
 *
 * **Gradient filter and global-norm clipping** (the original's fp16 loss scaling): every optimizer
 * and bs_optim_global_norm() first filter each gradient element: NaN -> 0 if `zero_nans`, ±inf -> 0
 * if `zero_infs`, clamp to ±`saturate` if `saturate` > 0, then multiply by `grad_scale` (e.g.
 * 1/loss_scale). bs_optim_global_norm() computes `norm = sqrt(Σ g²)` over every tensor in a fixed
 * order and `norm_scale = clip_norm / max(norm, clip_norm)`, or **0 when the norm is not finite**.
 * The optimizers take that `norm_scale` as a pointer to one fp32 in backend memory (read on the
 * device: no host synchronisation) and multiply the gradients by it; a value of exactly 0 skips the
 * whole step (parameters and states untouched) — the original's sentinel for an overflowed fp16
 * step, so that a loss-scaling loop can lower the scale and continue. Bias corrections use the
 * host `step` of the hyper-parameters: a caller that skips steps on the device keeps counting them
 * (as the original did).
 *
 * **Threads, streams, determinism.** Plans are immutable and may be used from several threads and
 * streams at once (on distinct tensors). Execute calls allocate nothing and never synchronize
 * (CUDA: enqueued on `stream`; CPU: finished on return). Every result is deterministic: element-wise
 * updates are exact functions of their inputs and every reduction (global norm, Adafactor's means)
 * sums in an order fixed by the plan, never with atomics.
 *
 * **Pointers.** CPU plans take host pointers, CUDA plans device (or managed) pointers of the plan's
 * device, each aligned to its element size (16-byte alignment lets CUDA kernels use vector loads;
 * other tensors take a slower path). The pointer arrays themselves are host arrays. Parameters and
 * states are updated in place; gradients are read only. Distinct tensors must not overlap.
 *
 * **Errors.** Every function validates all of its arguments (every pointer of every tensor) before
 * writing anything; on failure nothing is written and bs_get_last_error() gives the details.
 * Statuses every function may return in addition to those listed: #BS_STATUS_INTERNAL_ERROR.
 */
#ifndef BLOCKSPARSE_BS_OPTIM_H
#define BLOCKSPARSE_BS_OPTIM_H

#include <blocksparse/bs_platform.h>
#include <blocksparse/bs_types.h>

BS_BEGIN_DECLS

/** @brief Opaque optimizer plan: the tensor list, its work list and backend, made by bs_optim_create(). */
typedef struct bs_optim_plan_s* bs_optim_plan_t;
/** @brief Read-only view of an optimizer plan (every execute and query function takes this). */
typedef const struct bs_optim_plan_s* const_bs_optim_plan_t;

/**
 * @brief Creation parameters of an optimizer plan. Fill with bs_optim_params_init() (or
 * #BS_OPTIM_PARAMS_INIT) before setting fields; fields are only ever appended.
 */
typedef struct bs_optim_params {
  uint32_t struct_size; /**< sizeof(bs_optim_params_t) as compiled by the caller; set by bs_optim_params_init(). */
  int32_t backend;      /**< #bs_backend_t. Default #BS_BACKEND_CPU. */
  int32_t device;       /**< CUDA device ordinal (must be 0 for CPU plans). Default 0. */
  int32_t num_threads;  /**< CPU plans: threads per call, 0 = OpenMP default. Must be 0 for CUDA plans. Default 0. */
} bs_optim_params_t;

/**
 * @brief Fills @p params with the defaults documented on each field and sets struct_size.
 * @param[out] params       The struct to fill.
 * @param[in]  struct_size  `sizeof(bs_optim_params_t)` as the caller compiled it (use #BS_OPTIM_PARAMS_INIT).
 * @return #BS_STATUS_SUCCESS, #BS_STATUS_NULL_POINTER, #BS_STATUS_STRUCT_SIZE_MISMATCH. Thread-safe.
 */
BS_API bs_status_t bs_optim_params_init(bs_optim_params_t* params, size_t struct_size);

/** @brief bs_optim_params_init() with the caller's struct size. */
#define BS_OPTIM_PARAMS_INIT(params) bs_optim_params_init((params), sizeof(*(params)))

/**
 * @brief Creates a plan over @p n_tensors tensors. Host-synchronous; the only step that allocates.
 *
 * @param[out] plan         Receives the new plan; untouched on failure. Free with bs_optim_destroy().
 * @param[in]  params       Creation parameters.
 * @param[in]  n_tensors    Number of tensors, >= 1.
 * @param[in]  rows, cols   Host arrays of @p n_tensors sizes, each >= 1 (empty tensors are not
 *                          listed); tensor i has `rows[i]·cols[i]` elements.
 * @param[in]  dtypes       Host array of @p n_tensors #bs_dtype_t values: the dtype of parameter
 *                          and gradient i.
 * @param[in]  block_elems  Optional host array (NULL = no tensor has blocks) of @p n_tensors
 *                          block sizes in elements: 0 (no blocks) or a multiple of 8 dividing
 *                          `rows[i]·cols[i]`.
 * @return #BS_STATUS_SUCCESS; #BS_STATUS_NULL_POINTER; #BS_STATUS_STRUCT_SIZE_MISMATCH;
 *         #BS_STATUS_INVALID_VALUE (bad enum, backend, device, num_threads, n_tensors < 1, a size
 *         < 1, a bad block size); #BS_STATUS_OVERFLOW (a tensor's or the total byte size);
 *         #BS_STATUS_BACKEND_UNAVAILABLE; #BS_STATUS_ARCH_NOT_SUPPORTED; #BS_STATUS_OUT_OF_MEMORY;
 *         #BS_STATUS_EXECUTION_FAILED (upload); #BS_STATUS_NOT_SUPPORTED for #BS_BACKEND_CUDA in
 *         CUDA builds: **the CUDA backend is not implemented yet** (only CPU plans run). Thread-safe.
 */
BS_API bs_status_t bs_optim_create(bs_optim_plan_t* plan, const bs_optim_params_t* params, int32_t n_tensors,
                                   const int64_t* rows, const int64_t* cols, const int32_t* dtypes,
                                   const int64_t* block_elems);

/**
 * @brief Destroys a plan. NULL is a no-op. Must not race with other uses of the plan; CUDA work
 * enqueued with it must have completed.
 * @param[in] plan  The plan, or NULL.
 * @return #BS_STATUS_SUCCESS.
 */
BS_API bs_status_t bs_optim_destroy(bs_optim_plan_t plan);

/** @brief Integer properties of a plan, read with bs_optim_get_attr(). */
typedef enum bs_optim_attr {
  BS_OPTIM_ATTR_N_TENSORS = 0,   /**< Number of tensors. */
  BS_OPTIM_ATTR_NUMEL = 1,       /**< Total number of elements over all tensors. */
  BS_OPTIM_ATTR_BACKEND = 2,     /**< #bs_backend_t. */
  BS_OPTIM_ATTR_DEVICE = 3,      /**< CUDA device ordinal (0 for CPU plans). */
  BS_OPTIM_ATTR_NUM_THREADS = 4, /**< CPU threads per call actually used (0 for CUDA plans). */
  BS_OPTIM_ATTR_CHUNKS = 5,      /**< Chunks of the precomputed work list. */
  BS_OPTIM_ATTR_LAUNCHES = 6,    /**< Kernel launches of one bs_optim_adam() call (tensor groups). */
  BS_OPTIM_ATTR_FORCE_INT32 = 0x7fffffff /**< Not a value: keeps the enum 32 bits wide on every compiler. */
} bs_optim_attr_t;

/**
 * @brief Reads one integer property of a plan.
 * @param[in]  plan   The plan.
 * @param[in]  attr   The property (#bs_optim_attr_t).
 * @param[out] value  Receives its value.
 * @return #BS_STATUS_SUCCESS, #BS_STATUS_NULL_POINTER, #BS_STATUS_INVALID_VALUE (unknown attr). Thread-safe.
 */
BS_API bs_status_t bs_optim_get_attr(const_bs_optim_plan_t plan, bs_optim_attr_t attr, int64_t* value);

/** @brief The execute functions, for bs_optim_get_workspace_size(). */
typedef enum bs_optim_op {
  BS_OPTIM_OP_ADAM = 0,        /**< bs_optim_adam() */
  BS_OPTIM_OP_ADAFACTOR = 1,   /**< bs_optim_adafactor() */
  BS_OPTIM_OP_EMA = 2,         /**< bs_optim_ema() */
  BS_OPTIM_OP_GLOBAL_NORM = 3, /**< bs_optim_global_norm() */
  BS_OPTIM_OP_FORCE_INT32 = 0x7fffffff /**< Not a value: keeps the enum 32 bits wide on every compiler. */
} bs_optim_op_t;

/**
 * @brief Workspace bytes that @p op needs on this plan (0 for Adam and EMA; a call needing 0 bytes
 * accepts a NULL workspace). It holds fp32 partial sums of the reductions.
 * @param[in]  plan   The plan.
 * @param[in]  op     The execute function (#bs_optim_op_t).
 * @param[out] bytes  Receives the size.
 * @return #BS_STATUS_SUCCESS, #BS_STATUS_NULL_POINTER, #BS_STATUS_INVALID_VALUE (op). Thread-safe.
 */
BS_API bs_status_t bs_optim_get_workspace_size(const_bs_optim_plan_t plan, bs_optim_op_t op, size_t* bytes);

/** @brief The gradient filter and scale shared by every call (see the file overview). */
typedef struct bs_grad_filter {
  float grad_scale;  /**< Finite multiplier of every gradient (1/loss_scale). Default 1. */
  float saturate;    /**< Clamp to ±saturate when > 0 (65504 tames fp16 infinities); 0 = off. Finite, >= 0. Default 0. */
  int32_t zero_infs; /**< 1: ±inf gradient elements become 0. Default 0. */
  int32_t zero_nans; /**< 1: NaN gradient elements become 0. Default 0. */
} bs_grad_filter_t;

/** @brief How Adam treats weight decay. */
typedef enum bs_adam_mode {
  BS_ADAM_L2 = 0,    /**< Adam: `g += weight_decay·p` after the filter and scales (torch.optim.Adam). */
  BS_ADAM_ADAMW = 1, /**< AdamW: `p *= 1 - lr·weight_decay` before the update (torch.optim.AdamW). */
  BS_ADAM_MODE_FORCE_INT32 = 0x7fffffff /**< Not a value: keeps the enum 32 bits wide on every compiler. */
} bs_adam_mode_t;

/** @brief Where Adam adds epsilon. */
typedef enum bs_adam_eps_mode {
  /** `p -= lr/(1-β1ᵗ) · m / (sqrt(v)/sqrt(1-β2ᵗ) + eps)` (PyTorch). */
  BS_ADAM_EPS_TORCH = 0,
  /** `p -= lr·sqrt(1-β2ᵗ)/(1-β1ᵗ) · m / (sqrt(v) + eps)` (the original's host-side `lr_t`). */
  BS_ADAM_EPS_ORIGINAL = 1,
  BS_ADAM_EPS_FORCE_INT32 = 0x7fffffff /**< Not a value: keeps the enum 32 bits wide on every compiler. */
} bs_adam_eps_mode_t;

/**
 * @brief Hyper-parameters of one Adam step. Fill with bs_adam_hparams_init() (or
 * #BS_ADAM_HPARAMS_INIT); fields are only ever appended.
 *
 * Per element (after the filter of the file overview, `g *= norm_scale`):
 * `v = β2·v + (1-β2)·g²`; if `clip_sigma > 0`: `g = clamp(g, ±clip_sigma·sqrt(v))` (the
 * original's order); `m = β1·m + (1-β1)·g`; then the update of #bs_adam_eps_mode_t with the
 * block's learning rate (`lr`, or `lr_selected` where a block's select is not 0). Without bias
 * correction both `1-βᵗ` factors are 1.
 */
typedef struct bs_adam_hparams {
  uint32_t struct_size;  /**< sizeof(bs_adam_hparams_t); set by bs_adam_hparams_init(). */
  int32_t mode;          /**< #bs_adam_mode_t. Default #BS_ADAM_ADAMW. */
  float lr;              /**< Learning rate, finite. Default 1e-3. */
  float beta1;           /**< In [0, 1). Default 0.9. */
  float beta2;           /**< In [0, 1). Default 0.999. */
  float epsilon;         /**< Finite, > 0. Default 1e-8. */
  float weight_decay;    /**< Finite, >= 0. Default 0. */
  int64_t step;          /**< Step number t >= 1 of the bias corrections (1 on the first step). Default 1. */
  int32_t bias_correction; /**< 1: divide by `1-βᵗ` as the mode says; 0: no correction. Default 1. */
  int32_t eps_mode;      /**< #bs_adam_eps_mode_t. Default #BS_ADAM_EPS_TORCH. */
  float clip_sigma;      /**< Clip g to ±clip_sigma·sqrt(v) when > 0; 0 = off. Finite, >= 0. Default 0. */
  float lr_selected;     /**< Learning rate of blocks whose select is not 0. Finite. Default 1e-3. */
  bs_grad_filter_t filter; /**< The gradient filter. Default: scale 1, no filter. */
} bs_adam_hparams_t;

/**
 * @brief Fills @p hp with the defaults documented on each field and sets struct_size.
 * @param[out] hp           The struct to fill.
 * @param[in]  struct_size  `sizeof(bs_adam_hparams_t)` as the caller compiled it.
 * @return #BS_STATUS_SUCCESS, #BS_STATUS_NULL_POINTER, #BS_STATUS_STRUCT_SIZE_MISMATCH. Thread-safe.
 */
BS_API bs_status_t bs_adam_hparams_init(bs_adam_hparams_t* hp, size_t struct_size);

/** @brief bs_adam_hparams_init() with the caller's struct size. */
#define BS_ADAM_HPARAMS_INIT(hp) bs_adam_hparams_init((hp), sizeof(*(hp)))

/**
 * @brief One Adam / AdamW step over every tensor of the plan, in place.
 *
 * @param[in]     plan             The plan.
 * @param[in]     hp               Hyper-parameters (see #bs_adam_hparams_t).
 * @param[in,out] params           Host array of n_tensors parameter pointers (tensor dtype).
 * @param[in]     grads            Host array of n_tensors gradient pointers (tensor dtype).
 * @param[in,out] exp_avg          Host array of n_tensors fp32 first-moment pointers (m).
 * @param[in,out] exp_avg_sq       Host array of n_tensors fp32 second-moment pointers (v).
 * @param[in]     gates            Optional host array (NULL = none) of n_tensors per-block gate
 *                                 pointers; an entry may be NULL, and must be NULL for tensors without blocks.
 * @param[in]     lr_select        Optional host array (NULL = none) of n_tensors per-block select
 *                                 pointers, with the same rules.
 * @param[in]     norm_scale       Optional (NULL = 1): one fp32 in backend memory, as written by
 *                                 bs_optim_global_norm(); 0 skips the step.
 * @param[in]     workspace        Scratch of bs_optim_get_workspace_size(#BS_OPTIM_OP_ADAM) bytes (0: may be NULL).
 * @param[in]     workspace_bytes  Its size.
 * @param[in]     stream           CUDA stream; ignored by CPU plans.
 * @return #BS_STATUS_SUCCESS; #BS_STATUS_NULL_POINTER; #BS_STATUS_STRUCT_SIZE_MISMATCH;
 *         #BS_STATUS_INVALID_VALUE (a hyper-parameter out of range, a block vector given for a
 *         tensor without blocks); #BS_STATUS_WORKSPACE_TOO_SMALL; #BS_STATUS_MISALIGNED_POINTER;
 *         #BS_STATUS_WRONG_BACKEND; #BS_STATUS_WRONG_DEVICE; #BS_STATUS_EXECUTION_FAILED.
 * Thread-safe for concurrent calls on distinct tensors. Deterministic.
 */
BS_API bs_status_t bs_optim_adam(const_bs_optim_plan_t plan, const bs_adam_hparams_t* hp, void* const* params,
                                 const void* const* grads, float* const* exp_avg, float* const* exp_avg_sq,
                                 const float* const* gates, const float* const* lr_select, const float* norm_scale,
                                 void* workspace, size_t workspace_bytes, bs_stream_t stream);

/**
 * @brief Hyper-parameters of one Adafactor step (the original's `AdafactorOptimizer`). Fill with
 * bs_adafactor_hparams_init(); fields are only ever appended.
 *
 * With `g` filtered and scaled (times norm_scale), for a tensor with rows >= 2 (factored):
 * `R[r] = decay·R[r] + (1-decay)·mean_c(g² + epsilon)`, `C[c] = decay·C[c] + (1-decay)·mean_r(g² + epsilon)`,
 * `x = g / sqrt(R[r]/mean(R) · C[c])`; for rows = 1: `V = decay·V + (1-decay)·(g² + epsilon)`,
 * `x = g/sqrt(V)`. Then `p -= lr·x / max(1, sqrt(mean(x²))/clip_thresh)`.
 * The original schedules `decay = β2·(1-β2^(t-1))/(1-β2^t)` on the host; pass the value of the step.
 */
typedef struct bs_adafactor_hparams {
  uint32_t struct_size;   /**< sizeof(bs_adafactor_hparams_t); set by bs_adafactor_hparams_init(). */
  float lr;               /**< Learning rate, finite. Default 5e-4. */
  float decay;            /**< Second-moment decay of this step, in [0, 1). Default 0.999. */
  float epsilon;          /**< Finite, > 0. Default 1e-30. */
  float clip_thresh;      /**< Update RMS threshold, finite, > 0. Default 1. */
  bs_grad_filter_t filter; /**< The gradient filter. Default: scale 1, no filter. */
} bs_adafactor_hparams_t;

/**
 * @brief Fills @p hp with the defaults documented on each field and sets struct_size.
 * @param[out] hp           The struct to fill.
 * @param[in]  struct_size  `sizeof(bs_adafactor_hparams_t)` as the caller compiled it.
 * @return #BS_STATUS_SUCCESS, #BS_STATUS_NULL_POINTER, #BS_STATUS_STRUCT_SIZE_MISMATCH. Thread-safe.
 */
BS_API bs_status_t bs_adafactor_hparams_init(bs_adafactor_hparams_t* hp, size_t struct_size);

/** @brief bs_adafactor_hparams_init() with the caller's struct size. */
#define BS_ADAFACTOR_HPARAMS_INIT(hp) bs_adafactor_hparams_init((hp), sizeof(*(hp)))

/**
 * @brief One Adafactor step over every tensor of the plan, in place.
 *
 * @param[in]     plan             The plan.
 * @param[in]     hp               Hyper-parameters (see #bs_adafactor_hparams_t).
 * @param[in,out] params           Host array of n_tensors parameter pointers.
 * @param[in]     grads            Host array of n_tensors gradient pointers.
 * @param[in,out] row_var          Host array of n_tensors fp32 pointers: R (`rows` floats) of
 *                                 tensors with rows >= 2; must be NULL for tensors with rows = 1.
 * @param[in,out] col_var          Host array of n_tensors fp32 pointers: C (`cols` floats) of
 *                                 tensors with rows >= 2, V (`cols` floats) of tensors with rows = 1.
 * @param[in]     norm_scale       Optional (NULL = 1) fp32 in backend memory; 0 skips the step.
 * @param[in]     workspace        Scratch of bs_optim_get_workspace_size(#BS_OPTIM_OP_ADAFACTOR) bytes.
 * @param[in]     workspace_bytes  Its size.
 * @param[in]     stream           CUDA stream; ignored by CPU plans.
 * @return As bs_optim_adam(). Thread-safe for concurrent calls on distinct tensors and workspaces.
 *         Deterministic (fixed-order means).
 */
BS_API bs_status_t bs_optim_adafactor(const_bs_optim_plan_t plan, const bs_adafactor_hparams_t* hp,
                                      void* const* params, const void* const* grads, float* const* row_var,
                                      float* const* col_var, const float* norm_scale, void* workspace,
                                      size_t workspace_bytes, bs_stream_t stream);

/**
 * @brief Exponential moving average of the parameters (the original's `Ema`):
 * `ema = ema - (1-decay)·(ema - p)` per element; with gates, blocks whose gate is 0 are skipped.
 *
 * @param[in]     plan    The plan.
 * @param[in]     decay   In [0, 1].
 * @param[in,out] ema     Host array of n_tensors fp32 average pointers.
 * @param[in]     params  Host array of n_tensors parameter pointers (tensor dtype).
 * @param[in]     gates   Optional host array of per-block gate pointers (as bs_optim_adam()).
 * @param[in]     stream  CUDA stream; ignored by CPU plans.
 * @return As bs_optim_adam(). Thread-safe as bs_optim_adam(). Deterministic.
 */
BS_API bs_status_t bs_optim_ema(const_bs_optim_plan_t plan, float decay, float* const* ema, const void* const* params,
                                const float* const* gates, bs_stream_t stream);

/**
 * @brief Global L2 norm of the filtered, scaled gradients and the clip scale the optimizers read
 * (the original's `clip_by_global_norm`, which does not rescale the gradients itself):
 * `norm = sqrt(Σ_i Σ (filter(g_i)·grad_scale)²)`,
 * `norm_scale = clip_norm / max(norm, clip_norm)` (1 when clip_norm is +inf), 0 when norm is not finite.
 *
 * @param[in]  plan             The plan.
 * @param[in]  grads            Host array of n_tensors gradient pointers.
 * @param[in]  filter           The gradient filter (NULL = scale 1, no filter).
 * @param[in]  clip_norm        > 0; +inf for the norm alone.
 * @param[out] norm             Optional (NULL = not written): one fp32 in backend memory.
 * @param[out] norm_scale       Optional: one fp32 in backend memory (at least one of the two outputs).
 * @param[in]  workspace        Scratch of bs_optim_get_workspace_size(#BS_OPTIM_OP_GLOBAL_NORM) bytes.
 * @param[in]  workspace_bytes  Its size.
 * @param[in]  stream           CUDA stream; ignored by CPU plans.
 * @return As bs_optim_adam(); #BS_STATUS_INVALID_VALUE for clip_norm <= 0 or NaN.
 * Thread-safe for concurrent calls with distinct outputs and workspaces. Deterministic: one fixed
 * summation order per plan (per chunk in fp32, the chunks' partial sums combined in float64 on the
 * CPU, in fp32 pairwise order on CUDA).
 */
BS_API bs_status_t bs_optim_global_norm(const_bs_optim_plan_t plan, const void* const* grads,
                                        const bs_grad_filter_t* filter, float clip_norm, float* norm,
                                        float* norm_scale, void* workspace, size_t workspace_bytes,
                                        bs_stream_t stream);

BS_END_DECLS

#endif /* BLOCKSPARSE_BS_OPTIM_H */
