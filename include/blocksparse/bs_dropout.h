/**
 * @file bs_dropout.h
 * @brief Dropout from a counter-based random generator (Philox4x32-10), with a bit-packed mask
 *        that can be regenerated for the backward pass or for recomputation.
 *
 * Conventions (backend, pointers, dtypes, aliasing, statuses, thread-safety): see bs_ew.h.
 *
 * **The random stream** (identical on every backend, build and device): element `i` of a call
 * with `(seed, offset)` draws the 32-bit word `r = Philox4x32-10(counter, key)[i % 4]` with
 * `key = {lo32(seed), hi32(seed)}` and `counter = {lo32(c), hi32(c), 0, 0}`, `c = offset + i/4`
 * (mod 2⁶⁴). Element i is kept iff `r < floor(keep_prob·2³²)` (all kept when keep_prob = 1).
 * One call consumes `ceil(n/4)` counters: a caller that draws several masks from one seed
 * advances `offset` by that much between calls. Philox: J. K. Salmon, M. A. Moraes, R. O. Dror,
 * D. E. Shaw, "Parallel Random Numbers: As Easy as 1, 2, 3" (SC 2011); bs_philox4x32_10() matches
 * the Random123 known-answer vectors.
 *
 * **The mask** is bit-packed like the original's: uint32 words, element i is bit `i % 32`
 * (least significant first) of word `i / 32`; `ceil(n/32)` words; the unused high bits of the last
 * word are 0. `y = x·mask/keep_prob` where the scale `1/keep_prob` is rounded to fp32 once.
 *
 * The backward of dropout is the same function: bs_dropout_apply() on dy with the saved mask, or
 * bs_dropout_fprop() on dy with the same seed and offset (no mask stored at all).
 */
#ifndef BLOCKSPARSE_BS_DROPOUT_H
#define BLOCKSPARSE_BS_DROPOUT_H

#include <blocksparse/bs_platform.h>
#include <blocksparse/bs_types.h>

BS_BEGIN_DECLS

/**
 * @brief One Philox4x32-10 block on the host: `out = Philox4x32-10(counter, key)` (ten rounds, the
 * multipliers and Weyl constants of the paper). Pure function of its inputs.
 * @param[in]  counter  4 uint32 words, least significant first.
 * @param[in]  key      2 uint32 words.
 * @param[out] out      4 uint32 words of random output.
 * @return #BS_STATUS_SUCCESS, #BS_STATUS_NULL_POINTER (any pointer NULL; @p out untouched).
 * Thread-safe; deterministic.
 */
BS_API bs_status_t bs_philox4x32_10(const uint32_t counter[4], const uint32_t key[2], uint32_t out[4]);

/**
 * @brief Writes the bit-packed keep mask of @p n elements (see the file overview).
 * @param[in]  backend    #bs_backend_t: where @p mask lives and the work runs.
 * @param[in]  n          Elements, >= 0 (0 returns at once).
 * @param[in]  keep_prob  Keep probability in (0, 1].
 * @param[in]  seed       Philox key (64 bits).
 * @param[in]  offset     First Philox counter (64 bits); the call uses `ceil(n/4)` counters.
 * @param[out] mask       `ceil(n/32)` uint32 words, 4-byte aligned; every word is written.
 * @param[in]  stream     CUDA stream; ignored by the CPU backend.
 * @return The statuses listed in bs_ew.h; #BS_STATUS_INVALID_VALUE also for keep_prob outside
 *         (0, 1] or NaN. Thread-safe; deterministic: the same bits on every backend and device.
 */
BS_API bs_status_t bs_dropout_mask(bs_backend_t backend, int64_t n, float keep_prob, uint64_t seed, uint64_t offset,
                                   uint32_t* mask, bs_stream_t stream);

/**
 * @brief `y = x·mask/keep_prob` with the mask drawn from `(seed, offset)`; optionally stores it.
 * @param[in]  backend    #bs_backend_t.
 * @param[in]  dtype      #bs_dtype_t of x and y.
 * @param[in]  n          Elements, >= 0 (0 returns at once).
 * @param[in]  x          Input, @p n elements of @p dtype.
 * @param[in]  keep_prob  Keep probability in (0, 1].
 * @param[in]  seed       Philox key.
 * @param[in]  offset     First Philox counter.
 * @param[out] y          Output, @p n elements of @p dtype; may alias x.
 * @param[out] mask       Optional (NULL = not stored): `ceil(n/32)` uint32 words, the bits
 *                        bs_dropout_mask() writes for the same `(n, keep_prob, seed, offset)`.
 * @param[in]  stream     CUDA stream; ignored by the CPU backend.
 * @return As bs_dropout_mask(). Thread-safe; deterministic.
 */
BS_API bs_status_t bs_dropout_fprop(bs_backend_t backend, bs_dtype_t dtype, int64_t n, const void* x,
                                    float keep_prob, uint64_t seed, uint64_t offset, void* y, uint32_t* mask,
                                    bs_stream_t stream);

/**
 * @brief `y = x·mask/keep_prob` with a given mask: dropout's backward (x = dy) or a forward that
 * reuses a mask.
 * @param[in]  backend    #bs_backend_t.
 * @param[in]  dtype      #bs_dtype_t of x and y.
 * @param[in]  n          Elements, >= 0 (0 returns at once).
 * @param[in]  x          Input, @p n elements of @p dtype.
 * @param[in]  mask       `ceil(n/32)` uint32 words (bits past n are ignored).
 * @param[in]  keep_prob  The keep probability the mask was drawn with, in (0, 1].
 * @param[out] y          Output, @p n elements of @p dtype; may alias x.
 * @param[in]  stream     CUDA stream; ignored by the CPU backend.
 * @return As bs_dropout_mask(). Thread-safe; deterministic.
 */
BS_API bs_status_t bs_dropout_apply(bs_backend_t backend, bs_dtype_t dtype, int64_t n, const void* x,
                                    const uint32_t* mask, float keep_prob, void* y, bs_stream_t stream);

BS_END_DECLS

#endif /* BLOCKSPARSE_BS_DROPOUT_H */
