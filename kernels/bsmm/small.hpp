#pragma once
// The small-N path of fprop / bprop (N <= kSmallNMax), host-visible part: geometry the plan and
// the kernels agree on, kernel parameters and the launcher of the reduction kernel.
//
// At small N the op is bound by reading W once, and the tile engine (xprop.cuh) launches only one
// CTA per 128-feature output stripe (32 CTAs for C = K = 4096 on 132 SMs). This path instead
// splits every output block's list of weight blocks into *chunks* of about nnz / (SMs x resident
// CTAs) blocks (small_lut.cu), runs one CTA per (chunk, 64-token tile) that writes an fp32 partial
// product [tokens][b] into the workspace (small.cuh), then a second kernel (small_finish.cu) sums
// the partials of each output block in chunk order and applies alpha, beta and the rounding to the
// storage type. The order of every sum is fixed by the plan: results are deterministic (no atomics).
#include <cuda_runtime.h>

#include <cstdint>

namespace bs {
namespace cuda {

constexpr int kSmallNMax = 128;     // fprop/bprop with N <= this take the split path
constexpr int kSmallTokens = 64;    // tokens per CTA (M of its MMAs)
constexpr int kSmallThreads = 128;  // 4 warps, 16 tokens each
constexpr int kSmallMaxRecs = 256;  // records per chunk (the chunk's records sit in shared memory)

// Reduction depth of one pipeline stage: 64 bytes of a token row (32 16-bit or 16 fp32 elements).
constexpr int small_kc(int elem_bytes) { return 64 / elem_bytes; }
// Weight blocks per stage: blocks narrower than a stage are stacked along the reduction (chunks
// are padded with absent records to a multiple of this).
constexpr int small_recs_per_stage(int b, int elem_bytes) { return small_kc(elem_bytes) > b ? small_kc(elem_bytes) / b : 1; }

struct SmallParams {
  const void* in;       // x (fprop) or dy (bprop)
  const void* w;
  float* ws;            // chunks x N x b fp32 partials, [chunk][token][feature of the output block]
  const float* gate;    // nnz gates or null
  const int* chunks;    // 2 ints per chunk: {first record, record count (multiple of records per stage)}
  const int* recs;      // 2 ints per record: {input block, weight block id}, -1 = padding
  long long N;
  int F_in;             // features of `in`
  int axis;             // feature axis (1: (N, F) rows; 0: (F, N))
  int bprop;            // 1: W read transposed
  int tiles;            // 64-token tiles of N; grid = chunks x tiles, tile fastest
};

struct SmallFinishParams {
  const float* ws;
  const int* chunk_ptr;  // out_blocks + 1: chunks of output block o are chunk_ptr[o] .. chunk_ptr[o+1]-1
  void* out;
  long long N;
  int F_out, B, out_blocks, axis, tiles;
  float alpha, beta;
};

// out = alpha·Σ_chunks ws + beta·out (beta = 0: out not read), one CTA per (output block, token tile).
void launch_small_finish(int32_t dtype, const SmallFinishParams& p, cudaStream_t s);

}  // namespace cuda
}  // namespace bs
