// The sm_90a path of updat (see wg_updat.hpp): a TMA producer warp streams 64-token slices of x
// (one box per unit segment) and of dy (the CTA's one layout column) into a shared-memory ring; two
// consumer warpgroups accumulate their units with wgmma, both operands MN-major.
#include "kernels/bsmm/wg_updat.hpp"

#include <algorithm>
#include <type_traits>

#include "blocksparse/bs_types.h"
#include "core/dtype.hpp"
#include "core/error.hpp"
#include "kernels/bsmm/wg.hpp"
#include "kernels/common/convert.cuh"
#include "kernels/common/cuda_check.cuh"
#include "kernels/common/sm90.cuh"

#ifndef BS_SM90A
// The host and sm_80 passes compile the kernel without its body, so the geometry looks unused there.
#pragma nv_diag_suppress 177
#endif

namespace bs {
namespace cuda {
namespace {

// A stage is 64 tokens deep. A box is 64 tokens x kKA features, rows of one swizzle span. A unit's
// A tile is kSegs boxes (its 64 x features, MN-major: spans kBox bytes apart); the B tile is the dy
// slice of the CTA's column, one box per 64 features. Units per consumer warpgroup: B/2 fp32
// accumulators each, 64 (b = 32) or 128 (b = 64, 128) registers in all.
template <int B>
struct WgUpdatGeom {
  static constexpr int kKA = B < 64 ? B : 64;
  static constexpr int kSpan = kKA * 2;
  static constexpr int kSegs = 64 / kKA;
  static constexpr int kUW = B == 128 ? 2 : 4;
  static constexpr int kUnits = 2 * kUW;
  static constexpr int kSegsCta = kUnits * kSegs;
  static constexpr int kBox = 64 * kSpan;
  static constexpr int kATile = kSegs * kBox;
  static constexpr int kBHalves = B > 64 ? 2 : 1;
  static constexpr int kBTile = kBHalves * kBox;
  static constexpr int kStageBytes = kUnits * kATile + kBTile;
  static_assert(kSegsCta <= 32, "one bit per segment in a 32-bit mask");
};

constexpr int kConsumerWarps = 8;
constexpr int kProducerWarp = 8;


template <typename T, int B>
__global__ void __launch_bounds__(kWgThreads, 1) wg_updat_kernel(const __grid_constant__ WgUpdatParams p) {
#ifdef BS_SM90A
  using G = WgUpdatGeom<B>;
  extern __shared__ unsigned char smem_raw[];
  // Swizzled tiles must start on the swizzle pattern's period (up to 1024 bytes).
  unsigned char* smem = smem_raw + ((1024 - (sm90::smem_u32(smem_raw) & 1023)) & 1023);
  const int stages = p.stages;
  uint64_t* full = reinterpret_cast<uint64_t*>(smem + stages * G::kStageBytes);
  uint64_t* empty = full + stages;
  const int warp = static_cast<int>(threadIdx.x) / 32, lane = static_cast<int>(threadIdx.x) % 32;
  const int2* segs = reinterpret_cast<const int2*>(p.segs) + static_cast<long long>(blockIdx.x) * G::kSegsCta;
  const int n_stages = p.n_pairs * p.chunks;

  if (threadIdx.x == 0) {
    for (int s = 0; s < stages; ++s) {
      sm90::mbar_init(&full[s], 1);
      sm90::mbar_init(&empty[s], kConsumerWarps);
    }
    sm90::mbar_fence_init();
  }
  __syncthreads();

  if (warp == kProducerWarp) {
    // One lane per TMA box of a stage (a single issuing thread was the limit): lane i < kSegsCta
    // loads segment i's x box, lanes 32 - kBHalves .. 31 the dy slice. Padding segments (the last
    // units of a column) are never loaded: their accumulator rows are computed from whatever their
    // slots hold and never stored.
    const int col = __ldg(p.cta_cols + blockIdx.x);
    const int2 sg = lane < G::kSegsCta ? __ldg(segs + lane) : make_int2(-1, -1);
    const bool x_lane = sg.y >= 0, dy_lane = lane >= 32 - G::kBHalves;
    const uint32_t tx = static_cast<uint32_t>(__popc(__ballot_sync(0xFFFFFFFFu, x_lane)) * G::kBox + G::kBTile);
    if (lane == 0)
      for (int i = 0; i < p.n_pairs; ++i) {
        sm90::tma_prefetch_desc(&p.map_x[i]);
        sm90::tma_prefetch_desc(&p.map_dy[i]);
      }
    sm90::RingPos ring(stages);
    for (int q = 0; q < n_stages; ++q) {
      const int s = ring.s;
      sm90::producer_acquire(full, empty, ring, q, tx, lane);
      const int pair = q / p.chunks, t0 = (q % p.chunks) * 64;
      unsigned char* st = smem + s * G::kStageBytes;
      if (x_lane) {
        sm90::tma_load_2d(st + lane * G::kBox, &p.map_x[pair], sg.x, t0, &full[s]);
      } else if (dy_lane) {
        const int h = lane - (32 - G::kBHalves);
        sm90::tma_load_2d(st + G::kUnits * G::kATile + h * G::kBox, &p.map_dy[pair], col * B + 64 * h, t0, &full[s]);
      }
      ring.advance();
    }
    return;
  }

  // Consumers: warpgroup wg owns units wg·kUW .. wg·kUW + kUW - 1.
  const int wg = warp / 4;
  float acc[G::kUW][B / 2];
#pragma unroll
  for (int u = 0; u < G::kUW; ++u)
#pragma unroll
    for (int i = 0; i < B / 2; ++i) acc[u][i] = 0.0f;
  // Both operands are MN-major tiles of the same box geometry; every 16-token step is 16 rows on.
  const uint64_t desc0 = sm90::mnmajor_desc(smem, G::kSpan, G::kBox);
  sm90::RingPos ring(stages);
  for (int q = 0; q < n_stages; ++q) {
    const int s = ring.s;
    sm90::mbar_wait(&full[s], ring.lap);
    const int a0 = s * G::kStageBytes + wg * G::kUW * G::kATile, b0 = s * G::kStageBytes + G::kUnits * G::kATile;
    sm90::fence_regs(acc);
    sm90::wgmma_fence();
#pragma unroll
    for (int k = 0; k < 4; ++k) {
      const uint64_t db = desc0 + static_cast<uint64_t>((b0 + 16 * G::kSpan * k) >> 4);
#pragma unroll
      for (int u = 0; u < G::kUW; ++u) {
        const uint64_t da = desc0 + static_cast<uint64_t>((a0 + u * G::kATile + 16 * G::kSpan * k) >> 4);
        sm90::wgmma_ss<B, std::is_same<T, bf16_t>::value, true, true>(acc[u], da, db);
      }
    }
    sm90::wgmma_stage_done(acc, empty, ring, q == 0, lane);
  }
  sm90::wgmma_wait<0>();
  sm90::fence_regs(acc);

  // Epilogue from the accumulator fragments (wgmma_ss): rows are x features of the unit, columns dy
  // features. Rows r and r + 8 of a thread lie in the same segment (segments are >= 32 rows).
  T* dw = static_cast<T*>(p.dw);
  const int r = 16 * (warp % 4) + lane / 4, g = (16 * (warp % 4)) / G::kKA;
#pragma unroll
  for (int u = 0; u < G::kUW; ++u) {
    const int sid = __ldg(&segs[(wg * G::kUW + u) * G::kSegs + g].y);
    if (sid < 0) continue;
    float scale = p.alpha;
    bool dropped = false;  // gate 0: the block keeps beta·dW, whatever the sum
    if (p.gate != nullptr) {
      const float gt = __ldg(p.gate + sid / (B / G::kKA));
      scale *= gt;
      dropped = gt == 0.0f;
    }
    T* base = dw + static_cast<long long>(sid) * G::kKA * B + static_cast<long long>(r - g * G::kKA) * B + 2 * (lane % 4);
#pragma unroll
    for (int h = 0; h < 2; ++h)
      sm90::store_acc_row<T, B>(reinterpret_cast<uint32_t*>(base + 8 * h * B), acc[u], h, scale, dropped, p.beta);
  }
#else
  // Device passes other than sm_90a: an empty kernel that the host never launches (wg_updat_usable).
  (void)p;
#endif
}

template <typename T, int B>
struct WgUpdatOps {
  using G = WgUpdatGeom<B>;
  static void run(const WgUpdatParams& p, unsigned grid, cudaStream_t s) {
    wg_updat_kernel<T, B><<<grid, kWgThreads, wg_smem_bytes(G::kStageBytes, p.stages), s>>>(p);
    check_launch("bsmm sm_90a updat kernel launch");
  }
  static WgUpdatKernels set() {
    return WgUpdatKernels{G::kUnits, G::kStageBytes, &run, reinterpret_cast<const void*>(&wg_updat_kernel<T, B>)};
  }
};

template <typename T>
const WgUpdatKernels* wg_updat_for(int B) {
  static const WgUpdatKernels sets[3] = {WgUpdatOps<T, 32>::set(), WgUpdatOps<T, 64>::set(), WgUpdatOps<T, 128>::set()};
  switch (B) {
    case 32: return &sets[0];
    case 64: return &sets[1];
    case 128: return &sets[2];
    default: return nullptr;
  }
}

}  // namespace

const WgUpdatKernels* wg_updat_kernels(int32_t dtype, int B) {
#ifdef BS_HAVE_SM90A
  if (dtype == BS_DTYPE_BF16) return wg_updat_for<bf16_t>(B);
  if (dtype == BS_DTYPE_F16) return wg_updat_for<half_t>(B);
#else
  (void)dtype, (void)B;
#endif
  return nullptr;
}

int wg_updat_stages(const WgUpdatKernels& k, const DeviceInfo& info) {
  return std::min(8, (info.max_smem_optin - wg_smem_bytes(0, 0)) / (k.stage_bytes + 16));
}

bool wg_updat_usable(const WgUpdatKernels& k, const DeviceInfo& info) {
  return info.cc_major == 9 && info.cc_minor == 0 && wg_updat_stages(k, info) >= 3 &&
         sm90_kernel_ready(k.kernel, info);
}

}  // namespace cuda
}  // namespace bs
