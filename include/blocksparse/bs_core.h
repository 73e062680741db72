/**
 * @file bs_core.h
 * @brief Library-wide functions: versions, build information, status names, the last error,
 *        and device discovery.
 *
 * All functions here are thread-safe and never fail except where a status is returned.
 */
#ifndef BLOCKSPARSE_BS_CORE_H
#define BLOCKSPARSE_BS_CORE_H

#include <blocksparse/bs_platform.h>
#include <blocksparse/bs_types.h>
#include <blocksparse/bs_version.h>

BS_BEGIN_DECLS

/** @brief Version of the loaded library (compare with #BS_VERSION of the headers a program was
 *  compiled with).
 *  @return `major*10000 + minor*100 + patch` (see #BS_MAKE_VERSION). Thread-safe. */
BS_API int32_t bs_get_version(void);

/** @brief Version of the loaded library as a string.
 *  @return A static NUL-terminated string "major.minor.patch"; never NULL. Thread-safe. */
BS_API const char* bs_get_version_string(void);

/**
 * @brief Describes the build of the loaded library, as a static NUL-terminated string of
 * `key=value` lines: version, backends compiled, CUDA architectures and CUDA runtime version (where
 * CUDA is built), compiler, git revision.
 *
 * Keys (one line each, in this order; more keys may be appended in later versions):
 * `version`, `backends` ("cpu" or "cpu,cuda"), `cuda_architectures` (the CUDA architectures
 * compiled, e.g. "80,90a"; "none"), `cuda_toolkit` (the toolkit version the library was built
 * with; "none"), `cuda_runtime` (version of the CUDA runtime library loaded with it, read when
 * first asked; "none"), `compiler`, `build_type`, `git_revision`.
 *
 * @return A NUL-terminated string valid for the lifetime of the process; never NULL. Thread-safe.
 */
BS_API const char* bs_get_build_info(void);

/** @brief Name of a status.
 *  @param[in] status  Any value, known to this library or not.
 *  @return A static string ("BS_STATUS_SHAPE_MISMATCH"); "BS_STATUS_UNKNOWN" for a value this
 *          library does not know. Never NULL. Thread-safe. */
BS_API const char* bs_status_name(bs_status_t status);

/** @brief One-sentence description of a status.
 *  @param[in] status  Any value, known to this library or not.
 *  @return A static string; never NULL. Thread-safe. */
BS_API const char* bs_status_description(bs_status_t status);

/**
 * @brief Copies the detailed message of the calling thread's last failed call into @p buf.
 *
 * Each failing call of the library replaces the calling thread's message; successful calls leave it
 * as it was. Before any failure the message is empty.
 *
 * @param[out] buf        Receives the message, truncated to @p buf_bytes - 1 bytes and
 *                        NUL-terminated. May be NULL when @p buf_bytes is 0.
 * @param[in]  buf_bytes  Size of @p buf in bytes.
 * @param[out] msg_bytes  Optional (may be NULL): receives the size needed for the whole message,
 *                        terminating NUL included.
 * @return #BS_STATUS_SUCCESS; #BS_STATUS_NULL_POINTER if @p buf is NULL while @p buf_bytes > 0.
 *         This function does not itself replace the last error.
 * Thread-safety: the message is per thread.
 */
BS_API bs_status_t bs_get_last_error(char* buf, size_t buf_bytes, size_t* msg_bytes);

/** @brief Status of the calling thread's last failed call.
 *  @return That status; #BS_STATUS_SUCCESS if no call has failed on this thread since the last
 *          bs_clear_last_error(). Thread-safe (per thread). */
BS_API bs_status_t bs_get_last_status(void);

/** @brief Clears the calling thread's last status and message.
 *  @return #BS_STATUS_SUCCESS (always). Thread-safe (per thread). */
BS_API bs_status_t bs_clear_last_error(void);

/** @brief Size in bytes of one element of @p dtype.
 *  @param[in]  dtype  A #bs_dtype_t.
 *  @param[out] bytes  Receives 4 (fp32) or 2 (fp16, bf16).
 *  @return #BS_STATUS_SUCCESS, #BS_STATUS_NULL_POINTER, #BS_STATUS_INVALID_VALUE (unknown dtype). */
BS_API bs_status_t bs_dtype_size(bs_dtype_t dtype, size_t* bytes);

/**
 * @brief Number of devices a backend can run on.
 * @param[in]  backend  #BS_BACKEND_CPU (always 1) or #BS_BACKEND_CUDA (number of visible GPUs; 0 when
 *                      CUDA is not compiled in or no GPU/driver is present, which is not an error).
 * @param[out] count    Receives the count.
 * @return #BS_STATUS_SUCCESS, #BS_STATUS_NULL_POINTER, #BS_STATUS_INVALID_VALUE (unknown backend).
 * Thread-safe.
 */
BS_API bs_status_t bs_get_device_count(bs_backend_t backend, int32_t* count);

BS_END_DECLS

#endif /* BLOCKSPARSE_BS_CORE_H */
