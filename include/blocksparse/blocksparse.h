/**
 * @file blocksparse.h
 * @brief Umbrella header of the blocksparse C API: includes every public header.
 *
 * blocksparse gives C, C++ and any language with a C FFI the block-sparse neural-network
 * primitives of OpenAI's blocksparse, on CPUs and NVIDIA GPUs, behind a stable C ABI.
 */
#ifndef BLOCKSPARSE_BLOCKSPARSE_H
#define BLOCKSPARSE_BLOCKSPARSE_H

#include <blocksparse/bs_platform.h>
#include <blocksparse/bs_version.h>
#include <blocksparse/bs_types.h>
#include <blocksparse/bs_core.h>
#include <blocksparse/bsmm.h>
#include <blocksparse/bst.h>
#include <blocksparse/bsconv.h>
#include <blocksparse/layernorm.h>
#include <blocksparse/bs_ew.h>
#include <blocksparse/bs_norms.h>
#include <blocksparse/bs_dropout.h>
#include <blocksparse/bs_lstm.h>
#include <blocksparse/bs_sparse_proj.h>
#include <blocksparse/bs_optim.h>

#endif /* BLOCKSPARSE_BLOCKSPARSE_H */
