/**
 * @file bst.h
 * @brief Block-sparse attention (bst): the original's `BlocksparseTransformer`, as unfused ops
 *        (SDD scores, masked block softmax, DSD products) and as fused attention with its backward.
 *
 * Source of the math: R. Child, S. Gray, A. Radford, I. Sutskever, "Generating Long Sequences with
 * Sparse Transformers" (arXiv 1904.10509, 2019) and the `BlocksparseTransformer` ops of
 * openai/blocksparse (`bst_op.cc`); the fused path follows T. Dao, "FlashAttention-2" (arXiv
 * 2307.08691): online softmax, the log-sum-exp saved for the backward, scores recomputed there.
 *
 * **Sequences and blocks.** Queries have `Sq = QB·b` positions and keys `Sk = KB·b` (they may
 * differ), cut into blocks of `b` positions (b = 8, 16, 32, 64 or 128). A plan has `H` heads of
 * `D` features (head_dim, a multiple of 8 in [8, 256]).
 *
 * **Layout.** A `(layout_heads, QB, KB)` 0/1 array; `layout[h][i][j] = 1` lets the queries of
 * block `i` of head `h` attend to the keys of block `j`. `layout_heads` is `H`, or 1 for one
 * layout shared by every head. Heads may have different numbers of blocks (the original required
 * equal counts); a query block row may be empty.
 *
 * **Masks inside blocks** (all optional, combined with AND):
 * - block masks, the original's `mask_callback`: for every layout block, one bit per (query row,
 *   key) of the block: `(layout_blocks, b, b/8)` bytes, block order as below; key `j` of query row
 *   `r` is allowed iff bit `j % 8` of byte `j / 8` of that row is set (for b <= 64 this is bit `j`
 *   of the row read as a little-endian b-bit word: the original's `uintB` mask words);
 * - causal (bst_params_t::causal): key position `t` is allowed for query position `s` iff `t <= s`
 *   (positions counted from 0 in each sequence: the top-left alignment of SDPA's `is_causal` and of
 *   FlexAttention's causal `mask_mod`);
 * - the original's `autoregress_at_key` K0 (with causal only): keys `t < K0` are allowed for every
 *   query (a bidirectional prefix), keys from K0 on causally.
 *
 * **Block order.** Blocks of one layout head are numbered row-major in `(query block, key block)`
 * (the original's `nt_lut`; "layout blocks" counts them over the layout heads). The score tensors
 * of the unfused ops hold, for every head `h = 0..H-1` in turn, the blocks of its layout head in
 * that order: `score_blocks = Σ_h nnz(layout head of h)` blocks of `b × b` (query row major) per
 * batch element; bst_block_coord() names them. With equal counts per head this is the original's
 * `(batch, heads, blocks, b, b)`.
 *
 * **Tensors.** q, o, dq and their kin are `(batch, Sq, H, D)` (#BST_FORMAT_BSHD, the original's
 * `(batch, ctx, heads·head_dim)`) or `(batch, H, Sq, D)` (#BST_FORMAT_BHSD, PyTorch SDPA's); k, v,
 * dk, dv the same with Sk. Dense and contiguous. The log-sum-exp `lse` is fp32 `(batch, H, Sq)`.
 * Storage fp32, fp16 or bf16 (the plan's dtype; CUDA plans fp16 and bf16), fp32 arithmetic.
 * Score tensors have the plan's dtype: fp16 scores overflow where `|q·k|` exceeds 65504.
 *
 * **Numerics.** Softmax is taken over every allowed key of a query row, across all its blocks,
 * of `scale·(q·k)`, with the row maximum subtracted first (any finite scale). A query row with no
 * allowed key (an empty layout row, a block mask row of zeros, causal excluding every key) gives
 * probabilities 0 and output 0, not NaN (the original's kernel gave NaN), and lse = -inf.
 * Disallowed keys get probability exactly 0.
 *
 * **Dropout** (fused attention only) drops attention probabilities: `o = (P∘M/keep_prob)·v`, M
 * drawn from the library's counter-based generator exactly as bs_dropout_mask() draws
 * `batch·H·Sq·Sk` elements: element `((n·H + h)·Sq + s)·Sk + t` of the dense attention matrix.
 * The same (seed, offset) in the backward regenerates M; nothing is stored.
 *
 * **Threads, streams, determinism.** A plan is immutable: one plan may run concurrently on several
 * threads and streams, each call with its own outputs and workspace. Execute functions allocate
 * nothing and never synchronize (CUDA plans enqueue on `stream`; CPU plans complete before
 * returning). Every op is deterministic: the same inputs give bitwise the same outputs on the same
 * backend, build and device (the backward computes dk/dv and dq in separate passes, no atomics).
 * bst_destroy() must not race with other uses of the plan.
 *
 * **Backends (this release).** Only CPU plans exist: the CUDA backend is not written yet, so
 * bst_create() and bst_create_kv_blocks() with #BS_BACKEND_CUDA return #BS_STATUS_NOT_SUPPORTED
 * (#BS_STATUS_BACKEND_UNAVAILABLE in a build without CUDA). What the documentation below says of
 * CUDA plans (fp16/bf16 only, 16-byte alignment, streams) is the contract that backend will keep.
 *
 * **Pointers.** CPU plans take host pointers, CUDA plans device pointers of the plan's device;
 * layout arrays are host pointers. Tensors must be aligned to their element size (CPU) or to 16
 * bytes (CUDA); otherwise #BS_STATUS_MISALIGNED_POINTER.
 *
 * **Errors.** Every function validates all of its arguments before touching any output; on failure
 * the outputs are untouched and bs_get_last_error() gives the details. Every function may also
 * return #BS_STATUS_INTERNAL_ERROR.
 */
#ifndef BLOCKSPARSE_BST_H
#define BLOCKSPARSE_BST_H

#include <blocksparse/bs_platform.h>
#include <blocksparse/bs_types.h>

BS_BEGIN_DECLS

/** @brief Opaque bst plan: layout, lookup tables, work lists and backend state, made by bst_create(). */
typedef struct bst_plan_s* bst_plan_t;
/** @brief Read-only view of a bst plan (every execute and query function takes this). */
typedef const struct bst_plan_s* const_bst_plan_t;

/** @brief Order of the dimensions of q, k, v, o and their gradients. */
typedef enum bst_format {
  BST_FORMAT_BSHD = 0, /**< `(batch, seq, heads, head_dim)`: the original's `(batch, ctx, heads·head_dim)`. */
  BST_FORMAT_BHSD = 1, /**< `(batch, heads, seq, head_dim)`: PyTorch SDPA's and FlexAttention's. */
  BST_FORMAT_FORCE_INT32 = 0x7fffffff /**< Not a value: keeps the enum 32 bits wide on every compiler. */
} bst_format_t;

/**
 * @brief Creation parameters of a bst plan. Fill with bst_params_init() (or #BST_PARAMS_INIT)
 * before setting fields: fields are only ever appended, and struct_size tells the library which
 * ones the caller knows.
 */
typedef struct bst_params {
  uint32_t struct_size;       /**< sizeof(bst_params_t) as compiled by the caller; set by bst_params_init(). */
  int32_t backend;            /**< #bs_backend_t. Default #BS_BACKEND_CPU. */
  int32_t device;             /**< CUDA device ordinal (must be 0 for CPU plans). Default 0. */
  int32_t block_size;         /**< b, one of 8, 16, 32, 64, 128. Default 64 (the original's). */
  int32_t heads;              /**< H >= 1. Default 1. */
  int32_t head_dim;           /**< D, a multiple of 8 in [8, 256]. Default 64. */
  int32_t dtype;              /**< #bs_dtype_t of q, k, v, o, scores and their gradients. Default #BS_DTYPE_F32. */
  int32_t format;             /**< #bst_format_t. Default #BST_FORMAT_BSHD. */
  int32_t causal;             /**< 1: keys after the query's position are masked (see the file overview); 0: not. Default 0. */
  int32_t num_threads;        /**< CPU plans: threads per call, 0 = one per hardware thread. Must be 0 for CUDA plans. Default 0. */
  int64_t autoregress_at_key; /**< With causal = 1: keys before this position are visible to every query, in [0, Sk]. Must be 0 without causal. Default 0. */
} bst_params_t;

/**
 * @brief Fills @p params with the defaults documented on each field and sets struct_size.
 * @param[out] params       The struct to fill.
 * @param[in]  struct_size  `sizeof(bst_params_t)` as the caller compiled it (use #BST_PARAMS_INIT).
 * @return #BS_STATUS_SUCCESS, #BS_STATUS_NULL_POINTER, #BS_STATUS_STRUCT_SIZE_MISMATCH.
 * Thread-safe.
 */
BS_API bs_status_t bst_params_init(bst_params_t* params, size_t struct_size);

/** @brief bst_params_init() with the caller's struct size. */
#define BST_PARAMS_INIT(params) bst_params_init((params), sizeof(*(params)))

/**
 * @brief Creates a plan from a dense 0/1 block layout.
 *
 * Builds the lookup tables of every op (per query block row, per key block column), the work
 * lists of the fused kernels (longest rows first) and, for CUDA plans, uploads them. The only
 * step that allocates. Host-synchronous.
 *
 * @param[out] plan          Receives the new plan; untouched on failure. Free with bst_destroy().
 * @param[in]  params        Creation parameters (see #bst_params_t).
 * @param[in]  layout        Host array of `layout_heads·QB·KB` bytes, row-major `(layout_heads, QB, KB)`,
 *                           each 0 or 1, at least one 1 over all heads.
 * @param[in]  layout_heads  params->heads, or 1 (one layout for every head).
 * @param[in]  QB            Query blocks, >= 1 (Sq = QB·b).
 * @param[in]  KB            Key blocks, >= 1 (Sk = KB·b).
 * @param[in]  block_masks   Optional (NULL = every key of a block allowed): host array of
 *                           `layout_blocks·b·(b/8)` bytes, the bit masks inside blocks (file overview).
 * @return #BS_STATUS_SUCCESS; #BS_STATUS_NULL_POINTER (plan, params, layout);
 *         #BS_STATUS_STRUCT_SIZE_MISMATCH; #BS_STATUS_INVALID_VALUE (bad enum, block size, heads,
 *         head_dim, causal, autoregress_at_key, num_threads, device, layout_heads, QB or KB < 1);
 *         #BS_STATUS_OVERFLOW (sizes too large); #BS_STATUS_INVALID_LAYOUT (a value other than
 *         0/1, or no block); #BS_STATUS_BACKEND_UNAVAILABLE; #BS_STATUS_ARCH_NOT_SUPPORTED;
 *         #BS_STATUS_NOT_SUPPORTED (any CUDA plan in this release); #BS_STATUS_OUT_OF_MEMORY; #BS_STATUS_EXECUTION_FAILED.
 * Thread-safe (creates an independent object).
 */
BS_API bs_status_t bst_create(bst_plan_t* plan, const bst_params_t* params, const uint8_t* layout,
                              int64_t layout_heads, int64_t QB, int64_t KB, const uint8_t* block_masks);

/**
 * @brief Creates a plan from per-query-block counts and key-block indices: FlexAttention's
 * `BlockMask(kv_num_blocks, kv_indices)` and cuDNN's / FlashInfer's `q2k` form (without the batch
 * dimension). Query block `i` of layout head `h` attends to the key blocks
 * `kv_indices[(h·QB + i)·kv_indices_stride + e]` for `e < kv_num_blocks[h·QB + i]`, in any order
 * without repeats; entries past the count are not read. The plan is the same as bst_create() of
 * the equivalent dense layout (blocks numbered in sorted order, which block_masks follow).
 *
 * @param[out] plan               Receives the new plan; untouched on failure.
 * @param[in]  params             Creation parameters.
 * @param[in]  layout_heads       params->heads, or 1.
 * @param[in]  QB, KB             Query and key blocks, >= 1.
 * @param[in]  kv_num_blocks      Host int32 array `(layout_heads, QB)`, each in [0, KB].
 * @param[in]  kv_indices         Host int32 array `(layout_heads, QB, kv_indices_stride)`, used entries in [0, KB).
 * @param[in]  kv_indices_stride  Row length of @p kv_indices (FlexAttention pads rows to KB), >= 1 and >= every count.
 * @param[in]  block_masks        Optional, as bst_create().
 * @return As bst_create(); #BS_STATUS_INVALID_LAYOUT for a count or index out of range, a repeat,
 *         or no block at all; #BS_STATUS_INVALID_VALUE for kv_indices_stride < 1.
 * Thread-safe.
 */
BS_API bs_status_t bst_create_kv_blocks(bst_plan_t* plan, const bst_params_t* params, int64_t layout_heads,
                                        int64_t QB, int64_t KB, const int32_t* kv_num_blocks,
                                        const int32_t* kv_indices, int64_t kv_indices_stride,
                                        const uint8_t* block_masks);

/**
 * @brief Destroys a plan and frees its host and device memory. NULL is a no-op.
 * Must not race with other calls using the plan; work already enqueued that reads the plan's
 * tables must have completed (CUDA plans).
 * @param[in] plan  The plan, or NULL.
 * @return #BS_STATUS_SUCCESS.
 */
BS_API bs_status_t bst_destroy(bst_plan_t plan);

/** @brief Integer properties of a plan, read with bst_get_attr(). */
typedef enum bst_attr {
  BST_ATTR_BLOCK_SIZE = 0,         /**< b. */
  BST_ATTR_HEADS = 1,              /**< H. */
  BST_ATTR_HEAD_DIM = 2,           /**< D. */
  BST_ATTR_LAYOUT_HEADS = 3,       /**< H or 1. */
  BST_ATTR_QUERY_BLOCKS = 4,       /**< QB. */
  BST_ATTR_KEY_BLOCKS = 5,         /**< KB. */
  BST_ATTR_QUERY_LEN = 6,          /**< Sq = QB·b. */
  BST_ATTR_KEY_LEN = 7,            /**< Sk = KB·b. */
  BST_ATTR_LAYOUT_BLOCKS = 8,      /**< Ones of the layout over its layout heads (blocks of block_masks). */
  BST_ATTR_SCORE_BLOCKS = 9,       /**< Blocks of one batch element of the score tensors (over the H heads). */
  BST_ATTR_MAX_ROW_BLOCKS = 10,    /**< Most key blocks of one query block row (any head). */
  BST_ATTR_MAX_COL_BLOCKS = 11,    /**< Most query blocks of one key block column (any head). */
  BST_ATTR_DTYPE = 12,             /**< #bs_dtype_t. */
  BST_ATTR_FORMAT = 13,            /**< #bst_format_t. */
  BST_ATTR_CAUSAL = 14,            /**< 0 or 1. */
  BST_ATTR_AUTOREGRESS_AT_KEY = 15, /**< K0 (0 without causal). */
  BST_ATTR_HAS_BLOCK_MASKS = 16,   /**< 1 when the plan was created with block masks. */
  BST_ATTR_BACKEND = 17,           /**< #bs_backend_t. */
  BST_ATTR_DEVICE = 18,            /**< CUDA device ordinal (0 for CPU plans). */
  BST_ATTR_NUM_THREADS = 19,       /**< CPU threads per call actually used (0 for CUDA plans). */
  BST_ATTR_FORCE_INT32 = 0x7fffffff /**< Not a value: keeps the enum 32 bits wide on every compiler. */
} bst_attr_t;

/**
 * @brief Reads one integer property of a plan.
 * @param[in]  plan   The plan.
 * @param[in]  attr   The property (#bst_attr_t).
 * @param[out] value  Receives its value.
 * @return #BS_STATUS_SUCCESS, #BS_STATUS_NULL_POINTER, #BS_STATUS_INVALID_VALUE (unknown attr).
 * Thread-safe.
 */
BS_API bs_status_t bst_get_attr(const_bst_plan_t plan, bst_attr_t attr, int64_t* value);

/** @brief The tensors of the ops, for bst_get_shape(). */
typedef enum bst_tensor {
  BST_TENSOR_QUERY = 0,  /**< q, o, dq, do: `(batch, Sq, H, D)` or `(batch, H, Sq, D)`. */
  BST_TENSOR_KEY = 1,    /**< k, v, dk, dv: `(batch, Sk, H, D)` or `(batch, H, Sk, D)`. */
  BST_TENSOR_SCORES = 2, /**< Scores and probabilities of the unfused ops: `(batch, score_blocks, b, b)`. */
  BST_TENSOR_LSE = 3,    /**< Log-sum-exp of the fused ops, fp32: `(batch, H, Sq)`. */
  BST_TENSOR_FORCE_INT32 = 0x7fffffff /**< Not a value: keeps the enum 32 bits wide on every compiler. */
} bst_tensor_t;

/**
 * @brief Shape of one of the op tensors for @p batch sequences, outermost dimension first.
 * @param[in]  plan    The plan.
 * @param[in]  tensor  Which (#bst_tensor_t).
 * @param[in]  batch   Batch, >= 0.
 * @param[out] shape   Receives up to 4 dimensions (unused entries are set to 1).
 * @param[out] ndim    Receives the number of dimensions (4, or 3 for #BST_TENSOR_LSE).
 * @return #BS_STATUS_SUCCESS, #BS_STATUS_NULL_POINTER, #BS_STATUS_INVALID_VALUE (tensor, batch < 0),
 *         #BS_STATUS_OVERFLOW (its element count). Thread-safe.
 */
BS_API bs_status_t bst_get_shape(const_bst_plan_t plan, bst_tensor_t tensor, int64_t batch, int64_t shape[4],
                                 int32_t* ndim);

/**
 * @brief Head, query block and key block of score block @p block (see "Block order").
 * @param[in]  plan     The plan.
 * @param[in]  block    In `[0, score_blocks)`.
 * @param[out] head     Receives the head (0..H-1).
 * @param[out] q_block  Receives the query block.
 * @param[out] k_block  Receives the key block.
 * @return #BS_STATUS_SUCCESS, #BS_STATUS_NULL_POINTER, #BS_STATUS_INVALID_VALUE (block out of range).
 * Thread-safe.
 */
BS_API bs_status_t bst_block_coord(const_bst_plan_t plan, int64_t block, int64_t* head, int64_t* q_block,
                                   int64_t* k_block);

/**
 * @brief Copies the plan's layout as a dense `(layout_heads, QB, KB)` 0/1 byte array.
 * @param[in]  plan        The plan.
 * @param[out] layout      Host buffer of at least `layout_heads·QB·KB` bytes.
 * @param[in]  layout_len  Its size in bytes.
 * @return #BS_STATUS_SUCCESS, #BS_STATUS_NULL_POINTER, #BS_STATUS_SHAPE_MISMATCH (too small).
 * Thread-safe.
 */
BS_API bs_status_t bst_get_layout(const_bst_plan_t plan, uint8_t* layout, int64_t layout_len);

/** @brief The execute functions, for bst_get_workspace_size(). */
typedef enum bst_op {
  BST_OP_SDD = 0,               /**< bst_sdd() */
  BST_OP_SOFTMAX = 1,           /**< bst_softmax() */
  BST_OP_SOFTMAX_GRAD = 2,      /**< bst_softmax_grad() */
  BST_OP_DSD = 3,               /**< bst_dsd() */
  BST_OP_DSD_T = 4,             /**< bst_dsd_t() */
  BST_OP_ATTENTION_FPROP = 5,   /**< bst_attention_fprop() */
  BST_OP_ATTENTION_BPROP = 6,   /**< bst_attention_bprop() */
  BST_OP_FORCE_INT32 = 0x7fffffff /**< Not a value: keeps the enum 32 bits wide on every compiler. */
} bst_op_t;

/**
 * @brief Workspace bytes that @p op needs on this plan for @p batch sequences (the same size serves
 * any smaller batch). It may be 0; a call with that size accepts a NULL workspace. CPU plans keep
 * per-thread fp32 tiles there; CUDA plans the backward's row sums `Σ do·o` (fp32, batch·H·Sq).
 * @param[in]  plan   The plan.
 * @param[in]  op     The execute function (#bst_op_t).
 * @param[in]  batch  Largest batch the workspace will serve, >= 0.
 * @param[out] bytes  Receives the size in bytes.
 * @return #BS_STATUS_SUCCESS, #BS_STATUS_NULL_POINTER, #BS_STATUS_INVALID_VALUE (op, batch < 0),
 *         #BS_STATUS_OVERFLOW. Thread-safe.
 */
BS_API bs_status_t bst_get_workspace_size(const_bst_plan_t plan, bst_op_t op, int64_t batch, size_t* bytes);

/**
 * @brief SDD (sparse = dense·denseᵀ, the original's `BlocksparseTransformerNT`, `query_key_op`):
 * for every score block `(h, i, j)`, `scores[n, blk] = a[n, rows of block i, h]·b[n, rows of block j, h]ᵀ`
 * (`b × b`, row = query position). Block masks and causality do not apply here (they apply in
 * bst_softmax()). Forward: `a = q`, `b = k`; the gradient of the probabilities: `a = do`, `b = v`.
 *
 * @param[in]  plan             The plan.
 * @param[in]  batch            Batch, >= 0 (0 returns at once; pointers may then be NULL).
 * @param[in]  a                Query-side tensor (#BST_TENSOR_QUERY), plan dtype.
 * @param[in]  b                Key-side tensor (#BST_TENSOR_KEY), plan dtype.
 * @param[out] scores           `(batch, score_blocks, b, b)`, plan dtype; every element written.
 * @param[in]  workspace        Scratch of bst_get_workspace_size(#BST_OP_SDD, batch) bytes.
 * @param[in]  workspace_bytes  Its size.
 * @param[in]  stream           CUDA stream (CUDA plans); ignored by CPU plans.
 * @return #BS_STATUS_SUCCESS; #BS_STATUS_NULL_POINTER; #BS_STATUS_INVALID_VALUE (batch < 0);
 *         #BS_STATUS_OVERFLOW; #BS_STATUS_WORKSPACE_TOO_SMALL; #BS_STATUS_MISALIGNED_POINTER;
 *         #BS_STATUS_WRONG_BACKEND; #BS_STATUS_WRONG_DEVICE; #BS_STATUS_EXECUTION_FAILED.
 * Thread-safe for concurrent calls with distinct outputs and workspaces. Deterministic.
 */
BS_API bs_status_t bst_sdd(const_bst_plan_t plan, int64_t batch, const void* a, const void* b, void* scores,
                           void* workspace, size_t workspace_bytes, bs_stream_t stream);

/**
 * @brief Masked block softmax (the original's `BlocksparseMaskedSoftmax`, `masked_softmax`): for
 * every query row, `probs = softmax(scale·scores)` over its allowed keys in all the blocks of its
 * row (layout, block masks, causal); disallowed keys get 0; a row with no allowed key is all 0.
 *
 * @param[in]  plan             The plan.
 * @param[in]  batch            Batch, >= 0.
 * @param[in]  scores           `(batch, score_blocks, b, b)`, plan dtype.
 * @param[in]  scale            Finite fp32 (typically `1/sqrt(D)`).
 * @param[out] probs            Same shape and dtype; may be @p scores itself (in place).
 * @param[in]  workspace        Scratch of bst_get_workspace_size(#BST_OP_SOFTMAX, batch) bytes.
 * @param[in]  workspace_bytes  Its size.
 * @param[in]  stream           CUDA stream; ignored by CPU plans.
 * @return As bst_sdd(); #BS_STATUS_INVALID_VALUE also for a non-finite scale. Thread-safe. Deterministic.
 */
BS_API bs_status_t bst_softmax(const_bst_plan_t plan, int64_t batch, const void* scores, float scale, void* probs,
                               void* workspace, size_t workspace_bytes, bs_stream_t stream);

/**
 * @brief Gradient of bst_softmax() (the original's `BlocksparseSoftmaxGrad`):
 * `dscores = scale·probs∘(dprobs − Σ_row probs∘dprobs)`, the sum over the whole query row.
 *
 * @param[in]  plan             The plan.
 * @param[in]  batch            Batch, >= 0.
 * @param[in]  probs            Output of bst_softmax(), `(batch, score_blocks, b, b)`, plan dtype.
 * @param[in]  dprobs           Gradient of the probabilities, same shape and dtype.
 * @param[in]  scale            The scale bst_softmax() used (finite).
 * @param[out] dscores          Gradient of the scores, same shape and dtype; may be @p dprobs itself.
 * @param[in]  workspace        Scratch of bst_get_workspace_size(#BST_OP_SOFTMAX_GRAD, batch) bytes.
 * @param[in]  workspace_bytes  Its size.
 * @param[in]  stream           CUDA stream; ignored by CPU plans.
 * @return As bst_softmax(). Thread-safe. Deterministic.
 */
BS_API bs_status_t bst_softmax_grad(const_bst_plan_t plan, int64_t batch, const void* probs, const void* dprobs,
                                    float scale, void* dscores, void* workspace, size_t workspace_bytes,
                                    bs_stream_t stream);

/**
 * @brief DSD (dense = sparse·dense, the original's `BlocksparseTransformerNN`, `weight_value_op`):
 * `out[n, rows of block i, h] = Σ_{blocks (h, i, j)} scores[n, blk]·b[n, rows of block j, h]`.
 * Query rows whose layout row is empty get 0. Forward: `o = P·v`; gradients: `dq = dS·k`.
 *
 * @param[in]  plan             The plan.
 * @param[in]  batch            Batch, >= 0.
 * @param[in]  scores           `(batch, score_blocks, b, b)`, plan dtype.
 * @param[in]  b                Key-side tensor (#BST_TENSOR_KEY), plan dtype.
 * @param[out] out              Query-side tensor (#BST_TENSOR_QUERY), plan dtype; every element written.
 * @param[in]  workspace        Scratch of bst_get_workspace_size(#BST_OP_DSD, batch) bytes.
 * @param[in]  workspace_bytes  Its size.
 * @param[in]  stream           CUDA stream; ignored by CPU plans.
 * @return As bst_sdd(). Thread-safe. Deterministic.
 */
BS_API bs_status_t bst_dsd(const_bst_plan_t plan, int64_t batch, const void* scores, const void* b, void* out,
                           void* workspace, size_t workspace_bytes, bs_stream_t stream);

/**
 * @brief Transposed DSD (dense = sparseᵀ·dense, the original's `BlocksparseTransformerTN`):
 * `out[n, rows of block j, h] = Σ_{blocks (h, i, j)} scores[n, blk]ᵀ·a[n, rows of block i, h]`.
 * Key rows whose layout column is empty get 0. Gradients: `dv = Pᵀ·do`, `dk = dSᵀ·q`.
 *
 * @param[in]  plan             The plan.
 * @param[in]  batch            Batch, >= 0.
 * @param[in]  scores           `(batch, score_blocks, b, b)`, plan dtype.
 * @param[in]  a                Query-side tensor (#BST_TENSOR_QUERY), plan dtype.
 * @param[out] out              Key-side tensor (#BST_TENSOR_KEY), plan dtype; every element written.
 * @param[in]  workspace        Scratch of bst_get_workspace_size(#BST_OP_DSD_T, batch) bytes.
 * @param[in]  workspace_bytes  Its size.
 * @param[in]  stream           CUDA stream; ignored by CPU plans.
 * @return As bst_sdd(). Thread-safe. Deterministic.
 */
BS_API bs_status_t bst_dsd_t(const_bst_plan_t plan, int64_t batch, const void* scores, const void* a, void* out,
                             void* workspace, size_t workspace_bytes, bs_stream_t stream);

/**
 * @brief Fused block-sparse attention: `o = dropout(softmax(scale·q·kᵀ + mask))·v` over the plan's
 * blocks, never materialising the scores (online softmax), and `lse[n, h, s] = log Σ_t exp(scale·q_s·k_t)`
 * over the allowed keys (natural log; -inf for a row with none, whose output is 0).
 *
 * @param[in]  plan             The plan.
 * @param[in]  batch            Batch, >= 0 (0 returns at once).
 * @param[in]  q                Queries (#BST_TENSOR_QUERY), plan dtype.
 * @param[in]  k                Keys (#BST_TENSOR_KEY), plan dtype.
 * @param[in]  v                Values (#BST_TENSOR_KEY), plan dtype.
 * @param[in]  scale            Finite fp32 (typically `1/sqrt(D)`).
 * @param[in]  keep_prob        Dropout keep probability in (0, 1]; 1 = no dropout.
 * @param[in]  seed, offset     Philox key and first counter of the dropout mask (ignored when keep_prob = 1).
 * @param[out] o                Output (#BST_TENSOR_QUERY), plan dtype; every element written.
 * @param[out] lse              Optional (NULL = not stored): fp32 `(batch, H, Sq)`, needed by bst_attention_bprop().
 * @param[in]  workspace        Scratch of bst_get_workspace_size(#BST_OP_ATTENTION_FPROP, batch) bytes.
 * @param[in]  workspace_bytes  Its size.
 * @param[in]  stream           CUDA stream; ignored by CPU plans.
 * @return As bst_sdd(); #BS_STATUS_INVALID_VALUE also for a non-finite scale or keep_prob outside
 *         (0, 1]; #BS_STATUS_NOT_SUPPORTED for a head_dim or block size the CUDA kernels do not
 *         have (CUDA: D in {32, 64, 128}, b >= 16). Thread-safe. Deterministic.
 */
BS_API bs_status_t bst_attention_fprop(const_bst_plan_t plan, int64_t batch, const void* q, const void* k,
                                       const void* v, float scale, float keep_prob, uint64_t seed, uint64_t offset,
                                       void* o, float* lse, void* workspace, size_t workspace_bytes,
                                       bs_stream_t stream);

/**
 * @brief Backward of bst_attention_fprop(): with `P = exp(scale·q·kᵀ − lse)` on the allowed keys,
 * `Z = M/keep_prob` the dropout scale, `dv = (P∘Z)ᵀ·do`, `dP = (do·vᵀ)∘Z`, `δ_s = Σ do_s·o_s`,
 * `dS = P∘(dP − δ)`, `dq = scale·dS·k`, `dk = scale·dSᵀ·q`. Key rows that no query attends get
 * dk = dv = 0; query rows with no allowed key get dq = 0.
 *
 * @param[in]  plan             The plan.
 * @param[in]  batch            Batch, >= 0.
 * @param[in]  q, k, v          The forward's inputs.
 * @param[in]  o                The forward's output.
 * @param[in]  dout             Gradient of o (#BST_TENSOR_QUERY), plan dtype.
 * @param[in]  lse              The forward's log-sum-exp, fp32 `(batch, H, Sq)`.
 * @param[in]  scale, keep_prob, seed, offset  The forward's.
 * @param[out] dq               Gradient of q (#BST_TENSOR_QUERY), plan dtype.
 * @param[out] dk               Gradient of k (#BST_TENSOR_KEY), plan dtype.
 * @param[out] dv               Gradient of v (#BST_TENSOR_KEY), plan dtype.
 * @param[in]  workspace        Scratch of bst_get_workspace_size(#BST_OP_ATTENTION_BPROP, batch) bytes.
 * @param[in]  workspace_bytes  Its size.
 * @param[in]  stream           CUDA stream; ignored by CPU plans.
 * @return As bst_attention_fprop(). Thread-safe. Deterministic (no atomics).
 */
BS_API bs_status_t bst_attention_bprop(const_bst_plan_t plan, int64_t batch, const void* q, const void* k,
                                       const void* v, const void* o, const void* dout, const float* lse, float scale,
                                       float keep_prob, uint64_t seed, uint64_t offset, void* dq, void* dk, void* dv,
                                       void* workspace, size_t workspace_bytes, bs_stream_t stream);

BS_END_DECLS

#endif /* BLOCKSPARSE_BST_H */
