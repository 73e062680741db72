// The sm_90a path of fprop / bprop (see wg.hpp): TMA producer warp, two wgmma consumer
// warpgroups, one CTA per (output block, 128-token tile).
#include "kernels/bsmm/wg.hpp"

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
// each the input's TMA box (128 tokens x kKA features, K-major) and kKA x b of the weight operand.
// An input row is exactly one swizzle span (kKA · 2 bytes), so b < 64 stacks several weight blocks
// per stage and b = 128 splits a block over two sub-tiles (kChunks). The weight sub-tile is K-major
// for bprop (W's rows, k contiguous: b rows of kKA) and MN-major for fprop (W's rows are the
// reduction, the b output features contiguous: kKA rows of one swizzle span per 64 features, b = 128
// as two such column halves kMNHalf bytes apart), which wgmma reads with its B-transpose flag.
template <int B>
struct WgGeom {
  static constexpr int kKA = B < 64 ? B : 64;
  static constexpr int kRowBytes = kKA * 2;
  static constexpr int kSubs = 64 / kKA;
  static constexpr int kChunks = B / kKA;
  static constexpr int kASub = kWgTokens * kRowBytes;
  static constexpr int kBSub = B * kRowBytes;
  static constexpr int kSpanMN = (B < 64 ? B : 64) * 2;  // fprop weight rows: bytes per swizzle span
  static constexpr int kMNHalf = kKA * 128;               // b = 128 fprop: offset of the second 64 features
  static constexpr int kStageBytes = kSubs * (kASub + kBSub);
  // ~96 KB of ring: two CTAs per SM, so one CTA's epilogue and prologue overlap the other's MMAs.
  static constexpr int kStages = 96 * 1024 / kStageBytes;
  static constexpr int kBarOffset = kStages * kStageBytes;
  static constexpr int kSmemBytes = kBarOffset + 2 * kStages * 8 + 1024;  // + slack to align to 1024
  static_assert(kStages >= 3, "ring too shallow");
};

constexpr int kConsumerWarps = 8;
constexpr int kProducerWarp = 8;

template <typename T>
__device__ __forceinline__ uint32_t pack2(float lo, float hi) {
  return static_cast<uint32_t>(store_as<T>(lo).bits) | (static_cast<uint32_t>(store_as<T>(hi).bits) << 16);
}
template <typename T>
__device__ __forceinline__ float half_of(uint32_t v, int h) {
  return load_float(T{static_cast<uint16_t>(h ? v >> 16 : v & 0xFFFFu)});
}

// kFprop: the weight operand is W as stored, read MN-major (see WgGeom); else K-major (bprop).
template <typename T, int B, bool kFprop>
__global__ void __launch_bounds__(kWgThreads, 2) wg_xprop_kernel(const __grid_constant__ WgParams p) {
#ifdef BS_SM90A
  using G = WgGeom<B>;
  extern __shared__ unsigned char smem_raw[];
  // Swizzled tiles must start on the swizzle pattern's period (up to 1024 bytes).
  unsigned char* smem = smem_raw + ((1024 - (sm90::smem_u32(smem_raw) & 1023)) & 1023);
  uint64_t* full = reinterpret_cast<uint64_t*>(smem + G::kBarOffset);
  uint64_t* empty = full + G::kStages;
  const int warp = static_cast<int>(threadIdx.x) / 32, lane = static_cast<int>(threadIdx.x) % 32;
  const int slot = static_cast<int>(blockIdx.x % static_cast<unsigned>(p.n_cols));
  const int m0 = static_cast<int>(blockIdx.x / static_cast<unsigned>(p.n_cols)) * kWgTokens;
  const int4 col = reinterpret_cast<const int4*>(p.cols)[slot];
  const int items = col.z * G::kChunks;  // sub-tiles of the whole list
  const int stages = (items + G::kSubs - 1) / G::kSubs;

  if (threadIdx.x == 0) {
    for (int s = 0; s < G::kStages; ++s) {
      sm90::mbar_init(&full[s], 1);
      sm90::mbar_init(&empty[s], kConsumerWarps);
    }
    sm90::mbar_fence_init();
  }
  __syncthreads();

  if (warp == kProducerWarp) {
    if (lane == 0) {
      sm90::tma_prefetch_desc(&p.map_in);
      sm90::tma_prefetch_desc(&p.map_w);
      const int2* ent = reinterpret_cast<const int2*>(p.entries) + col.y;
      for (int q = 0; q < stages; ++q) {
        const int s = q % G::kStages;
        if (q >= G::kStages) sm90::mbar_wait(&empty[s], static_cast<uint32_t>(q / G::kStages - 1) & 1u);
        sm90::mbar_arrive_expect_tx(&full[s], static_cast<uint32_t>(G::kStageBytes));
        unsigned char* st = smem + s * G::kStageBytes;
        for (int u = 0; u < G::kSubs; ++u) {
          // Sub-tiles past the list pad the last stage: boxes entirely out of bounds, which TMA fills
          // with zeros (so the consumers' MMA sequence has no data-dependent branch).
          const int it = q * G::kSubs + u;
          int2 e = make_int2(p.F_in / B, p.n_wblocks);
          if (it < items) e = __ldg(ent + it / G::kChunks);
          const int k0 = (it % G::kChunks) * G::kKA;
          sm90::tma_load_2d(st + u * G::kASub, &p.map_in, e.x * B + k0, m0, &full[s]);
          unsigned char* wdst = st + G::kSubs * G::kASub + u * G::kBSub;
          if constexpr (kFprop) {
#pragma unroll
            for (int h = 0; h < (B > 64 ? 2 : 1); ++h)
              sm90::tma_load_2d(wdst + h * G::kMNHalf, &p.map_w, 64 * h, e.y * B + k0, &full[s]);
          } else {
            sm90::tma_load_2d(wdst, &p.map_w, k0, e.y * B, &full[s]);
          }
        }
      }
    }
    return;
  }

  // Consumers: warpgroup wg owns tokens m0 + 64·wg .. +63 and all B output features.
  const int wg = warp / 4;
  float acc[B / 2];
#pragma unroll
  for (int i = 0; i < B / 2; ++i) acc[i] = 0.0f;
  // Descriptors are built once; every tile below starts a multiple of 16 bytes further on.
  const uint64_t adesc0 = sm90::kmajor_desc(smem, G::kRowBytes);
  const uint64_t bdesc0 =
      kFprop ? sm90::mnmajor_desc(smem, G::kSpanMN, G::kMNHalf) : sm90::kmajor_desc(smem, G::kRowBytes);
  // Bytes between consecutive 16-deep steps of the reduction inside a weight sub-tile.
  constexpr int kBStep = kFprop ? 16 * G::kSpanMN : 32;
  for (int q = 0; q < stages; ++q) {
    const int s = q % G::kStages;
    sm90::mbar_wait(&full[s], static_cast<uint32_t>(q / G::kStages) & 1u);
    const int a0 = s * G::kStageBytes + wg * 64 * G::kRowBytes, b0 = s * G::kStageBytes + G::kSubs * G::kASub;
    sm90::fence_regs(acc);
    sm90::wgmma_fence();
#pragma unroll
    for (int u = 0; u < G::kSubs; ++u) {
#pragma unroll
      for (int k = 0; k < G::kKA / 16; ++k) {
        const uint64_t da = adesc0 + static_cast<uint64_t>((a0 + u * G::kASub + 32 * k) >> 4);
        const uint64_t db = bdesc0 + static_cast<uint64_t>((b0 + u * G::kBSub + kBStep * k) >> 4);
        sm90::wgmma_ss<B, std::is_same<T, bf16_t>::value, kFprop>(acc, da, db);
      }
    }
    sm90::wgmma_commit();
    sm90::fence_regs(acc);
    // Keep this stage's MMAs in flight; the previous stage's are done, so its slot goes back.
    sm90::wgmma_wait<1>();
    sm90::mbar_arrive_if(&empty[(q + G::kStages - 1) % G::kStages], q > 0 && lane == 0);
  }
  sm90::wgmma_wait<0>();
  sm90::fence_regs(acc);

  // Epilogue straight from the accumulator fragments: 2 adjacent features per store.
  T* out = static_cast<T*>(p.out);
  const int r0 = m0 + wg * 64 + (warp % 4) * 16 + lane / 4;
  const int c0 = col.x * B + 2 * (lane % 4);
#pragma unroll
  for (int h = 0; h < 2; ++h) {
    const long long r = r0 + 8 * h;
    if (r >= p.N) continue;
    uint32_t* row = reinterpret_cast<uint32_t*>(out + r * p.F_out + c0);
#pragma unroll
    for (int c = 0; c < B / 8; ++c) {
      float v0 = p.alpha * acc[4 * c + 2 * h], v1 = p.alpha * acc[4 * c + 2 * h + 1];
      if (p.beta != 0.0f) {
        const uint32_t old = row[4 * c];
        v0 += p.beta * half_of<T>(old, 0);
        v1 += p.beta * half_of<T>(old, 1);
      }
      row[4 * c] = pack2<T>(v0, v1);
    }
  }
#else
  // Device passes other than sm_90a: an empty kernel that the host never launches (wg_usable).
  (void)p;
#endif
}

template <typename T, int B>
struct WgOps {
  static void xprop(const WgParams& p, bool bprop, unsigned grid, cudaStream_t s) {
    if (bprop) wg_xprop_kernel<T, B, false><<<grid, kWgThreads, WgGeom<B>::kSmemBytes, s>>>(p);
    else wg_xprop_kernel<T, B, true><<<grid, kWgThreads, WgGeom<B>::kSmemBytes, s>>>(p);
    check_launch("bsmm sm_90a xprop kernel launch");
  }
  static WgKernels set() {
    return WgKernels{WgGeom<B>::kSmemBytes, &xprop,
                     {reinterpret_cast<const void*>(&wg_xprop_kernel<T, B, true>),
                      reinterpret_cast<const void*>(&wg_xprop_kernel<T, B, false>)}};
  }
};

template <typename T>
const WgKernels* wg_for(int B) {
  static const WgKernels sets[4] = {WgOps<T, 16>::set(), WgOps<T, 32>::set(), WgOps<T, 64>::set(), WgOps<T, 128>::set()};
  switch (B) {
    case 16: return &sets[0];
    case 32: return &sets[1];
    case 64: return &sets[2];
    case 128: return &sets[3];
    default: return nullptr;
  }
}

}  // namespace

const WgKernels* wg_kernels(int32_t dtype, int B) {
#ifdef BS_HAVE_SM90A
  if (dtype == BS_DTYPE_BF16) return wg_for<bf16_t>(B);
  if (dtype == BS_DTYPE_F16) return wg_for<half_t>(B);
#else
  (void)dtype, (void)B;
#endif
  return nullptr;
}

bool wg_usable(const WgKernels& k, const DeviceInfo& info) {
  // sm_90a code runs on compute capability 9.0 only (arch-specific features are not forward compatible).
  if (info.cc_major != 9 || info.cc_minor != 0 || k.smem_bytes > info.max_smem_optin) return false;
  for (const void* kernel : k.kernels) {
    cudaFuncAttributes attr{};
    if (cudaFuncGetAttributes(&attr, kernel) != cudaSuccess || attr.binaryVersion != 90) {
      (void)cudaGetLastError();
      return false;
    }
    check(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, k.smem_bytes), "cudaFuncSetAttribute");
  }
  return true;
}

}  // namespace cuda
}  // namespace bs
