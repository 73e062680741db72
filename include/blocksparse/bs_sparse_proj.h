/**
 * @file bs_sparse_proj.h
 * @brief Sparse projections between `nhidden` dense features and `nproj` of them (the original's
 *        `SparseProj`): gather, scatter, scatter-add and scatter-multiply along the feature axis
 *        with a one-to-one index map, and their gradients.
 *
 * **Index map.** `lut[j]` (j < nproj) is the hidden feature that projected feature j maps to; the
 * entries are distinct and in `[0, nhidden)` (one-to-one, so no output is written twice and no
 * atomics are needed). The plan keeps the map and its inverse.
 *
 * **Shapes.** `feature_axis = 0` (the original's CN layout): hidden tensors are `(nhidden, N)`,
 * projected tensors `(nproj, N)`; `feature_axis = 1`: `(N, nhidden)` and `(N, nproj)`.
 *
 * **Ops** (`H` = hidden, `P` = projected, `lut` applied along the feature axis):
 * - gather:      `P = H[lut]`; its gradient is scatter.
 * - scatter:     `H = 0; H[lut] = P`; its gradient is gather.
 * - scatter_add: `Z = X; Z[lut] += Y`; gradient bs_sparse_proj_scatter_add_grad().
 * - scatter_mul: `Z = X; Z[lut] *= Y`; gradient bs_sparse_proj_scatter_mul_grad().
 * Arithmetic in fp32, one rounding per output. Outputs may alias X (in-place scatter_add/mul, as the
 * original's); other overlaps are undefined.
 *
 * **Threads, streams, determinism.** The plan is immutable and may be used concurrently; execute
 * functions allocate nothing, never synchronize, and are deterministic. CPU plans take host
 * pointers, CUDA plans device pointers of the plan's device; tensors must be aligned to their
 * element size. Every function validates all its arguments before writing anything (outputs are
 * untouched on failure). Statuses every execute function may return: #BS_STATUS_SUCCESS,
 * #BS_STATUS_NULL_POINTER, #BS_STATUS_INVALID_VALUE (N < 0), #BS_STATUS_OVERFLOW,
 * #BS_STATUS_MISALIGNED_POINTER, #BS_STATUS_WRONG_BACKEND, #BS_STATUS_WRONG_DEVICE,
 * #BS_STATUS_EXECUTION_FAILED, #BS_STATUS_INTERNAL_ERROR. N = 0 returns at once.
 */
#ifndef BLOCKSPARSE_BS_SPARSE_PROJ_H
#define BLOCKSPARSE_BS_SPARSE_PROJ_H

#include <blocksparse/bs_platform.h>
#include <blocksparse/bs_types.h>

BS_BEGIN_DECLS

/** @brief Opaque sparse-projection plan (index map and its inverse, on the plan's backend). */
typedef struct bs_sparse_proj_plan_s* bs_sparse_proj_plan_t;
/** @brief Read-only view of a sparse-projection plan. */
typedef const struct bs_sparse_proj_plan_s* const_bs_sparse_proj_plan_t;

/** @brief Creation parameters; fill with bs_sparse_proj_params_init(). Fields are only appended. */
typedef struct bs_sparse_proj_params {
  uint32_t struct_size;  /**< sizeof(bs_sparse_proj_params_t) as compiled by the caller. */
  int32_t backend;       /**< #bs_backend_t. Default #BS_BACKEND_CPU. */
  int32_t device;        /**< CUDA device ordinal (0 for CPU plans). Default 0. */
  int32_t dtype;         /**< #bs_dtype_t of every tensor. Default #BS_DTYPE_F32. */
  int32_t feature_axis;  /**< 0: `(features, N)` (default, the original's); 1: `(N, features)`. */
  int64_t nhidden;       /**< Dense features, >= 1. Default 0 (must be set). */
  int64_t nproj;         /**< Projected features, 1 .. nhidden. Default 0 (must be set). */
} bs_sparse_proj_params_t;

/**
 * @brief Fills @p params with the defaults and sets struct_size.
 * @param[out] params       The struct to fill.
 * @param[in]  struct_size  `sizeof(bs_sparse_proj_params_t)` as the caller compiled it.
 * @return #BS_STATUS_SUCCESS, #BS_STATUS_NULL_POINTER, #BS_STATUS_STRUCT_SIZE_MISMATCH. Thread-safe.
 */
BS_API bs_status_t bs_sparse_proj_params_init(bs_sparse_proj_params_t* params, size_t struct_size);

/** @brief bs_sparse_proj_params_init() with the caller's struct size. */
#define BS_SPARSE_PROJ_PARAMS_INIT(params) bs_sparse_proj_params_init((params), sizeof(*(params)))

/**
 * @brief Creates a plan from the index map. Host-synchronous; CUDA plans upload the map and its
 * inverse to the device (the only allocation).
 * @param[out] plan    Receives the plan; untouched on failure.
 * @param[in]  params  Creation parameters.
 * @param[in]  lut     Host array of nproj distinct indices in `[0, nhidden)`.
 * @return #BS_STATUS_SUCCESS; #BS_STATUS_NULL_POINTER; #BS_STATUS_STRUCT_SIZE_MISMATCH;
 *         #BS_STATUS_INVALID_VALUE (bad enum or size, an index out of range or repeated, device);
 *         #BS_STATUS_BACKEND_UNAVAILABLE; #BS_STATUS_OUT_OF_MEMORY; #BS_STATUS_EXECUTION_FAILED.
 * Thread-safe.
 */
BS_API bs_status_t bs_sparse_proj_create(bs_sparse_proj_plan_t* plan, const bs_sparse_proj_params_t* params,
                                         const int64_t* lut);

/**
 * @brief Destroys a plan and frees its device buffers. Enqueued work using it must have completed;
 * must not race with other uses of the plan.
 * After this call the handle is dangling: destroying it again or passing it to any function is
 * undefined behaviour (as with free()).
 * @param[in] plan  The plan, or NULL (a no-op).
 * @return #BS_STATUS_SUCCESS.
 */
BS_API bs_status_t bs_sparse_proj_destroy(bs_sparse_proj_plan_t plan);

/**
 * @brief gather: `y (proj) = x (hidden)[lut]`. Also the gradient of scatter.
 * @param[in]  plan    The plan (fixes backend, device, dtype, feature axis, nhidden, nproj).
 * @param[in]  N       Minibatch, >= 0 (0 returns at once; pointers may then be NULL).
 * @param[in]  x       Hidden tensor, `(nhidden, N)` or `(N, nhidden)`.
 * @param[out] y       Projected tensor, `(nproj, N)` or `(N, nproj)`.
 * @param[in]  stream  CUDA stream; ignored by CPU plans.
 * @return The statuses listed in the file overview. Thread-safe; deterministic.
 */
BS_API bs_status_t bs_sparse_proj_gather(const_bs_sparse_proj_plan_t plan, int64_t N, const void* x, void* y,
                                         bs_stream_t stream);

/**
 * @brief scatter: `y (hidden) = 0`, `y[lut] = x (proj)`. Also the gradient of gather.
 * @param[in]  plan    The plan (fixes backend, device, dtype, feature axis, nhidden, nproj).
 * @param[in]  N       Minibatch, >= 0 (0 returns at once; pointers may then be NULL).
 * @param[in]  x       Projected tensor, `(nproj, N)` or `(N, nproj)`.
 * @param[out] y       Hidden tensor, `(nhidden, N)` or `(N, nhidden)`; every element is written.
 * @param[in]  stream  CUDA stream; ignored by CPU plans.
 * @return The statuses listed in the file overview. Thread-safe; deterministic.
 */
BS_API bs_status_t bs_sparse_proj_scatter(const_bs_sparse_proj_plan_t plan, int64_t N, const void* x, void* y,
                                          bs_stream_t stream);

/**
 * @brief scatter_add: `z (hidden) = x (hidden)`, `z[lut] += y (proj)`.
 * @param[in]  plan    The plan (fixes backend, device, dtype, feature axis, nhidden, nproj).
 * @param[in]  N       Minibatch, >= 0 (0 returns at once; pointers may then be NULL).
 * @param[in]  x       Hidden tensor.
 * @param[in]  y       Projected tensor.
 * @param[out] z       Hidden tensor; may alias x (in place).
 * @param[in]  stream  CUDA stream; ignored by CPU plans.
 * @return The statuses listed in the file overview. Thread-safe; deterministic.
 */
BS_API bs_status_t bs_sparse_proj_scatter_add(const_bs_sparse_proj_plan_t plan, int64_t N, const void* x,
                                              const void* y, void* z, bs_stream_t stream);

/**
 * @brief scatter_mul: `z (hidden) = x (hidden)`, `z[lut] *= y (proj)`.
 * @param[in]  plan    The plan (fixes backend, device, dtype, feature axis, nhidden, nproj).
 * @param[in]  N       Minibatch, >= 0 (0 returns at once; pointers may then be NULL).
 * @param[in]  x       Hidden tensor.
 * @param[in]  y       Projected tensor.
 * @param[out] z       Hidden tensor; may alias x (in place).
 * @param[in]  stream  CUDA stream; ignored by CPU plans.
 * @return The statuses listed in the file overview. Thread-safe; deterministic.
 */
BS_API bs_status_t bs_sparse_proj_scatter_mul(const_bs_sparse_proj_plan_t plan, int64_t N, const void* x,
                                              const void* y, void* z, bs_stream_t stream);

/**
 * @brief Gradient of scatter_add: `dx (hidden) = dz`, `dy (proj) = dz[lut]`.
 * @param[in]  plan    The plan (fixes backend, device, dtype, feature axis, nhidden, nproj).
 * @param[in]  N       Minibatch, >= 0 (0 returns at once; pointers may then be NULL).
 * @param[in]  dz      Gradient of z (hidden).
 * @param[out] dx      Optional (NULL = skip), hidden; may alias dz.
 * @param[out] dy      Optional (NULL = skip), projected.
 * @param[in]  stream  CUDA stream; ignored by CPU plans.
 * @return The statuses listed in the file overview. Thread-safe; deterministic.
 */
BS_API bs_status_t bs_sparse_proj_scatter_add_grad(const_bs_sparse_proj_plan_t plan, int64_t N, const void* dz,
                                                   void* dx, void* dy, bs_stream_t stream);

/**
 * @brief Gradient of scatter_mul: `dx (hidden) = dz` with `dx[lut] *= y`, `dy (proj) = dz[lut]·x[lut]`.
 * @param[in]  plan    The plan (fixes backend, device, dtype, feature axis, nhidden, nproj).
 * @param[in]  N       Minibatch, >= 0 (0 returns at once; pointers may then be NULL).
 * @param[in]  dz      Gradient of z (hidden).
 * @param[in]  x       The forward's x (hidden).
 * @param[in]  y       The forward's y (projected).
 * @param[out] dx      Optional (NULL = skip), hidden; may alias dz.
 * @param[out] dy      Optional (NULL = skip), projected.
 * @param[in]  stream  CUDA stream; ignored by CPU plans.
 * @return The statuses listed in the file overview. Thread-safe; deterministic.
 */
BS_API bs_status_t bs_sparse_proj_scatter_mul_grad(const_bs_sparse_proj_plan_t plan, int64_t N, const void* dz,
                                                   const void* x, const void* y, void* dx, void* dy,
                                                   bs_stream_t stream);

BS_END_DECLS

#endif /* BLOCKSPARSE_BS_SPARSE_PROJ_H */
