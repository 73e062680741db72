// Forward CUDA layer norm, features last: one CTA of 32·W threads per (sample, segment) row, the
// row held in registers (see layernorm_fprop_rows.cuh).
//
// Why this shape (bench/notes/ops.md, "Sixth version"; H200, 16384 x 4096): the bound is the bytes
// in flight per SM, and a persistent grid gives them away. Measured against a same-run 256 MB
// device-to-device copy:
// - Persistent grids (rows looped over a grid that fits the GPU) stayed at 84-89 %, with the row
//   in shared memory (the previous kernel) or in registers, with or without the next row
//   prefetched, and so did a plain copy kernel of the same structure (88-92 %).
// - One row per CTA and a grid of all rows, so the hardware hands each finished CTA's slot to the
//   next row: fp32 97 %, bf16 93 %.
// - 16-bit rows kept packed: ptxas otherwise keeps every element live as fp32 from the first pass
//   to the last (192 registers for a warp's bf16 row, 8 rows in flight per SM instead of 16).
// - One row per CTA with __syncthreads: two rows per CTA on named barriers made ptxas reserve all
//   16 barriers per CTA, which capped residency at 4 CTAs per SM (bf16 90 % instead of 93 %).
// - Streaming hints: loads bypass L1 (ld.global.nc.L1::no_allocate), stores are evict-first
//   (st.global.cs): +1.5 to 5 points over plain loads and stores.
//
// Each thread holds kLaneElems elements of its row (units u = t, t + 32W, ... of 16 bytes), so the
// registers per thread do not depend on the dtype and fit 64 (32 resident warps per SM).
// Statistics: the row's sum, then the sum of squared deviations from the mean (the exact two-pass
// variance), each a warp xor tree then, for W > 1, the warp partials added in warp order: the
// result does not depend on the grid or on timing.
#include <type_traits>

#include "kernels/ew/ops_cuda.cuh"
#include "kernels/layernorm/layernorm_fprop_rows.cuh"
#include "ops/ew_math.hpp"

namespace bs::ops {
namespace {

constexpr int kLaneElems = 32;
constexpr int kMaxWarps = 32;  // 1024 threads: rows up to 32768 elements

template <typename T>
constexpr int kUnit = 16 / static_cast<int>(sizeof(T));  // elements per 16-byte unit
template <typename T>
constexpr int kLaneUnits = kLaneElems / kUnit<T>;

struct RowParams {
  const uint4* x = nullptr;
  uint4* y = nullptr;
  const float* gain = nullptr;
  const float* bias = nullptr;
  float* mean = nullptr;
  float* rstd = nullptr;
  int64_t N = 0;
  int units = 0, S = 1;  // 16-byte units per row, segments per sample
  float eps = 0.0f;
  int relu = 0;
  uint2 sel2{}, sel3{};  // unpack_sel selectors of passes 2 and 3 (the same values, separate arguments)
};

__device__ __forceinline__ uint4 load_stream(const uint4* p) {
  uint4 r;
  asm volatile("ld.global.nc.L1::no_allocate.v4.u32 {%0, %1, %2, %3}, [%4];"
               : "=r"(r.x), "=r"(r.y), "=r"(r.z), "=r"(r.w)
               : "l"(p));
  return r;
}

__device__ __forceinline__ void store_stream(uint4* p, const uint4& v) {
  asm volatile("st.global.cs.v4.u32 [%0], {%1, %2, %3, %4};" ::"l"(p), "r"(v.x), "r"(v.y), "r"(v.z), "r"(v.w)
               : "memory");
}

// Row elements of a 16-byte unit as fp32. Pass 1 unpacks with constant shifts and masks, passes 2
// and 3 with byte permutes whose selectors are kernel arguments (sel, one pair per pass): ptxas
// cannot prove those equal the first unpack, so it recomputes them from the packed registers (one
// instruction per element, as in pass 1) instead of keeping all 32 elements live as fp32 across
// both reductions (44 registers for bf16 instead of 96 and more).
template <typename T>
__device__ __forceinline__ void unpack(const uint4& q, float (&v)[kUnit<T>]) {
  const uint32_t w[4] = {q.x, q.y, q.z, q.w};
  for (int j = 0; j < 4; ++j) {
    if constexpr (sizeof(T) == 4) {
      v[j] = __uint_as_float(w[j]);
    } else if constexpr (std::is_same_v<T, bf16_t>) {
      // bf16 is the upper half of an fp32: a shift or a mask is the exact conversion.
      v[2 * j] = __uint_as_float(w[j] << 16);
      v[2 * j + 1] = __uint_as_float(w[j] & 0xffff0000u);
    } else {
      v[2 * j] = cuda::load_float(T{static_cast<uint16_t>(w[j] & 0xffffu)});
      v[2 * j + 1] = cuda::load_float(T{static_cast<uint16_t>(w[j] >> 16)});
    }
  }
}

template <typename T>
__device__ __forceinline__ void unpack_sel(const uint4& q, uint2 sel, float (&v)[kUnit<T>]) {
  if constexpr (sizeof(T) == 4) {
    unpack<T>(q, v);
  } else {
    const uint32_t w[4] = {q.x, q.y, q.z, q.w};
    for (int j = 0; j < 4; ++j) {
      const uint32_t lo = __byte_perm(w[j], 0u, sel.x), hi = __byte_perm(w[j], 0u, sel.y);
      if constexpr (std::is_same_v<T, bf16_t>) {
        v[2 * j] = __uint_as_float(lo);
        v[2 * j + 1] = __uint_as_float(hi);
      } else {
        v[2 * j] = cuda::load_float(T{static_cast<uint16_t>(lo)});
        v[2 * j + 1] = cuda::load_float(T{static_cast<uint16_t>(hi)});
      }
    }
  }
}

// Byte-permute selectors of unpack_sel (0-3: bytes of the word, 4: zero): bf16 to the fp32 bits
// (element in the upper half), fp16 to the 16 bits in the lower half.
template <typename T>
constexpr uint2 kSel = std::is_same_v<T, bf16_t> ? uint2{0x1044u, 0x3244u} : uint2{0x4410u, 0x4432u};


template <typename T>
__device__ __forceinline__ uint4 pack(const float (&v)[kUnit<T>]) {
  if constexpr (sizeof(T) == 4)
    return make_uint4(__float_as_uint(v[0]), __float_as_uint(v[1]), __float_as_uint(v[2]), __float_as_uint(v[3]));
  else
    return make_uint4(cuda::pack2<T>(v[0], v[1]), cuda::pack2<T>(v[2], v[3]), cuda::pack2<T>(v[4], v[5]),
                      cuda::pack2<T>(v[6], v[7]));
}

// Sum over the CTA's row: every thread gets bitwise the same value.
template <int W>
__device__ __forceinline__ float row_sum(float v, float (&part)[W]) {
  float s[1] = {v};
  warp_sum(s);
  if constexpr (W == 1) {
    return s[0];
  } else {
    if (threadIdx.x % 32 == 0) part[threadIdx.x / 32] = s[0];
    __syncthreads();
    float t = 0.0f;
    for (int w = 0; w < W; ++w) t += part[w];
    return t;
  }
}

// 1024 resident threads per SM (32 warps; 64 registers each), the occupancy measured best.
template <typename T, int W>
__global__ void __launch_bounds__(32 * W, kMaxWarps / W) ln_fprop_rows_kernel(RowParams p) {
  constexpr int E = kUnit<T>, R = kLaneUnits<T>, G = 32 * W;
  // Separate partial arrays for the two reductions: no barrier is needed between reading the
  // first one's partials and writing the second one's.
  __shared__ float part[2][W];
  const int t = static_cast<int>(threadIdx.x);
  const int64_t r = blockIdx.x;
  const uint4* xr = p.x + r * p.units;
  uint4 q[R];
#pragma unroll
  for (int i = 0; i < R; ++i) q[i] = t + G * i < p.units ? load_stream(xr + t + G * i) : make_uint4(0, 0, 0, 0);

  const float inv_k = 1.0f / static_cast<float>(p.units * E);
  float s = 0.0f;
#pragma unroll
  for (int i = 0; i < R; ++i) {  // units past the row are zeros: they add nothing
    float v[E];
    unpack<T>(q[i], v);
    for (int j = 0; j < E; ++j) s += v[j];
  }
  const float mean = row_sum<W>(s, part[0]) * inv_k;
  float ss = 0.0f;
#pragma unroll
  for (int i = 0; i < R; ++i) {
    float v[E];
    unpack_sel<T>(q[i], p.sel2, v);
    float a = 0.0f;
    for (int j = 0; j < E; ++j) a = fmaf(v[j] - mean, v[j] - mean, a);
    ss += t + G * i < p.units ? a : 0.0f;
  }
  const float rstd = 1.0f / sqrtf(row_sum<W>(ss, part[1]) * inv_k + p.eps);

  // Unit u of the row is unit seg*units + u of gain and bias (segments are whole units).
  const int g0 = static_cast<int>(p.S == 1 ? 0 : r % p.S) * p.units;  // K < 2^31: host check
  uint4* yr = p.y + r * p.units;
#pragma unroll
  for (int i = 0; i < R; ++i) {
    const int u = t + G * i;
    if (u >= p.units) continue;
    float v[E], y[E];
    unpack_sel<T>(q[i], p.sel3, v);
    for (int j = 0; j < E; j += 4) {
      const int k = (g0 + u) * E + j;
      const float4 g = p.gain ? __ldg(reinterpret_cast<const float4*>(p.gain + k)) : make_float4(1, 1, 1, 1);
      const float4 b = p.bias ? __ldg(reinterpret_cast<const float4*>(p.bias + k)) : make_float4(0, 0, 0, 0);
      const float gj[4] = {g.x, g.y, g.z, g.w}, bj[4] = {b.x, b.y, b.z, b.w};
      for (int l = 0; l < 4; ++l) {
        const float z = (v[j + l] - mean) * rstd * gj[l] + bj[l];
        y[j + l] = p.relu && z < 0.0f ? 0.0f : z;
      }
    }
    store_stream(yr + u, pack<T>(y));
  }
  if (t == 0 && p.mean) {
    const int64_t si = ln_stat_index(r, p.S, p.N);
    p.mean[si] = mean;
    p.rstd[si] = rstd;
  }
}

template <typename T>
void launch_rows(int warps, unsigned rows, const RowParams& p, cudaStream_t s) {
  switch (warps) {
    case 1: ln_fprop_rows_kernel<T, 1><<<rows, 32, 0, s>>>(p); break;
    case 2: ln_fprop_rows_kernel<T, 2><<<rows, 64, 0, s>>>(p); break;
    case 4: ln_fprop_rows_kernel<T, 4><<<rows, 128, 0, s>>>(p); break;
    case 8: ln_fprop_rows_kernel<T, 8><<<rows, 256, 0, s>>>(p); break;
    case 16: ln_fprop_rows_kernel<T, 16><<<rows, 512, 0, s>>>(p); break;
    default: ln_fprop_rows_kernel<T, kMaxWarps><<<rows, 1024, 0, s>>>(p); break;
  }
}

}  // namespace

bool ln_fprop_rows(const LnConfig& c, const LnFpropArgs& a) {
  if (c.feature_axis != 1 || !aligned16(a.x) || !aligned16(a.y) || (a.gain && !aligned16(a.gain)) ||
      (a.bias && !aligned16(a.bias)))
    return false;
  return dispatch_dtype(c.dtype, [&](auto tag) {
    using T = decltype(tag);
    const int64_t Ks = c.K / c.segments, rows = a.N * c.segments;
    if (Ks % kUnit<T> != 0 || Ks > int64_t{kMaxWarps} * 32 * kLaneElems || rows < 1 || rows > INT32_MAX ||
        c.K > INT32_MAX)
      return false;
    RowParams p;
    p.units = static_cast<int>(Ks / kUnit<T>);
    int warps = 1;  // the fewest warps (a power of two) whose threads hold the row
    while (warps * 32 * kLaneUnits<T> < p.units) warps *= 2;
    p.x = static_cast<const uint4*>(a.x);
    p.y = static_cast<uint4*>(a.y);
    p.gain = a.gain;
    p.bias = a.bias;
    p.mean = a.mean;
    p.rstd = a.rstd;
    p.N = a.N;
    p.S = c.segments;
    p.eps = c.epsilon;
    p.relu = c.relu;
    if constexpr (sizeof(T) == 2) p.sel2 = p.sel3 = kSel<T>;
    launch_rows<T>(warps, static_cast<unsigned>(rows), p, as_stream(a.stream));
    check_launch("layernorm_fprop kernel");
    return true;
  });
}

}  // namespace bs::ops
