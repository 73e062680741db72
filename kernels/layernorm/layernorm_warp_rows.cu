// Forward CUDA layer norm, features last, one warp per row (see layernorm_warp_rows.cuh).
//
// Why (bench/notes/ops.md, "Fifth version"): the CTA-per-row kernel of layernorm_pipelined.cu
// spends ~660 instructions per warp and row at K = 4096 (16 elements per thread; the Chan merges
// of the shuffle tree and the serial cross-warp merge behind the row's barrier are half of them).
// For bf16 that keeps an SM's issue slots ~70% busy at the DRAM rate, and every warp of a CTA
// waits at each row's barrier for the slowest one. Here a warp owns a whole row (128 elements per
// lane at K = 4096): two shuffle-only reductions per row (the sum, then the sum of squared
// deviations: the exact two-pass variance), no barrier in the row loop, ~10 instructions per
// element.
//
// Data path: every warp streams its rows through its own kSlots-slot ring in shared memory with
// cp.async. Rows are cut in 16-byte units; lane l copies units l, l+32, ... and is the only lane
// that reads them back, so the lane's own cp.async.wait_group orders the data (no barrier, not even
// a warp one). Row i + kSlots is issued into row i's slot once the lane has read it back for the
// output; the other warps' rows are in flight meanwhile. Gain and bias (all K
// columns, every segment) are copied into shared memory once per CTA, so rows never re-read them.
// The three passes over the row in shared memory (sum, squared deviations, output) use shared-
// memory bandwidth, not DRAM bandwidth.
#include <type_traits>

#include "kernels/common/mma.cuh"  // cp.async wrappers
#include "kernels/ew/ops_cuda.cuh"
#include "kernels/layernorm/layernorm_warp_rows.cuh"
#include "ops/ew_math.hpp"

namespace bs::ops {
namespace {

using cuda::cp_async16;
using cuda::cp_async_commit;
using cuda::cp_async_wait;

// Ring slots per warp. One: the next row is issued only after this one's output, but with half the
// shared memory per warp twice the warps fit (24 per SM for bf16 rows of 4096), and the row work is
// latency bound per warp, so more warps win: H200, 16384 x 4096, bf16 73 -> 79 % of the copy rate,
// fp32 85 -> 88 % against two slots (bench/notes/ops.md).
constexpr int kSlots = 1;
constexpr int kMaxWarps = 32;  // rows in progress per CTA
// Fewer warps than this per CTA (rows too wide) leave too few bytes in flight per SM: such rows go
// to the CTA-per-row kernel.
constexpr int kMinWarps = 4;

template <typename T>
constexpr int kUnit = 16 / static_cast<int>(sizeof(T));  // elements per 16-byte unit
// Gain/bias are stored in kUnit/4 planes: float4 j of unit q at plane j, offset 4q. The lanes of a
// warp hold consecutive units, so each reads 16 consecutive bytes of a plane (no bank conflicts;
// the 32-byte stride of 8-element units would make every access of fp16/bf16 rows two-way).
template <typename T>
constexpr int kPlanes = kUnit<T> / 4;

struct WarpRowParams {
  const void* x = nullptr;
  void* y = nullptr;
  const float* gain = nullptr;
  const float* bias = nullptr;
  float* mean = nullptr;
  float* rstd = nullptr;
  int64_t rows = 0, N = 0;
  int K = 0, Ks = 0, S = 1;
  float eps = 0.0f;
  int relu = 0;
};

template <typename T>
__device__ __forceinline__ void unpack_unit(const uint4& q, float (&v)[kUnit<T>]) {
  const uint32_t w[4] = {q.x, q.y, q.z, q.w};
  for (int j = 0; j < 4; ++j) {
    if constexpr (sizeof(T) == 4) {
      v[j] = __uint_as_float(w[j]);
    } else if constexpr (std::is_same_v<T, bf16_t>) {
      // bf16 is the upper half of an fp32: one shift or mask per element is the exact conversion
      // (the generic path shifts the upper element down and back up: two instructions).
      v[2 * j] = __uint_as_float(w[j] << 16);
      v[2 * j + 1] = __uint_as_float(w[j] & 0xffff0000u);
    } else {
      v[2 * j] = cuda::load_float(T{static_cast<uint16_t>(w[j] & 0xffffu)});
      v[2 * j + 1] = cuda::load_float(T{static_cast<uint16_t>(w[j] >> 16)});
    }
  }
}

template <typename T>
__device__ __forceinline__ uint4 pack_unit(const float (&v)[kUnit<T>]) {
  uint32_t w[4];
  for (int j = 0; j < 4; ++j) {
    if constexpr (sizeof(T) == 4)
      w[j] = __float_as_uint(v[j]);
    else
      w[j] = static_cast<uint32_t>(cuda::store_as<T>(v[2 * j]).bits) |
             (static_cast<uint32_t>(cuda::store_as<T>(v[2 * j + 1]).bits) << 16);
  }
  return make_uint4(w[0], w[1], w[2], w[3]);
}

// Pairwise sum of a unit's values (fixed order, a dependency chain of log2(E) adds).
template <int E>
__device__ __forceinline__ float unit_sum(const float (&v)[E]) {
  float t[E];
  for (int j = 0; j < E; ++j) t[j] = v[j];
  for (int w = E / 2; w > 0; w /= 2)
    for (int j = 0; j < w; ++j) t[j] = t[2 * j] + t[2 * j + 1];
  return t[0];
}

// Copies this lane's units of row r (if the row exists) into `slot` and commits the group; past
// the last row the group is empty, so every lane commits the same sequence of groups.
__device__ __forceinline__ void issue_row(const WarpRowParams& p, unsigned char* slot, int units, int lane,
                                          int64_t r) {
  if (r < p.rows) {
    const unsigned char* src = static_cast<const unsigned char*>(p.x) + r * units * int64_t{16};
    for (int u = lane; u < units; u += 32) cp_async16(slot + u * 16, src + u * 16, true);
  }
  cp_async_commit();
}

// Dynamic shared memory: gain[K], bias[K] (plane layout), then per warp kSlots row slots.
template <typename T>
__global__ void __launch_bounds__(kMaxWarps * 32) ln_fprop_warp_rows(WarpRowParams p) {
  constexpr int E = kUnit<T>, P = kPlanes<T>;
  extern __shared__ __align__(16) unsigned char smem[];
  float* sg = reinterpret_cast<float*>(smem);
  float* sb = sg + p.K;
  const int lane = static_cast<int>(threadIdx.x) % 32, warp = static_cast<int>(threadIdx.x) / 32;
  const int units = p.Ks / E;  // 16-byte units per row (Ks % 8 == 0: whole units)
  const int row_bytes = units * 16;
  unsigned char* ring = smem + 2 * static_cast<size_t>(p.K) * sizeof(float) +
                        static_cast<size_t>(warp) * kSlots * static_cast<size_t>(row_bytes);

  // Gain and bias into shared memory: global float4 m is float4 (m % P) of unit m / P. Ones and
  // zeros when NULL. This group is committed before the rows', so waiting until at most the kSlots
  // newest groups pend waits for it alone.
  const int plane_floats = p.K / P;
  for (int m = static_cast<int>(threadIdx.x); m < p.K / 4; m += static_cast<int>(blockDim.x)) {
    const int d = (m % P) * plane_floats + (m / P) * 4;
    if (p.gain)
      cp_async16(sg + d, p.gain + 4 * m, true);
    else
      *reinterpret_cast<float4*>(sg + d) = make_float4(1.0f, 1.0f, 1.0f, 1.0f);
    if (p.bias)
      cp_async16(sb + d, p.bias + 4 * m, true);
    else
      *reinterpret_cast<float4*>(sb + d) = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
  }
  cp_async_commit();

  // Warp w of CTA b takes rows w*grid + b, then every grid*warps-th: consecutive rows go to
  // different CTAs, so the rows of the last round spread over all SMs (their counts differ by <= 1).
  const int64_t stride = static_cast<int64_t>(gridDim.x) * (blockDim.x / 32);
  int64_t r = static_cast<int64_t>(warp) * gridDim.x + blockIdx.x;
  for (int s = 0; s < kSlots; ++s) issue_row(p, ring + s * row_bytes, units, lane, r + s * stride);
  cp_async_wait<kSlots>();  // this thread's gain/bias copies landed (the row groups may pend)
  __syncthreads();          // ... and every thread's, and the NULL fills are visible

  const float inv_k = 1.0f / static_cast<float>(p.Ks);
  for (int it = 0; r < p.rows; ++it, r += stride) {
    cp_async_wait<kSlots - 1>();  // row r landed (only later rows' groups may pend)
    unsigned char* slot = ring + (it % kSlots) * row_bytes;
    float s[1] = {0.0f};
#pragma unroll 4
    for (int u = lane; u < units; u += 32) {
      float v[E];
      unpack_unit<T>(*reinterpret_cast<const uint4*>(slot + u * 16), v);
      s[0] += unit_sum(v);
    }
    warp_sum(s);  // xor tree: every lane gets bitwise the same sum
    const float mean = s[0] * inv_k;
    float ss[1] = {0.0f};
#pragma unroll 4
    for (int u = lane; u < units; u += 32) {
      float v[E];
      unpack_unit<T>(*reinterpret_cast<const uint4*>(slot + u * 16), v);
      float t = 0.0f;  // one FMA chain per unit; the unrolled units' chains overlap
      for (int j = 0; j < E; ++j) t = fmaf(v[j] - mean, v[j] - mean, t);
      ss[0] += t;
    }
    warp_sum(ss);
    const float rstd = 1.0f / sqrtf(ss[0] * inv_k + p.eps);
    // Unit u of the row is unit seg*units + u of the gain/bias vectors (segments are whole units).
    const int gq = static_cast<int>(p.S == 1 ? 0 : r % p.S) * units;
    unsigned char* yrow = static_cast<unsigned char*>(p.y) + r * row_bytes;
#pragma unroll 2
    for (int u = lane; u < units; u += 32) {
      float v[E], g[E], b[E], y[E];
      unpack_unit<T>(*reinterpret_cast<const uint4*>(slot + u * 16), v);
      for (int j = 0; j < P; ++j) {
        const float4 gj = *reinterpret_cast<const float4*>(sg + j * plane_floats + (gq + u) * 4);
        const float4 bj = *reinterpret_cast<const float4*>(sb + j * plane_floats + (gq + u) * 4);
        g[4 * j] = gj.x, g[4 * j + 1] = gj.y, g[4 * j + 2] = gj.z, g[4 * j + 3] = gj.w;
        b[4 * j] = bj.x, b[4 * j + 1] = bj.y, b[4 * j + 2] = bj.z, b[4 * j + 3] = bj.w;
      }
      for (int j = 0; j < E; ++j) {
        const float z = (v[j] - mean) * rstd * g[j] + b[j];
        y[j] = p.relu && z < 0.0f ? 0.0f : z;
      }
      *reinterpret_cast<uint4*>(yrow + u * 16) = pack_unit<T>(y);
    }
    if (lane == 0 && p.mean) {
      const int64_t si = ln_stat_index(r, p.S, p.N);
      p.mean[si] = mean;
      p.rstd[si] = rstd;
    }
    // The lane's reads of this slot are done (their values fed the stores above): refill it.
    issue_row(p, slot, units, lane, r + kSlots * stride);
  }
}

struct WarpRowShape {
  bool use = false;
  int warps = 0;
  size_t smem = 0;
  unsigned grid = 0;
};

// Warps per CTA: as many as the shared memory holds after gain/bias, up to kMaxWarps; then as many
// CTAs as fit the GPU, but no more than the rows need.
template <typename T>
WarpRowShape warp_row_shape(const LnConfig& c, int64_t N) {
  WarpRowShape sh;
  const int64_t Ks = c.K / c.segments, rows = N * c.segments;
  if (c.feature_axis != 1 || Ks % 8 != 0 || rows < 1) return sh;
  int dev = 0, max_smem = 0;
  cudaGetDevice(&dev);
  if (cudaDeviceGetAttribute(&max_smem, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev) != cudaSuccess) {
    cudaGetLastError();
    return sh;
  }
  const size_t gb = 2 * static_cast<size_t>(c.K) * sizeof(float);
  const size_t per_warp = kSlots * static_cast<size_t>(Ks) * sizeof(T);
  if (gb + kMinWarps * per_warp > static_cast<size_t>(max_smem)) return sh;
  const size_t fit = (static_cast<size_t>(max_smem) - gb) / per_warp;
  sh.warps = static_cast<int>(fit < kMaxWarps ? fit : kMaxWarps);
  sh.smem = gb + static_cast<size_t>(sh.warps) * per_warp;
  const void* k = reinterpret_cast<const void*>(&ln_fprop_warp_rows<T>);
  int occ = 0;
  // The attribute is the device's maximum whatever the shape, so concurrent calls with different
  // shapes cannot lower it under each other's launch.
  if (cudaFuncSetAttribute(k, cudaFuncAttributeMaxDynamicSharedMemorySize, max_smem) != cudaSuccess ||
      cudaOccupancyMaxActiveBlocksPerMultiprocessor(&occ, k, sh.warps * 32, sh.smem) != cudaSuccess || occ < 1) {
    cudaGetLastError();
    return sh;
  }
  const int64_t ctas = (rows + sh.warps - 1) / sh.warps, slots = static_cast<int64_t>(sm_count()) * occ;
  sh.grid = static_cast<unsigned>(ctas < slots ? ctas : slots);
  sh.use = true;
  return sh;
}

}  // namespace

bool ln_warp_rows_fprop(const LnConfig& c, const LnFpropArgs& a) {
  if (!aligned16(a.x) || !aligned16(a.y) || (a.gain && !aligned16(a.gain)) || (a.bias && !aligned16(a.bias)))
    return false;
  return dispatch_dtype(c.dtype, [&](auto tag) {
    using T = decltype(tag);
    const WarpRowShape sh = warp_row_shape<T>(c, a.N);
    if (!sh.use) return false;
    WarpRowParams p;
    p.x = a.x;
    p.y = a.y;
    p.gain = a.gain;
    p.bias = a.bias;
    p.mean = a.mean;
    p.rstd = a.rstd;
    p.rows = a.N * c.segments;
    p.N = a.N;
    p.K = static_cast<int>(c.K);
    p.Ks = static_cast<int>(c.K / c.segments);
    p.S = c.segments;
    p.eps = c.epsilon;
    p.relu = c.relu;
    ln_fprop_warp_rows<T><<<sh.grid, sh.warps * 32, sh.smem, as_stream(a.stream)>>>(p);
    check_launch("layernorm_fprop kernel");
    return true;
  });
}

}  // namespace bs::ops
