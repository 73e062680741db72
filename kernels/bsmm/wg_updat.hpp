#pragma once
// The sm_90a path of updat (wg_updat.cu), host-visible part.
//
// dW[i] = x[:, c]ᵀ · dy[:, k] reduces over the tokens, so tokens are the K side of the warpgroup
// MMAs: x features the M side and dy features the N side, both read from shared memory MN-major
// (as stored, features contiguous) through wgmma's transpose flags. A "unit" is one 64 x b
// accumulator: 64 x features of one layout column k (two blocks stacked for b = 32, one block for
// b = 64, half a block for b = 128) against k's b dy features. A CTA takes up to eight units of one
// column over every token of every (x, dy) pair, so each dy slice it loads serves all of them, and
// writes its blocks once: no workspace, no second pass, and each block is summed in one fixed order
// (deterministic).
#include <cuda.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/common/cuda_device.hpp"

namespace bs {
namespace cuda {

constexpr int kWgUpdatPairs = 4;  // (x, dy) pairs one launch takes (their maps are kernel parameters)

struct WgUpdatParams {
  CUtensorMap map_x[kWgUpdatPairs];   // N x C, box 64 tokens x min(b, 64) features
  CUtensorMap map_dy[kWgUpdatPairs];  // N x K, box 64 tokens x min(b, 64) features
  const int* cta_cols;                // layout column of each CTA
  const int* segs;                    // per CTA: units · segments-per-unit records (WgUpdatLut)
  const float* gate;                  // nnz gates or null
  void* dw;
  int n_pairs;
  int chunks;  // 64-token stages per pair: ceil(N / 64)
  int stages;  // ring depth
  float alpha, beta;
};

struct WgUpdatKernels {
  int units;        // units per CTA (the LUT's grouping)
  int stage_bytes;  // shared memory of one ring stage
  void (*run)(const WgUpdatParams& p, unsigned grid, cudaStream_t s);
  const void* kernel;  // for attribute queries
};

// Kernels for 16-bit storage `dtype` and block size B (32, 64, 128), or null. Usable only where
// wg_updat_usable() says so.
const WgUpdatKernels* wg_updat_kernels(int32_t dtype, int B);

// Ring depth: as deep as the device's shared memory allows (one CTA per SM).
int wg_updat_stages(const WgUpdatKernels& k, const DeviceInfo& info);

// True if `k` has sm_90a code for the current device and at least 3 stages fit its shared memory;
// sets the kernel's shared-memory limit.
bool wg_updat_usable(const WgUpdatKernels& k, const DeviceInfo& info);

}  // namespace cuda
}  // namespace bs
