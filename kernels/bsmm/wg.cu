// The sm_90a path of fprop / bprop (see wg.hpp): TMA producer warp, two wgmma consumer
// warpgroups, one CTA per (output block, 128- or 256-token tile).
#include "kernels/bsmm/wg.hpp"

#include <algorithm>
#include <type_traits>

#include "blocksparse/bs_types.h"
#include "core/dtype.hpp"
#include "core/error.hpp"
#include "kernels/common/convert.cuh"
#include "kernels/common/cuda_check.cuh"
#include "kernels/common/sm90.cuh"

#ifndef BS_SM90A
// The host and sm_80 passes compile the kernels without their bodies, so the geometry constants
// look unused there.
#pragma nv_diag_suppress 177
#endif

namespace bs {
namespace cuda {
namespace {

// Shared-memory geometry. A pipeline stage holds 64 elements of reduction depth: kSubs sub-tiles,
// each the input's TMA box (kTokens x kKA features, K-major) and kKA x b of the weight operand.
// An input row is exactly one swizzle span (kKA · 2 bytes), so b < 64 stacks several weight blocks
// per stage and b = 128 splits a block over two sub-tiles (kChunks). The weight sub-tile is K-major
// for bprop (W's rows, k contiguous: b rows of kKA) and MN-major for fprop (W's rows are the
// reduction, the b output features contiguous: kKA rows of one swizzle span per 64 features, b = 128
// as two such column halves kMNHalf bytes apart), which wgmma reads with its B-transpose flag.
// MT: 64-row MMA tiles per consumer warpgroup, i.e. 128·MT tokens per CTA.
template <int B, int MT>
struct WgGeom {
  static constexpr int kMT = MT;
  static constexpr int kTokens = 128 * kMT;
  static constexpr int kKA = B < 64 ? B : 64;
  static constexpr int kRowBytes = kKA * 2;
  static constexpr int kSubs = 64 / kKA;
  static constexpr int kChunks = B / kKA;
  static constexpr int kASub = kTokens * kRowBytes;
  static constexpr int kBSub = B * kRowBytes;
  static constexpr int kSpanMN = (B < 64 ? B : 64) * 2;  // fprop weight rows: bytes per swizzle span
  static constexpr int kMNHalf = kKA * 128;               // b = 128 fprop: offset of the second 64 features
  static constexpr int kStageBytes = kSubs * (kASub + kBSub);
};

constexpr int kConsumerWarps = 8;
constexpr int kProducerWarp = 8;


// The producer warp's view of its CTA's list of {in_block, weight block} entries: lanes hold two
// consecutive 32-entry windows (the second loaded ahead of use), so the producer never waits on one
// dependent global load per entry (which had made short lists latency bound).
class EntryWindow {
 public:
  __device__ EntryWindow(const int2* list, int n, int lane) : list_(list), n_(n), lane_(lane) {
    cur_ = load(0);
    next_ = load(32);
  }
  // Entry i for this lane. `lo` is the same in every lane and never decreases from call to call;
  // each lane's i lies in [lo, lo + 32].
  __device__ int2 get(int i, int lo) {
    while (lo >= base_ + 32) {
      base_ += 32;
      cur_ = next_;
      next_ = load(base_ + 32);
    }
    const int j = i - base_, src = j & 31;
    const int2 a = make_int2(__shfl_sync(0xFFFFFFFFu, cur_.x, src), __shfl_sync(0xFFFFFFFFu, cur_.y, src));
    const int2 b = make_int2(__shfl_sync(0xFFFFFFFFu, next_.x, src), __shfl_sync(0xFFFFFFFFu, next_.y, src));
    return j < 32 ? a : b;
  }

 private:
  __device__ int2 load(int first) const { return first + lane_ < n_ ? __ldg(list_ + first + lane_) : make_int2(0, 0); }
  const int2* list_;
  int n_, lane_, base_ = 0;
  int2 cur_, next_;
};

// kFprop: the weight operand is W as stored, read MN-major (see WgGeom); else K-major (bprop).
template <typename T, int B, int MT, bool kFprop>
__global__ void __launch_bounds__(kWgThreads, 2) wg_xprop_kernel(const __grid_constant__ WgParams p) {
#ifdef BS_SM90A
  using G = WgGeom<B, MT>;
  extern __shared__ unsigned char smem_raw[];
  // Swizzled tiles must start on the swizzle pattern's period (up to 1024 bytes).
  unsigned char* smem = smem_raw + ((1024 - (sm90::smem_u32(smem_raw) & 1023)) & 1023);
  // The ring depth is a launch parameter (wg.hpp: deeper when one wave of CTAs leaves SMs idle).
  const int stages = p.stages;
  uint64_t* full = reinterpret_cast<uint64_t*>(smem + stages * G::kStageBytes);
  uint64_t* empty = full + stages;
  const int warp = static_cast<int>(threadIdx.x) / 32, lane = static_cast<int>(threadIdx.x) % 32;
  // A cluster of `split` CTAs shares one (output block, token tile): rank r walks the r-th share of
  // the list's stages, and rank 0 adds the others' fp32 partials in rank order (see the end).
  const uint32_t split = sm90::cluster_size(), rank = sm90::cluster_rank();
  const unsigned tile = blockIdx.x / split;
  const int slot = static_cast<int>(tile % static_cast<unsigned>(p.n_cols));
  const int m0 = static_cast<int>(tile / static_cast<unsigned>(p.n_cols)) * G::kTokens;
  const int4 col = reinterpret_cast<const int4*>(p.cols)[slot];
  const int items = col.z * G::kChunks;  // sub-tiles of the whole list
  const int list_stages = (items + G::kSubs - 1) / G::kSubs;
  const int q0 = static_cast<int>(static_cast<int64_t>(list_stages) * rank / split);
  const int n_stages = static_cast<int>(static_cast<int64_t>(list_stages) * (rank + 1) / split) - q0;  // this CTA's
  const int e0 = q0 * G::kSubs / G::kChunks;  // first list entry of this CTA's share

  if (threadIdx.x == 0) {
    for (int s = 0; s < stages; ++s) {
      sm90::mbar_init(&full[s], 1);
      sm90::mbar_init(&empty[s], kConsumerWarps);
    }
    sm90::mbar_fence_init();
  }
  __syncthreads();

  if (warp == kProducerWarp) {
    // One lane per TMA box of a stage, so a stage's boxes are issued by one warp instruction each
    // (a single issuing thread had made short lists issue bound): lane l < kSubs loads sub-tile l's
    // input box, lane 8 + kWH·l + h its weight box (half h of b = 128 fprop).
    constexpr int kWH = kFprop && B > 64 ? 2 : 1;
    const bool x_lane = lane < G::kSubs, w_lane = lane >= 8 && lane < 8 + G::kSubs * kWH;
    const int u = x_lane ? lane : (w_lane ? (lane - 8) / kWH : 0), h = w_lane ? (lane - 8) % kWH : 0;
    if (lane == 0) {
      sm90::tma_prefetch_desc(&p.map_in);
      sm90::tma_prefetch_desc(&p.map_w);
    }
    EntryWindow win(reinterpret_cast<const int2*>(p.entries) + col.y + e0, col.z - e0, lane);
    // Input boxes are box_tokens deep (64 when N <= 64: no rows past N are fetched or zero-filled).
    const uint32_t tx = static_cast<uint32_t>(G::kSubs * (p.box_tokens * G::kRowBytes + G::kBSub));
    sm90::RingPos ring(stages);
    for (int j = 0; j < n_stages; ++j) {
      const int s = ring.s;
      sm90::producer_acquire(full, empty, ring, j, tx, lane);
      // Sub-tiles past the list pad the last stage: boxes entirely out of bounds, which TMA fills
      // with zeros (so the consumers' MMA sequence has no data-dependent branch).
      const int q = q0 + j, it = q * G::kSubs + u;
      int2 e = win.get(min(it, items - 1) / G::kChunks - e0, q * G::kSubs / G::kChunks - e0);
      if (it >= items) e = make_int2(p.F_in / B, p.n_wblocks);
      const int k0 = (it % G::kChunks) * G::kKA;
      unsigned char* st = smem + s * G::kStageBytes;
      if (x_lane) {
        sm90::tma_load_2d(st + u * G::kASub, &p.map_in, e.x * B + k0, m0, &full[s]);
      } else if (w_lane) {
        unsigned char* wdst = st + G::kSubs * G::kASub + u * G::kBSub;
        if constexpr (kFprop) sm90::tma_load_2d(wdst + h * G::kMNHalf, &p.map_w, 64 * h, e.y * B + k0, &full[s]);
        else sm90::tma_load_2d(wdst, &p.map_w, k0, e.y * B, &full[s]);
      }
      ring.advance();
    }
    return;
  }

  // Consumers: warpgroup wg owns tokens m0 + 64·kMT·wg .. + 64·kMT - 1 and all B output features.
  const int wg = warp / 4;
  float acc[G::kMT][B / 2];
#pragma unroll
  for (int t = 0; t < G::kMT; ++t)
#pragma unroll
    for (int i = 0; i < B / 2; ++i) acc[t][i] = 0.0f;
  // Descriptors are built once; every tile below starts a multiple of 16 bytes further on.
  const uint64_t adesc0 = sm90::kmajor_desc(smem, G::kRowBytes);
  const uint64_t bdesc0 =
      kFprop ? sm90::mnmajor_desc(smem, G::kSpanMN, G::kMNHalf) : sm90::kmajor_desc(smem, G::kRowBytes);
  // Bytes between consecutive 16-deep steps of the reduction inside a weight sub-tile.
  constexpr int kBStep = kFprop ? 16 * G::kSpanMN : 32;
  sm90::RingPos ring(stages);
  for (int q = 0; q < n_stages; ++q) {
    const int s = ring.s;
    sm90::mbar_wait(&full[s], ring.lap);
    const int a0 = s * G::kStageBytes + wg * G::kMT * 64 * G::kRowBytes, b0 = s * G::kStageBytes + G::kSubs * G::kASub;
    sm90::fence_regs(acc);
    sm90::wgmma_fence();
#pragma unroll
    for (int u = 0; u < G::kSubs; ++u) {
#pragma unroll
      for (int k = 0; k < G::kKA / 16; ++k) {
        const uint64_t db = bdesc0 + static_cast<uint64_t>((b0 + u * G::kBSub + kBStep * k) >> 4);
#pragma unroll
        for (int t = 0; t < G::kMT; ++t) {
          const uint64_t da = adesc0 + static_cast<uint64_t>((a0 + t * 64 * G::kRowBytes + u * G::kASub + 32 * k) >> 4);
          sm90::wgmma_ss<B, std::is_same<T, bf16_t>::value, false, kFprop>(acc[t], da, db);
        }
      }
    }
    sm90::wgmma_stage_done(acc, empty, ring, q == 0, lane);
  }
  sm90::wgmma_wait<0>();
  sm90::fence_regs(acc);

  // b = 128 keeps one CTA per tile: its 64 accumulators per thread leave no registers for this.
  if (B < 128 && split > 1) {
    // Every rank's MMAs have read their rings (so rank 0's is free); ranks 1.. write their
    // accumulators into it (thread-major float4s: conflict-free), rank 0 adds them in rank order:
    // the same bits on every run. The producer warps have exited, which the barriers allow.
    constexpr int kF4 = G::kMT * B / 8;   // float4s of accumulators per thread
    constexpr int kPitch = kConsumerWarps * 32;  // float4s between a thread's consecutive ones
    const int tid = static_cast<int>(threadIdx.x);
    sm90::cluster_sync();
    if (rank != 0) {
      const uint32_t dst = sm90::cluster_addr(reinterpret_cast<float4*>(smem) + (rank - 1) * kF4 * kPitch + tid, 0);
#pragma unroll
      for (int v = 0; v < kF4; ++v)
        sm90::st_cluster_f4(dst + 16 * kPitch * v, acc[v / (B / 8)][4 * (v % (B / 8))],
                            acc[v / (B / 8)][4 * (v % (B / 8)) + 1], acc[v / (B / 8)][4 * (v % (B / 8)) + 2],
                            acc[v / (B / 8)][4 * (v % (B / 8)) + 3]);
    }
    sm90::cluster_sync();
    if (rank != 0) return;
    const float4* part = reinterpret_cast<const float4*>(smem) + tid;
    // Unrolled over the largest split: a rolled loop here makes ptxas copy the accumulators.
#pragma unroll
    for (uint32_t r = 1; r < kWgMaxSplit; ++r) {
      if (r >= split) break;
#pragma unroll
      for (int v = 0; v < kF4; ++v) {
        // One float4 at a time (no loads hoisted ahead): all accumulators are live here.
        asm volatile("" ::: "memory");
        const float4 o = part[((r - 1) * kF4 + v) * kPitch];
        acc[v / (B / 8)][4 * (v % (B / 8))] += o.x;
        acc[v / (B / 8)][4 * (v % (B / 8)) + 1] += o.y;
        acc[v / (B / 8)][4 * (v % (B / 8)) + 2] += o.z;
        acc[v / (B / 8)][4 * (v % (B / 8)) + 3] += o.w;
      }
    }
  }
  sm90::fence_regs(acc);

  // Epilogue straight from the accumulator fragments: 2 adjacent features per store.
  T* out = static_cast<T*>(p.out);
  const int r0 = m0 + wg * G::kMT * 64 + (warp % 4) * 16 + lane / 4;
  const int c0 = col.x * B + 2 * (lane % 4);
#pragma unroll
  for (int th = 0; th < 2 * G::kMT; ++th) {
    const int t = th / 2, h = th % 2;
    const long long r = r0 + 64 * t + 8 * h;
    if (r >= p.N) continue;
    sm90::store_acc_row<T, B>(reinterpret_cast<uint32_t*>(out + r * p.F_out + c0), acc[t], h, p.alpha, false, p.beta);
  }
#else
  // Device passes other than sm_90a: an empty kernel that the host never launches (wg_usable).
  (void)p;
#endif
}

template <typename T, int B, int MT>
struct WgOps {
  using G = WgGeom<B, MT>;
  static void xprop(const WgParams& p, bool bprop, unsigned grid, unsigned split, cudaStream_t s) {
    cudaLaunchConfig_t cfg{};
    cfg.gridDim = dim3(grid * split);
    cfg.blockDim = dim3(kWgThreads);
    cfg.dynamicSmemBytes = static_cast<size_t>(wg_smem_bytes(G::kStageBytes, p.stages));
    cfg.stream = s;
    cudaLaunchAttribute cluster{};
    cluster.id = cudaLaunchAttributeClusterDimension;
    cluster.val.clusterDim.x = split;
    cluster.val.clusterDim.y = 1;
    cluster.val.clusterDim.z = 1;
    cfg.attrs = &cluster;
    cfg.numAttrs = split > 1 ? 1 : 0;  // no cluster at all when unsplit
    if (bprop) check(cudaLaunchKernelEx(&cfg, wg_xprop_kernel<T, B, MT, false>, p), "bsmm sm_90a xprop kernel launch");
    else check(cudaLaunchKernelEx(&cfg, wg_xprop_kernel<T, B, MT, true>, p), "bsmm sm_90a xprop kernel launch");
  }
  static int split_bytes() { return B < 128 ? MT * B * 512 : 0; }
  static WgKernels set() {
    return WgKernels{G::kTokens, G::kStageBytes, split_bytes(), &xprop,
                     {reinterpret_cast<const void*>(&wg_xprop_kernel<T, B, MT, true>),
                      reinterpret_cast<const void*>(&wg_xprop_kernel<T, B, MT, false>)}};
  }
};

// Large N: 256 tokens per CTA for b <= 32 (two 64-row MMAs per warpgroup share each weight tile:
// half the weight loads per MMA, where narrow tiles make the loads, not the MMAs, the limit); b >= 64
// keeps 128 (accumulator registers; shared memory for two CTAs per SM). Small N (one token tile):
// 128 tokens, since the rows past N still cost the loads their (zero-filled) boxes.
template <typename T>
const WgKernels* wg_for(int B, bool large_n) {
  static const WgKernels sets[6] = {WgOps<T, 16, 1>::set(), WgOps<T, 32, 1>::set(), WgOps<T, 64, 1>::set(),
                                    WgOps<T, 128, 1>::set(), WgOps<T, 16, 2>::set(), WgOps<T, 32, 2>::set()};
  switch (B) {
    case 16: return &sets[large_n ? 4 : 0];
    case 32: return &sets[large_n ? 5 : 1];
    case 64: return &sets[2];
    case 128: return &sets[3];
    default: return nullptr;
  }
}

}  // namespace

const WgKernels* wg_kernels(int32_t dtype, int B, bool large_n) {
#ifdef BS_HAVE_SM90A
  if (dtype == BS_DTYPE_BF16) return wg_for<bf16_t>(B, large_n);
  if (dtype == BS_DTYPE_F16) return wg_for<half_t>(B, large_n);
#else
  (void)dtype, (void)B, (void)large_n;
#endif
  return nullptr;
}

int wg_stages(const WgKernels& k, const DeviceInfo& info, bool one_wave) {
  // Two CTAs per SM share ~220 KB, so one CTA's prologue and epilogue overlap the other's MMAs; a
  // single wave (small N) instead gives its one CTA per SM the deepest ring that fits, since there
  // the stream of weight blocks is latency bound.
  const int budget = one_wave ? info.max_smem_optin - wg_smem_bytes(0, 0) : 110 * 1024;
  return std::max(3, std::min(16, budget / (k.stage_bytes + 16)));
}

int wg_split(const WgKernels& k, int64_t tiles, const DeviceInfo& info) {
  // Measured on the H100 at N = 64, C = K = 4096, d = 0.5 (bench/notes/cuda_bsmm.md, v7): b = 32 and
  // 64 run 15 % and 2.2x faster split in two; four CTAs per tile (one more wave, lists of 8-16 stages)
  // and splitting tiles that already fill more than one wave (b = 16) are slower.
  const bool fits = (kWgMaxSplit - 1) * k.split_bytes <= wg_stages(k, info, false) * k.stage_bytes;
  return k.split_bytes > 0 && fits && tiles * kWgMaxSplit <= 2 * int64_t{info.sm_count} ? kWgMaxSplit : 1;
}

bool sm90_kernel_ready(const void* kernel, const DeviceInfo& info) {
  cudaFuncAttributes attr{};
  if (cudaFuncGetAttributes(&attr, kernel) != cudaSuccess || attr.binaryVersion != 90) {
    (void)cudaGetLastError();
    return false;
  }
  check(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, info.max_smem_optin),
        "cudaFuncSetAttribute");
  return true;
}

bool wg_usable(const WgKernels& k, const DeviceInfo& info) {
  // sm_90a code runs on compute capability 9.0 only (arch-specific features are not forward compatible).
  if (info.cc_major != 9 || info.cc_minor != 0 || wg_smem_bytes(k.stage_bytes, wg_stages(k, info, false)) > info.max_smem_optin)
    return false;
  for (const void* kernel : k.kernels)
    if (!sm90_kernel_ready(kernel, info)) return false;
  return true;
}

}  // namespace cuda
}  // namespace bs
