/**
 * @file bsconv.h
 * @brief Block-sparse convolution (bsconv) and transposed convolution ("deconvolution"), with the
 *        edge bias and the per-output-channel weight normalisation that go with it.
 *
 * Source of the math: the `BlocksparseConv`, `BlocksparseDeconv`, `ConvEdgeBias` and `l2_normalize`
 * ops of openai/blocksparse (`blocksparse/conv.py`); S. Gray, A. Radford, D. Kingma, "GPU Kernels for
 * Block-Sparse Weights" (OpenAI, 2017). Sparsity is in the channels only: spatially every block is a
 * dense convolution.
 *
 * **Blocks.** A plan is made of `n_blocks` blocks. Block `b` connects a set of input channels
 * `C_b` (distinct indices in `[0, C)`) to a set of output channels `K_b` (distinct, in `[0, K)`),
 * given in the caller's order; sets may be non-contiguous, may overlap across blocks and may differ
 * in size. A block is a dense convolution from its `|C_b|` channels to its `|K_b|` channels; where
 * blocks overlap in output channels their contributions are summed. Output channels that no block
 * reaches receive `beta·y` (0 with beta = 0).
 *
 * **Filter.** The concatenation, in block order, of every block's dense filter, row-major
 * `(|K_b|, |C_b|, T, R, S)` for convolutions and `(|C_b|, |K_b|, T, R, S)` for deconvolutions
 * (bsconv_get_block() gives each block's offset). This is the original's KCTRS / CKTRS order and
 * the weight order of `torch.nn.functional.conv3d` / `conv_transpose3d`: a block's filter equals the
 * dense filter restricted to its channels, and each conv output channel's weights are contiguous.
 *
 * **Geometry.** Always 3-D: filter `(T, R, S)`, input `(D, H, W)`, output `(M, P, Q)`; 1-D and 2-D
 * convolutions set the leading sizes to 1. For a convolution, along each dimension
 * `M = floor((D + 2·pad − dil·(T−1) − 1) / stride) + 1` and output position `m`, tap `t` reads input
 * `d = m·stride − pad + t·dil` (zero outside `[0, D)`). Padding: SAME is the original's
 * `pad = (dil·(T−1)+1) / 2` (integer division), VALID is 0, EXPLICIT takes `pad[]`.
 * A deconvolution (`deconv = 1`) is the transpose of the convolution with the same parameters:
 * its input has the convolution's output size and channels `C`, its output the convolution's input
 * size and channels `K`; its fprop is the convolution's bprop and vice versa (the original's
 * `BlocksparseDeconv`). Its output size is `(in−1)·stride + dil·(T−1) + 1 − 2·pad` unless given.
 *
 * **Activations.** Channels first `(N, C, D, H, W)` (the original) or channels last
 * `(N, D, H, W, C)`; dense and contiguous.
 *
 * **Ops.** fprop `y = alpha·conv(x, F) + beta·y`; bprop `dx = alpha·convᵀ(dy, F) + beta·dx`; updat
 * `dF = alpha·Σ_n dy ⊗ x + beta·dF` (each block's filter only). As in BLAS, `beta = 0` overwrites
 * the output without reading it.
 *
 * **Numerics.** fp32, fp16 and bf16 storage, fp32 accumulation, one rounding to the storage type.
 *
 * **Backends.** This version implements the CPU backend only: CUDA plans are refused by
 * bsconv_create() with #BS_STATUS_NOT_SUPPORTED.
 *
 * **Threads, determinism.** Plans are immutable: one plan may be executed concurrently from several
 * threads. Execute functions allocate nothing. Every op is deterministic: each output element is
 * summed by one thread in a fixed order (blocks in order, then channels, then taps).
 *
 * **Errors.** Every function validates all of its arguments before touching any output; on failure
 * the outputs are untouched and bs_get_last_error() gives the details. Every function may also
 * return #BS_STATUS_INTERNAL_ERROR.
 */
#ifndef BLOCKSPARSE_BSCONV_H
#define BLOCKSPARSE_BSCONV_H

#include <blocksparse/bs_platform.h>
#include <blocksparse/bs_types.h>

BS_BEGIN_DECLS

/** @brief Opaque bsconv plan, made once by bsconv_create(). */
typedef struct bsconv_plan_s* bsconv_plan_t;
/** @brief Read-only view of a bsconv plan. */
typedef const struct bsconv_plan_s* const_bsconv_plan_t;

/** @brief Activation layout. */
typedef enum bsconv_layout {
  BSCONV_LAYOUT_CHANNELS_FIRST = 0, /**< `(N, C, D, H, W)`. */
  BSCONV_LAYOUT_CHANNELS_LAST = 1,  /**< `(N, D, H, W, C)`. */
  BSCONV_LAYOUT_FORCE_INT32 = 0x7fffffff /**< Not a value: keeps the enum 32 bits wide. */
} bsconv_layout_t;

/** @brief Padding rule. */
typedef enum bsconv_padding {
  BSCONV_PADDING_SAME = 0,     /**< `pad = (dil·(T−1)+1) / 2` per dimension (the original's SAME). */
  BSCONV_PADDING_VALID = 1,    /**< No padding. */
  BSCONV_PADDING_EXPLICIT = 2, /**< `pad[]` of #bsconv_params_t, the same on both sides. */
  BSCONV_PADDING_FORCE_INT32 = 0x7fffffff /**< Not a value: keeps the enum 32 bits wide. */
} bsconv_padding_t;

/**
 * @brief Creation parameters. Fill with bsconv_params_init() (or #BSCONV_PARAMS_INIT) before
 * setting fields. Array fields are ordered depth, height, width.
 */
typedef struct bsconv_params {
  uint32_t struct_size; /**< sizeof(bsconv_params_t) as compiled by the caller. */
  int32_t backend;      /**< #bs_backend_t. Default #BS_BACKEND_CPU (the only one implemented). */
  int32_t device;       /**< CUDA device ordinal; must be 0 for CPU plans. Default 0. */
  int32_t dtype;        /**< #bs_dtype_t of activations and filters. Default #BS_DTYPE_F32. */
  int32_t layout;       /**< #bsconv_layout_t. Default channels first. */
  int32_t deconv;       /**< 0: convolution; 1: transposed convolution. Default 0. */
  int32_t padding;      /**< #bsconv_padding_t. Default SAME. */
  int32_t num_threads;  /**< CPU threads per call, 0 = one per hardware thread. Default 0. */
  int64_t C;            /**< Input channels (of the plan's input), >= 1. Default 0: largest index in the blocks + 1. */
  int64_t K;            /**< Output channels, >= 1. Default 0: largest index in the blocks + 1. */
  int32_t filter[3];    /**< T, R, S, each >= 1. Default {1, 1, 1}. */
  int32_t stride[3];    /**< Each >= 1. Default {1, 1, 1}. */
  int32_t dilation[3];  /**< Each >= 1. Default {1, 1, 1}. */
  int32_t pad[3];       /**< Explicit padding, each >= 0 (EXPLICIT only). Default {0, 0, 0}. */
  int64_t input[3];     /**< Input spatial size of the plan (D, H, W; for deconv the conv's output), each >= 1. Default {1, 1, 1}. */
  int64_t output[3];    /**< Output spatial size, or all 0 (default) to compute it; when given it must agree with the input. */
} bsconv_params_t;

/**
 * @brief Fills @p params with the defaults documented on each field.
 * @param[out] params       The struct to fill.
 * @param[in]  struct_size  sizeof(bsconv_params_t) of the caller's header.
 * @return #BS_STATUS_SUCCESS, #BS_STATUS_NULL_POINTER, #BS_STATUS_STRUCT_SIZE_MISMATCH. Thread-safe.
 */
BS_API bs_status_t bsconv_params_init(bsconv_params_t* params, size_t struct_size);

/** @brief bsconv_params_init() with the caller's struct size. */
#define BSCONV_PARAMS_INIT(params) bsconv_params_init((params), sizeof(*(params)))

/**
 * @brief Creates a plan from a list of blocks, in CSR form: block `b` has input channels
 * `c_idx[c_ptr[b] .. c_ptr[b+1]-1]` and output channels `k_idx[k_ptr[b] .. k_ptr[b+1]-1]`.
 * For a deconvolution, `c_idx` are channels of the deconvolution's input and `k_idx` of its output.
 *
 * @param[out] plan      Receives the new plan; untouched on failure. Free with bsconv_destroy().
 * @param[in]  params    Creation parameters.
 * @param[in]  n_blocks  Number of blocks, >= 1.
 * @param[in]  c_ptr     Host array of n_blocks+1 offsets: 0, strictly increasing (no empty block).
 * @param[in]  c_idx     Host array of `c_ptr[n_blocks]` channel indices, distinct within a block, in `[0, C)`.
 * @param[in]  k_ptr     As c_ptr, for output channels.
 * @param[in]  k_idx     As c_idx, in `[0, K)`.
 * @return #BS_STATUS_SUCCESS; #BS_STATUS_NULL_POINTER; #BS_STATUS_STRUCT_SIZE_MISMATCH;
 *         #BS_STATUS_INVALID_VALUE (bad enum, sizes < 1, negative padding, n_blocks < 1, device,
 *         num_threads < 0, an output size that is impossible or does not agree with the input);
 *         #BS_STATUS_INVALID_LAYOUT (empty block, channel out of range or repeated inside a block);
 *         #BS_STATUS_OVERFLOW; #BS_STATUS_NOT_SUPPORTED (CUDA plans: not implemented);
 *         #BS_STATUS_BACKEND_UNAVAILABLE. Thread-safe.
 */
BS_API bs_status_t bsconv_create(bsconv_plan_t* plan, const bsconv_params_t* params, int64_t n_blocks,
                                 const int64_t* c_ptr, const int64_t* c_idx, const int64_t* k_ptr,
                                 const int64_t* k_idx);

/**
 * @brief Creates a plan from a uniform channel-block layout (as bsmm): a `CB × KB` 0/1 matrix,
 * `layout[c*KB + k] = 1` connecting channels `c·bs .. c·bs+bs−1` to `k·bs .. k·bs+bs−1`. Blocks are
 * in row-major order of `(c, k)`. `params->C` and `params->K` must be 0 or `CB·bs`, `KB·bs`.
 * @param[out] plan        Receives the new plan; untouched on failure.
 * @param[in]  params      Creation parameters.
 * @param[in]  layout      Host array of CB·KB bytes, 0 or 1, row-major (c, k).
 * @param[in]  CB          Input channel blocks, >= 1.
 * @param[in]  KB          Output channel blocks, >= 1.
 * @param[in]  block_size  Channels per block, >= 1.
 * @return As bsconv_create(); #BS_STATUS_INVALID_LAYOUT (a value other than 0/1, or no block);
 *         #BS_STATUS_INVALID_VALUE (CB, KB or block_size < 1, C or K disagreeing).
 */
BS_API bs_status_t bsconv_create_uniform(bsconv_plan_t* plan, const bsconv_params_t* params, const uint8_t* layout,
                                         int64_t CB, int64_t KB, int64_t block_size);

/** @brief Destroys a plan. NULL is a no-op. Must not race with other uses of the plan.
 * @param[in] plan  The plan, or NULL.
 *  @return #BS_STATUS_SUCCESS. */
BS_API bs_status_t bsconv_destroy(bsconv_plan_t plan);

/** @brief Integer properties of a plan (bsconv_get_attr()). */
typedef enum bsconv_attr {
  BSCONV_ATTR_C = 0,             /**< Input channels. */
  BSCONV_ATTR_K = 1,             /**< Output channels. */
  BSCONV_ATTR_BLOCKS = 2,        /**< Number of blocks. */
  BSCONV_ATTR_FILTER_SIZE = 3,   /**< Elements of the filter, Σ |K_b|·|C_b|·T·R·S. */
  BSCONV_ATTR_DTYPE = 4,         /**< #bs_dtype_t. */
  BSCONV_ATTR_BACKEND = 5,       /**< #bs_backend_t. */
  BSCONV_ATTR_LAYOUT = 6,        /**< #bsconv_layout_t. */
  BSCONV_ATTR_DECONV = 7,        /**< 0 or 1. */
  BSCONV_ATTR_EDGE_ENTRIES = 8,  /**< Edge-bias patterns E (see bsconv_edge_bias_fprop()). */
  BSCONV_ATTR_NUM_THREADS = 9,   /**< CPU threads per call. */
  BSCONV_ATTR_PAD_D = 10,        /**< Resolved padding, depth. */
  BSCONV_ATTR_PAD_H = 11,        /**< Resolved padding, height. */
  BSCONV_ATTR_PAD_W = 12,        /**< Resolved padding, width. */
  BSCONV_ATTR_FORCE_INT32 = 0x7fffffff /**< Not a value. */
} bsconv_attr_t;

/** @brief Reads one property.
 * @param[in]  plan   The plan.
 * @param[in]  attr   The property.
 * @param[out] value  Receives it.
 * @return #BS_STATUS_SUCCESS, #BS_STATUS_NULL_POINTER,
 *  #BS_STATUS_INVALID_VALUE (unknown attr). Thread-safe. */
BS_API bs_status_t bsconv_get_attr(const_bsconv_plan_t plan, bsconv_attr_t attr, int64_t* value);

/**
 * @brief Shape of the input `x` (and `dx`) for minibatch @p N: `{N, C, D, H, W}` (channels first)
 * or `{N, D, H, W, C}`.
 * @param[in]  plan   The plan.
 * @param[in]  N      Minibatch, >= 0.
 * @param[out] shape  Receives the 5 sizes.
 * @return #BS_STATUS_SUCCESS, #BS_STATUS_NULL_POINTER, #BS_STATUS_INVALID_VALUE (N < 0),
 *         #BS_STATUS_OVERFLOW. Thread-safe.
 */
BS_API bs_status_t bsconv_get_input_shape(const_bsconv_plan_t plan, int64_t N, int64_t shape[5]);

/** @brief Shape of the output `y` (and `dy`): `{N, K, M, P, Q}` or `{N, M, P, Q, K}`.
 * @param[in]  plan   The plan.
 * @param[in]  N      Minibatch, >= 0.
 * @param[out] shape  Receives the 5 sizes.
 *  @return As bsconv_get_input_shape(). */
BS_API bs_status_t bsconv_get_output_shape(const_bsconv_plan_t plan, int64_t N, int64_t shape[5]);

/**
 * @brief Block @p block's place in the filter: its element offset and its shape
 * `{|K_b|, |C_b|, T, R, S}` (conv) or `{|C_b|, |K_b|, T, R, S}` (deconv).
 * @param[in]  plan    The plan.
 * @param[in]  block   Block index, in [0, BSCONV_ATTR_BLOCKS).
 * @param[out] offset  Receives the element offset of its filter.
 * @param[out] shape   Receives its 5 sizes.
 * @return #BS_STATUS_SUCCESS, #BS_STATUS_NULL_POINTER, #BS_STATUS_INVALID_VALUE (block out of range).
 */
BS_API bs_status_t bsconv_get_block(const_bsconv_plan_t plan, int64_t block, int64_t* offset, int64_t shape[5]);

/** @brief The execute functions, for bsconv_get_workspace_size(). */
typedef enum bsconv_op {
  BSCONV_OP_FPROP = 0,
  BSCONV_OP_BPROP = 1,
  BSCONV_OP_UPDAT = 2,
  BSCONV_OP_EDGE_BIAS_FPROP = 3,
  BSCONV_OP_EDGE_BIAS_BPROP = 4,
  BSCONV_OP_L2_NORMALIZE = 5,
  BSCONV_OP_L2_NORMALIZE_GRAD = 6,
  BSCONV_OP_FORCE_INT32 = 0x7fffffff /**< Not a value. */
} bsconv_op_t;

/** @brief Workspace bytes of @p op for minibatch up to @p N (0 on the CPU backend today; a call
 *  with 0 accepts a NULL workspace).
 * @param[in]  plan   The plan.
 * @param[in]  op     The execute function.
 * @param[in]  N      Minibatch, >= 0.
 * @param[out] bytes  Receives the size.
 * @return #BS_STATUS_SUCCESS, #BS_STATUS_NULL_POINTER,
 *  #BS_STATUS_INVALID_VALUE (op, N < 0). Thread-safe. */
BS_API bs_status_t bsconv_get_workspace_size(const_bsconv_plan_t plan, bsconv_op_t op, int64_t N, size_t* bytes);

/**
 * @brief Forward: `y = alpha·conv(x, F) + beta·y` (deconv: the transposed convolution).
 * @param[in]     plan   The plan.
 * @param[in]     N      Minibatch, >= 0 (0 returns at once).
 * @param[in]     x      Input, bsconv_get_input_shape(), plan dtype.
 * @param[in]     f      Filter, BSCONV_ATTR_FILTER_SIZE elements, plan dtype.
 * @param[in,out] y      Output, bsconv_get_output_shape(), plan dtype; must not overlap x or f.
 * @param[in]     alpha  Finite fp32 scale.
 * @param[in]     beta   Finite fp32 scale.
 * @param[in]     workspace        Scratch (see bsconv_get_workspace_size()).
 * @param[in]     workspace_bytes  Its size.
 * @param[in]     stream Ignored by CPU plans.
 * @return #BS_STATUS_SUCCESS; #BS_STATUS_NULL_POINTER; #BS_STATUS_INVALID_VALUE (N < 0, non-finite
 *         scales); #BS_STATUS_OVERFLOW; #BS_STATUS_WORKSPACE_TOO_SMALL; #BS_STATUS_MISALIGNED_POINTER.
 * Thread-safe with distinct outputs. Deterministic.
 */
BS_API bs_status_t bsconv_fprop(const_bsconv_plan_t plan, int64_t N, const void* x, const void* f, void* y,
                                float alpha, float beta, void* workspace, size_t workspace_bytes,
                                bs_stream_t stream);

/** @brief Backward for the input: `dx = alpha·convᵀ(dy, F) + beta·dx`; dy has the output shape,
 *  dx the input shape.
 * @param[in]     plan   The plan.
 * @param[in]     N      Minibatch, >= 0.
 * @param[in]     dy     Output gradient, output shape, plan dtype.
 * @param[in]     f      Filter, plan dtype.
 * @param[in,out] dx     Input gradient, input shape, plan dtype.
 * @param[in]     alpha  Finite fp32 scale.
 * @param[in]     beta   Finite fp32 scale.
 * @param[in]     workspace        Scratch of bsconv_get_workspace_size() bytes (NULL when 0).
 * @param[in]     workspace_bytes  Its size.
 * @param[in]     stream           CUDA stream; ignored by CPU plans.
 * @return As bsconv_fprop(). */
BS_API bs_status_t bsconv_bprop(const_bsconv_plan_t plan, int64_t N, const void* dy, const void* f, void* dx,
                                float alpha, float beta, void* workspace, size_t workspace_bytes,
                                bs_stream_t stream);

/** @brief Filter gradient: `dF = alpha·Σ_{n, positions} dy ⊗ x + beta·dF` (N = 0 gives `beta·dF`).
 * @param[in]     plan   The plan.
 * @param[in]     N      Minibatch, >= 0.
 * @param[in]     x      Input, input shape, plan dtype.
 * @param[in]     dy     Output gradient, output shape, plan dtype.
 * @param[in,out] df     Filter gradient, BSCONV_ATTR_FILTER_SIZE elements, plan dtype.
 * @param[in]     alpha  Finite fp32 scale.
 * @param[in]     beta   Finite fp32 scale.
 * @param[in]     workspace        Scratch of bsconv_get_workspace_size() bytes (NULL when 0).
 * @param[in]     workspace_bytes  Its size.
 * @param[in]     stream           CUDA stream; ignored by CPU plans.
 *  @return As bsconv_fprop(). */
BS_API bs_status_t bsconv_updat(const_bsconv_plan_t plan, int64_t N, const void* x, const void* dy, void* df,
                                float alpha, float beta, void* workspace, size_t workspace_bytes,
                                bs_stream_t stream);

/**
 * @brief Edge bias (the original's `ConvEdgeBias`) on the plan's output: every output position is
 * classed by which filter taps fall into padding (conv: taps whose input position is outside the
 * input; deconv: taps whose source position `(x + pad − t·dil)/stride` is an integer outside the
 * input). Each pattern other than "none" is an entry `e` in `[0, E)` (E = #BSCONV_ATTR_EDGE_ENTRIES),
 * numbered by first occurrence in raster order of output positions. At such positions
 * `y = x·g[e, k] + b[e, k]`; elsewhere `y = x`. g and b are fp32, `(E, K)` for channels last and
 * `(K, E)` for channels first (the original's layouts). y may equal x.
 * @param[in]  plan  The plan.
 * @param[in]  N     Minibatch, >= 0.
 * @param[in]  x     Output-shaped input, plan dtype.
 * @param[in]  g     Gains, E·K fp32.
 * @param[in]  b     Biases, E·K fp32.
 * @param[out] y     Result, output shape, plan dtype (may equal x).
 * @param[in]     workspace        Scratch of bsconv_get_workspace_size() bytes (NULL when 0).
 * @param[in]     workspace_bytes  Its size.
 * @param[in]     stream           CUDA stream; ignored by CPU plans.
 * @return #BS_STATUS_SUCCESS; #BS_STATUS_NULL_POINTER; #BS_STATUS_INVALID_VALUE (N < 0);
 *         #BS_STATUS_OVERFLOW; #BS_STATUS_WORKSPACE_TOO_SMALL; #BS_STATUS_MISALIGNED_POINTER.
 *         Thread-safe. Deterministic.
 */
BS_API bs_status_t bsconv_edge_bias_fprop(const_bsconv_plan_t plan, int64_t N, const void* x, const float* g,
                                          const float* b, void* y, void* workspace, size_t workspace_bytes,
                                          bs_stream_t stream);

/**
 * @brief Gradients of bsconv_edge_bias_fprop(): `dx = dy·g[e, k]` (dy elsewhere),
 * `dg[e, k] = Σ dy·x`, `db[e, k] = Σ dy` over the minibatch and the positions of entry e (fp32,
 * layout of g). dx may equal dy.
 * @param[in]  plan  The plan.
 * @param[in]  N     Minibatch, >= 0.
 * @param[in]  dy    Gradient of y, output shape, plan dtype.
 * @param[in]  x     The forward's x.
 * @param[in]  g     Gains, E·K fp32.
 * @param[out] dx    Gradient of x (may equal dy).
 * @param[out] dg    Gradient of g, E·K fp32.
 * @param[out] db    Gradient of b, E·K fp32.
 * @param[in]     workspace        Scratch of bsconv_get_workspace_size() bytes (NULL when 0).
 * @param[in]     workspace_bytes  Its size.
 * @param[in]     stream           CUDA stream; ignored by CPU plans.
 * @return As bsconv_edge_bias_fprop().
 */
BS_API bs_status_t bsconv_edge_bias_bprop(const_bsconv_plan_t plan, int64_t N, const void* dy, const void* x,
                                          const float* g, void* dx, float* dg, float* db, void* workspace,
                                          size_t workspace_bytes, bs_stream_t stream);

/**
 * @brief Weight normalisation (the original's `l2_normalize`): for each block and each of its
 * output channels k (plan output channels, also for deconv), over the block's filter weights of k
 * (`|C_b|·T·R·S` of them): `y = f / sqrt(max(Σ f², epsilon))`, times `gain[k]` when given.
 * @param[in]  f     Filter, plan dtype.  @param[in] gain Optional K fp32 gains.
 * @param[out] y     Normalised filter (may equal f).  @param[in] epsilon Finite, >= 0.
 * @param[in]  plan  The plan.
 * @param[in]     workspace        Scratch of bsconv_get_workspace_size() bytes (NULL when 0).
 * @param[in]     workspace_bytes  Its size.
 * @param[in]     stream           CUDA stream; ignored by CPU plans.
 * @return #BS_STATUS_SUCCESS; #BS_STATUS_NULL_POINTER; #BS_STATUS_INVALID_VALUE (epsilon);
 *         #BS_STATUS_WORKSPACE_TOO_SMALL; #BS_STATUS_MISALIGNED_POINTER. Thread-safe. Deterministic.
 */
BS_API bs_status_t bsconv_l2_normalize(const_bsconv_plan_t plan, const void* f, const float* gain, void* y,
                                       float epsilon, void* workspace, size_t workspace_bytes, bs_stream_t stream);

/**
 * @brief Gradient of bsconv_l2_normalize(), per normalised row as bsmm_l2_normalize_grad():
 * with `s = max(Σ f², eps)`, `n = sqrt(s)`, `u = dy·gain[k]`:
 * `df = (u − f·[Σ f² >= eps]·Σ(u·f)/s)/n`; `dgain[k] = Σ over the rows of k of Σ dy·f/n`.
 * dgain is required with a gain and must be NULL without. df may equal dy.
 * @param[in]  plan     The plan.
 * @param[in]  dy       Gradient of y, plan dtype.
 * @param[in]  f        The forward's filter.
 * @param[in]  gain     Optional K fp32 gains.
 * @param[out] df       Gradient of f (may equal dy).
 * @param[out] dgain    Gradient of gain (required with gain, NULL without).
 * @param[in]  epsilon  Finite, >= 0.
 * @param[in]     workspace        Scratch of bsconv_get_workspace_size() bytes (NULL when 0).
 * @param[in]     workspace_bytes  Its size.
 * @param[in]     stream           CUDA stream; ignored by CPU plans.
 * @return As bsconv_l2_normalize().
 */
BS_API bs_status_t bsconv_l2_normalize_grad(const_bsconv_plan_t plan, const void* dy, const void* f,
                                            const float* gain, void* df, float* dgain, float epsilon,
                                            void* workspace, size_t workspace_bytes, bs_stream_t stream);

BS_END_DECLS

#endif /* BLOCKSPARSE_BSCONV_H */
