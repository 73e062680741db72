/**
 * @file bs_types.h
 * @brief Types shared by every op family: status codes, data types, backends, streams.
 *
 * Every enum value is explicit and is never renumbered; new values are only appended.
 * Enums are passed to functions as their C enum type and stored in structs as int32_t.
 */
#ifndef BLOCKSPARSE_BS_TYPES_H
#define BLOCKSPARSE_BS_TYPES_H

#include <stddef.h>
#include <stdint.h>

#include <blocksparse/bs_platform.h>

BS_BEGIN_DECLS

/**
 * @brief Status returned by every function of the library.
 *
 * 0 is success; every other value is a failure after which the function's outputs are untouched
 * (except #BS_STATUS_EXECUTION_FAILED, where a device kernel may have written part of them). The
 * detailed message of the calling thread's last failure is read with bs_get_last_error().
 * Values are grouped by kind: 1-99 bad input from the caller, 100-199 valid input that this
 * build or device cannot run, 200-299 failures of the system or the device.
 */
typedef enum bs_status {
  BS_STATUS_SUCCESS = 0,                /**< The call succeeded. */
  BS_STATUS_NULL_POINTER = 1,           /**< A required pointer argument was NULL. */
  BS_STATUS_INVALID_VALUE = 2,          /**< An argument is out of its valid range (bad enum, negative size, NaN scale...). */
  BS_STATUS_SHAPE_MISMATCH = 3,         /**< Sizes or shapes of the arguments do not agree. */
  BS_STATUS_OVERFLOW = 4,               /**< A size computed from the arguments overflows int64_t or the address space. */
  BS_STATUS_INVALID_LAYOUT = 5,         /**< The layout is malformed: values other than 0/1, no blocks, unsorted or duplicate BSR indices. */
  BS_STATUS_WORKSPACE_TOO_SMALL = 6,    /**< workspace_bytes is below the size reported by the matching *_get_workspace_size query. */
  BS_STATUS_MISALIGNED_POINTER = 7,     /**< A data pointer is not aligned as the backend requires (see the op's documentation). */
  BS_STATUS_STRUCT_SIZE_MISMATCH = 8,   /**< The struct_size field of a parameter struct is not one this library knows. */
  BS_STATUS_WRONG_BACKEND = 9,          /**< A pointer or object belongs to another backend than the plan (host pointer for a CUDA plan...). */
  BS_STATUS_WRONG_DEVICE = 10,          /**< A device pointer lives on another GPU than the plan's device. */
  BS_STATUS_NOT_SUPPORTED = 100,        /**< The combination of valid options is not implemented (by this backend or this build). */
  BS_STATUS_BACKEND_UNAVAILABLE = 101,  /**< The requested backend was not compiled into this library or finds no device. */
  BS_STATUS_ARCH_NOT_SUPPORTED = 102,   /**< The GPU's architecture has no code in this build (see bs_get_build_info()). */
  BS_STATUS_OUT_OF_MEMORY = 200,        /**< A host or device allocation failed (only plan creation allocates). */
  BS_STATUS_EXECUTION_FAILED = 201,     /**< A device runtime call or kernel launch failed; the message holds the runtime's error. */
  BS_STATUS_INTERNAL_ERROR = 202, /**< A bug in the library: please report it with the message. */
  BS_STATUS_FORCE_INT32 = 0x7fffffff /**< Not a value: keeps the enum 32 bits wide on every compiler. */
} bs_status_t;

/** @brief Storage data type of tensors. Arithmetic always accumulates in fp32. */
typedef enum bs_dtype {
  BS_DTYPE_F32 = 0,   /**< IEEE 754 binary32. */
  BS_DTYPE_F16 = 1,   /**< IEEE 754 binary16. */
  BS_DTYPE_BF16 = 2, /**< bfloat16 (the upper half of a binary32). */
  BS_DTYPE_FORCE_INT32 = 0x7fffffff /**< Not a value: keeps the enum 32 bits wide on every compiler. */
} bs_dtype_t;

/** @brief Where a plan's data lives and its kernels run; fixed when the plan is created. */
typedef enum bs_backend {
  BS_BACKEND_CPU = 0,  /**< Host memory, multi-threaded CPU kernels. Always built. */
  BS_BACKEND_CUDA = 1, /**< Device memory of one NVIDIA GPU (sm_80 or newer), CUDA kernels. */
  BS_BACKEND_FORCE_INT32 = 0x7fffffff /**< Not a value: keeps the enum 32 bits wide on every compiler. */
} bs_backend_t;

/** @brief How fp32 data may be multiplied. 16-bit data always uses fp32 accumulation. */
typedef enum bs_math_mode {
  BS_MATH_DEFAULT = 0,  /**< fp32 data is multiplied in exact fp32 (FFMA on GPUs). */
  BS_MATH_TF32 = 1, /**< fp32 data may use TF32 tensor cores (CUDA only; the CPU backend stays exact). */
  BS_MATH_FORCE_INT32 = 0x7fffffff /**< Not a value: keeps the enum 32 bits wide on every compiler. */
} bs_math_mode_t;

/** @brief A CUDA stream (`cudaStream_t`), passed without including CUDA headers. NULL is the
 *  legacy default stream. Ignored by the CPU backend, whose calls complete before returning. */
typedef void* bs_stream_t;

BS_END_DECLS

#endif /* BLOCKSPARSE_BS_TYPES_H */
