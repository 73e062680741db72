/**
 * @file bs_platform.h
 * @brief Export, declaration and deprecation macros shared by every public header.
 *
 * Self-contained C99; includes nothing but <stddef.h> and <stdint.h> (through bs_types.h).
 */
#ifndef BLOCKSPARSE_BS_PLATFORM_H
#define BLOCKSPARSE_BS_PLATFORM_H

/** @brief Marks a function as part of the public ABI (default visibility; the library is built
 *  with hidden visibility and a linker version script, so only BS_API symbols are exported). */
#if defined(_WIN32)
#  if defined(BLOCKSPARSE_BUILDING)
#    define BS_API __declspec(dllexport)
#  else
#    define BS_API __declspec(dllimport)
#  endif
#elif defined(__GNUC__) || defined(__clang__)
#  define BS_API __attribute__((visibility("default")))
#else
#  define BS_API
#endif

/** @brief Opens a block of C declarations (extern "C" under C++). */
#ifdef __cplusplus
#  define BS_BEGIN_DECLS extern "C" {
/** @brief Closes a block opened by #BS_BEGIN_DECLS. */
#  define BS_END_DECLS }
#else
#  define BS_BEGIN_DECLS
#  define BS_END_DECLS
#endif

/** @brief Marks a function that will be removed at the next ABI major version.
 *  Define BS_DISABLE_DEPRECATION_WARNINGS to silence the warning. */
#if defined(BS_DISABLE_DEPRECATION_WARNINGS)
#  define BS_DEPRECATED(msg)
#elif defined(__GNUC__) || defined(__clang__)
#  define BS_DEPRECATED(msg) __attribute__((deprecated(msg)))
#else
#  define BS_DEPRECATED(msg)
#endif

#endif /* BLOCKSPARSE_BS_PLATFORM_H */
