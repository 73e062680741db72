#pragma once
// What the host side of the CUDA bsmm backend sees of the kernels: kernel parameters, the math
// kinds, and one KernelSet per (storage type, math kind, block size), instantiated in
// ops_<kind>.cu so that the heavy templates compile in parallel translation units.
#include <cuda_runtime.h>

#include "kernels/bsmm/small.hpp"
#include "kernels/common/cuda_device.hpp"

namespace bs {
namespace cuda {

enum class Math : int { kMma16 = 0, kTf32 = 1, kFfma = 2 };

constexpr int kMaxPairs = 16;  // (x, dy) pairs one updat launch reads

// Geometry the host must agree on with the kernels (tile.cuh: 128 x 128 tiles).
constexpr int stripe_blocks(int b) { return 128 / b; }       // xprop: output blocks per CTA
constexpr int superblock_side(int b) { return 128 / b; }     // updat: R = G
constexpr int updat_tokens_per_stage(int elem_bytes) { return 128 / elem_bytes; }

struct XpropParams {
  const void* in;
  const void* w;
  void* out;
  const float* gate;      // nnz gates or null
  const int* stripe_ptr;  // stripes + 1 record offsets
  const int* recs;        // records of 1 + S ints
  long long N;            // tokens
  int F_in, F_out;        // features of in / out
  int axis;               // feature axis (1: (N, F) rows; 0: (F, N))
  int bprop;              // 1: W read transposed
  int token_tiles;
  float alpha, beta;
};

struct UpdatParams {
  const void* x[kMaxPairs];
  const void* dy[kMaxPairs];
  int n_pairs;
  void* dw;
  float* ws;  // splits x nnz x b x b fp32 partials (modes 1, 2)
  const float* gate;
  const int* tiles;  // super-block records
  long long N;
  int C, K, axis;
  long long tokens_per_split;
  int splits;
  int mode;  // 0 final, 1 store partial, 2 add to partial
  long long nnz;
  float alpha, beta;
};

struct KernelSet {
  // Checks that the current device has code for these kernels (BS_STATUS_ARCH_NOT_SUPPORTED) and
  // enough shared memory (BS_STATUS_NOT_SUPPORTED), and sets their shared-memory limits.
  void (*prepare)(const DeviceInfo& info);
  void (*xprop)(const XpropParams& p, dim3 grid, cudaStream_t stream);
  void (*updat)(const UpdatParams& p, dim3 grid, cudaStream_t stream);
  // The small-N split kernel (small.cuh), grid = chunks x 64-token tiles.
  void (*xprop_small)(const SmallParams& p, unsigned grid, cudaStream_t stream);
  // Resident CTAs per SM of the small-N split kernel (after prepare), for sizing its chunks.
  int (*small_ctas_per_sm)();
};

// T: float, half_t or bf16_t (core/dtype.hpp); B: 8, 16, 32, 64 or 128.
template <typename T, Math M>
const KernelSet& kernel_set(int B);

}  // namespace cuda
}  // namespace bs
