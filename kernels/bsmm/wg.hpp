#pragma once
// The sm_90a path of fprop / bprop (wg.cu), host-visible part: N > 128, and smaller N on layouts
// with many output blocks (bsmm_cuda.cu decides).
//
// Tokens are the M side of warpgroup MMAs (wgmma), one output block's b features the N side, and
// the CTA walks exactly that block's list of weight blocks: no union of several columns, so no
// zero-filled MMA work at any density. A producer warp streams x (or dy) slices and weight blocks
// into a shared-memory ring with TMA; two consumer warpgroups (64 or 128 tokens each) multiply out
// of it.
//
// x / dy rows are the K-major A operand (feature axis 1). W is read as stored: bprop's B operand
// (rows c, k contiguous) is K-major, fprop's (rows c are the reduction, k contiguous) MN-major,
// which wgmma takes with its transpose flag: no copy of W, no workspace. Gated calls take the
// mma.sync paths (gates there scale the weight fragments per call).
#include <cuda.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/common/cuda_device.hpp"

namespace bs {
namespace cuda {

constexpr int kWgThreads = 9 * 32;      // warpgroups 0-1 (warps 0-7) consume, warp 8 produces

struct WgParams {
  CUtensorMap map_in;  // x (fprop) / dy (bprop): N x F_in, box box_tokens x min(b, 64)
  CUtensorMap map_w;   // W as nnz·b rows x b; box b x min(b, 64) (bprop) or min(b, 64) x min(b, 64) (fprop)
  const int* cols;     // wg_lut cols: 4 ints per output block
  const int* entries;  // wg_lut entries: 2 ints each
  void* out;           // N x F_out
  long long N;
  int F_in, F_out;
  int n_wblocks;       // rows of map_w / b
  int n_cols;          // output blocks; grid = n_cols x token tiles, output block fastest
  int stages;          // ring depth (wg_stages)
  int box_tokens;      // rows of map_in's box: the kernel's tokens per CTA, or 64 when N <= 64
  float alpha, beta;
};

struct WgKernels {
  int tokens;       // tokens per CTA (128 or 256)
  int stage_bytes;  // shared memory of one ring stage
  void (*xprop)(const WgParams& p, bool bprop, unsigned grid, cudaStream_t s);
  const void* kernels[2];  // fprop and bprop kernels, for attribute queries
};

// Kernels for storage type `dtype` (BS_DTYPE_F16 / BS_DTYPE_BF16), block size B (16, 32, 64, 128)
// and N > 128 (`large_n`) or not, or null when this path does not serve them. Usable only on a
// device with compute capability 9.0 and when the build has sm_90a code: see wg_usable().
const WgKernels* wg_kernels(int32_t dtype, int B, bool large_n);

// Dynamic shared memory of a launch with a ring of `stages` (2 mbarriers each, 1 KB alignment slack).
constexpr int wg_smem_bytes(int stage_bytes, int stages) { return stages * (stage_bytes + 16) + 1024; }

// Ring depth: ~110 KB (two CTAs per SM) or, when the launch is a single wave (`one_wave`), as deep as
// the device's shared memory allows (up to 16 stages).
int wg_stages(const WgKernels& k, const DeviceInfo& info, bool one_wave);

// True if `k` has sm_90a code for the current device and fits its shared memory; sets the kernel's
// shared-memory limit.
bool wg_usable(const WgKernels& k, const DeviceInfo& info);

// True if `kernel` was compiled for sm_90a (the build's code for this device); then raises its
// dynamic shared-memory limit to the device's opt-in maximum.
bool sm90_kernel_ready(const void* kernel, const DeviceInfo& info);

}  // namespace cuda
}  // namespace bs
