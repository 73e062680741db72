#pragma once
// Shared pieces of the CUDA ops backend (kernels/ew, kernels/layernorm): the backend class,
// launch checks, storage conversions with the hardware's round-to-nearest-even instructions,
// 8-element packs moved with 16-byte loads, deterministic warp/group reductions, and the
// per-channel reduction kernels (one schedule for channels-last, one for channels with a long
// contiguous inner extent). Reductions always combine partial sums in a fixed order.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include "core/dtype.hpp"
#include "core/error.hpp"
#include "kernels/common/convert.cuh"
#include "ops/ops_backend.hpp"

namespace bs::ops {

class CudaOps final : public OpsBackend {
 public:
  int32_t current_device() const override;
  void check_device(int32_t device) const override;
  void check_pointer(const void* p, size_t align, int32_t device, const char* name) const override;
  void* upload(const void* host, size_t bytes, int32_t device) const override;
  void release(void* p, int32_t device) const noexcept override;

  size_t layernorm_workspace(const LnConfig& c, int64_t N, bool bprop) const override;
  void layernorm_fprop(const LnConfig& c, const LnFpropArgs& a) const override;
  void layernorm_bprop(const LnConfig& c, const LnBpropArgs& a) const override;

  void ew_unary(const UnaryArgs& a) const override;
  void ew_binary(const BinaryArgs& a) const override;
  void ew_binary_grad(const BinaryArgs& a) const override;
  void float_cast(const CastArgs& a) const override;
  void add_n(const AddNArgs& a) const override;
  void dropout(const DropoutArgs& a) const override;
  void channel(const ChannelArgs& a) const override;
  void lstm_fprop(const LstmArgs& a) const override;
  void lstm_bprop(const LstmArgs& a) const override;
  void split4(const Split4Args& a) const override;
  void sparse_proj(const ProjArgs& a) const override;
};

// Throws BS_STATUS_EXECUTION_FAILED with the runtime's message when a launch failed.
inline void check_launch(const char* what) {
  const cudaError_t e = cudaGetLastError();
  if (e != cudaSuccess) fail(BS_STATUS_EXECUTION_FAILED, what, ": ", cudaGetErrorString(e));
}

inline cudaStream_t as_stream(bs_stream_t s) { return static_cast<cudaStream_t>(s); }

// Makes `device` current for the lifetime of the guard (plans may name a non-current device).
class DeviceGuard {
 public:
  explicit DeviceGuard(int32_t device) {
    cudaGetDevice(&prev_);
    if (prev_ != device) cudaSetDevice(device);
    changed_ = prev_ != device;
  }
  ~DeviceGuard() {
    if (changed_) cudaSetDevice(prev_);
  }

 private:
  int prev_ = 0;
  bool changed_ = false;
};

inline int sm_count() {
  int dev = 0, sms = 0;
  cudaGetDevice(&dev);
  cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev);
  return sms > 0 ? sms : 1;
}

inline bool aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

// Grid of `threads`-thread blocks covering `work` items, capped (kernels loop with a grid stride).
inline unsigned grid_for(int64_t work, int threads) {
  const int64_t blocks = (work + threads - 1) / threads;
  return static_cast<unsigned>(blocks < 1 ? 1 : (blocks > (1 << 20) ? (1 << 20) : blocks));
}

// ---- storage conversions: kernels/common/convert.cuh (hardware cvt, round-to-nearest-even) ----
using cuda::load_float;
using cuda::store_as;

template <typename T>
__device__ __forceinline__ float ld(const void* p, int64_t i) {
  return load_float(static_cast<const T*>(p)[i]);
}
template <typename T>
__device__ __forceinline__ void st(void* p, int64_t i, float v) {
  static_cast<T*>(p)[i] = store_as<T>(v);
}

// ---- 8-element packs: 32 bytes of fp32 (two 16-byte loads) or 16 bytes of fp16/bf16 ----------
template <typename T>
__device__ __forceinline__ void load8(const void* base, int64_t i, float (&v)[8]) {
  const T* p = static_cast<const T*>(base) + i;
  if constexpr (sizeof(T) == 4) {
    const float4 a = reinterpret_cast<const float4*>(p)[0], b = reinterpret_cast<const float4*>(p)[1];
    v[0] = a.x, v[1] = a.y, v[2] = a.z, v[3] = a.w, v[4] = b.x, v[5] = b.y, v[6] = b.z, v[7] = b.w;
  } else {
    const uint4 q = *reinterpret_cast<const uint4*>(p);
    const uint32_t w[4] = {q.x, q.y, q.z, q.w};
    for (int j = 0; j < 4; ++j) {
      v[2 * j] = load_float(T{static_cast<uint16_t>(w[j] & 0xffffu)});
      v[2 * j + 1] = load_float(T{static_cast<uint16_t>(w[j] >> 16)});
    }
  }
}

template <typename T>
__device__ __forceinline__ void store8(void* base, int64_t i, const float (&v)[8]) {
  T* p = static_cast<T*>(base) + i;
  if constexpr (sizeof(T) == 4) {
    reinterpret_cast<float4*>(p)[0] = make_float4(v[0], v[1], v[2], v[3]);
    reinterpret_cast<float4*>(p)[1] = make_float4(v[4], v[5], v[6], v[7]);
  } else {
    uint32_t w[4];
    for (int j = 0; j < 4; ++j)
      w[j] = static_cast<uint32_t>(store_as<T>(v[2 * j]).bits) | (static_cast<uint32_t>(store_as<T>(v[2 * j + 1]).bits) << 16);
    *reinterpret_cast<uint4*>(p) = make_uint4(w[0], w[1], w[2], w[3]);
  }
}

// Loads elements [i, i+8) clipped to `end` (missing ones read as 0), vectorized when allowed.
template <typename T>
__device__ __forceinline__ void load8_clip(const void* base, int64_t i, int64_t end, bool vec, float (&v)[8]) {
  if (vec && i + 8 <= end) {
    load8<T>(base, i, v);
  } else {
    for (int j = 0; j < 8; ++j) v[j] = i + j < end ? ld<T>(base, i + j) : 0.0f;
  }
}

// The same in two phases: raw8_clip only loads the stored bits, unpack8 converts them. A kernel
// with several loads issues every raw8_clip first and unpacks after: a conversion placed right after
// a load's vector/scalar branch join waits for that load (~1 µs of DRAM latency) before the next
// load's branch is reached, so 16-bit loads (which need a conversion, unlike fp32) were serialized.
template <typename T>
struct Raw8 {
  uint32_t w[sizeof(T) * 2];  // 8 elements as stored
};

template <typename T>
__device__ __forceinline__ void raw8_clip(const void* base, int64_t i, int64_t end, bool vec, Raw8<T>& r) {
  constexpr int kW = sizeof(T) * 2;
  const auto* p = static_cast<const unsigned char*>(base) + i * static_cast<int64_t>(sizeof(T));
  if (vec && i + 8 <= end) {
    for (int q = 0; q < kW / 4; ++q) {
      const uint4 u = reinterpret_cast<const uint4*>(p)[q];
      r.w[4 * q] = u.x, r.w[4 * q + 1] = u.y, r.w[4 * q + 2] = u.z, r.w[4 * q + 3] = u.w;
    }
  } else {
    for (int j = 0; j < kW; ++j) r.w[j] = 0;
    for (int j = 0; j < 8; ++j) {
      if (i + j >= end) break;
      if constexpr (sizeof(T) == 4)
        r.w[j] = reinterpret_cast<const uint32_t*>(p)[j];
      else
        r.w[j / 2] |= static_cast<uint32_t>(reinterpret_cast<const uint16_t*>(p)[j]) << (16 * (j % 2));
    }
  }
}

template <typename T>
__device__ __forceinline__ void unpack8(const Raw8<T>& r, float (&v)[8]) {
  for (int j = 0; j < 8; ++j) {
    if constexpr (sizeof(T) == 4)
      v[j] = __uint_as_float(r.w[j]);
    else
      v[j] = load_float(T{static_cast<uint16_t>(r.w[j / 2] >> (16 * (j % 2)))});
  }
}

template <typename T>
__device__ __forceinline__ void store8_clip(void* base, int64_t i, int64_t end, bool vec, const float (&v)[8]) {
  if (vec && i + 8 <= end) {
    store8<T>(base, i, v);
  } else {
    for (int j = 0; j < 8; ++j)
      if (i + j < end) st<T>(base, i + j, v[j]);
  }
}

// 8 fp32 values [k, k+8) of a 16-byte aligned fp32 vector (gain, bias, coefficients) through the
// read-only cache, or `dflt` when it is NULL.
template <typename Ix>
__device__ __forceinline__ void vec8(const float* p, Ix k, float dflt, float (&v)[8]) {
  if (!p) {
    for (int j = 0; j < 8; ++j) v[j] = dflt;
    return;
  }
  const float4 a = __ldg(reinterpret_cast<const float4*>(p + k)), b = __ldg(reinterpret_cast<const float4*>(p + k) + 1);
  v[0] = a.x, v[1] = a.y, v[2] = a.z, v[3] = a.w, v[4] = b.x, v[5] = b.y, v[6] = b.z, v[7] = b.w;
}

// ---- deterministic reductions ---------------------------------------------------------------
template <int NV>
__device__ __forceinline__ void warp_sum(float (&v)[NV]) {
  for (int o = 16; o > 0; o >>= 1)
    for (int j = 0; j < NV; ++j) v[j] += __shfl_xor_sync(0xffffffffu, v[j], o);
}

// Sums v over each group of `group` consecutive threads (a power of two >= 32 dividing
// blockDim.x); every thread of the group receives the total. Called by all threads of the block.
// smem: blockDim.x/32 * NV floats.
template <int NV>
__device__ __forceinline__ void group_sum(float (&v)[NV], float* smem, int group) {
  warp_sum(v);
  if (group == 32) return;
  const int warp = threadIdx.x / 32;
  __syncthreads();
  if (threadIdx.x % 32 == 0)
    for (int j = 0; j < NV; ++j) smem[warp * NV + j] = v[j];
  __syncthreads();
  const int first = (threadIdx.x / group) * (group / 32);
  for (int j = 0; j < NV; ++j) {
    float s = 0.0f;
    for (int w = 0; w < group / 32; ++w) s += smem[(first + w) * NV + j];
    v[j] = s;
  }
}

// ---- per-channel reductions over (O, C, I) tensors -------------------------------------------
// A functor F provides: struct State; State init(int64_t c); void term(State&, int64_t e, int64_t o,
// int64_t i, float& r1, float& r2) (adds element e = (o·C + c)·I + i); void finish(State&, int64_t
// c, float r1, float r2, bool write) (every thread of the channel updates its state, one writes); bool apply_pass() and void apply(const State&, int64_t e, int64_t o,
// int64_t i, float r1, float r2) for a second sweep that needs the channel's sums.

constexpr int kColTx = 32, kColTy = 32;  // channels-last schedule: 32 channels x 32 row lanes
constexpr int kCtaThreads = 256;         // channel-per-block schedule

template <typename F>
__global__ void __launch_bounds__(kColTx* kColTy) channel_cols_kernel(F f, int64_t O, int64_t C) {
  __shared__ float sm[2][kColTy][kColTx + 1];
  const int tx = threadIdx.x % kColTx, ty = threadIdx.x / kColTx;
  const int64_t c = static_cast<int64_t>(blockIdx.x) * kColTx + tx;
  const bool valid = c < C;
  typename F::State s = f.init(valid ? c : 0);
  float r1 = 0.0f, r2 = 0.0f;
  if (valid)
    for (int64_t o = ty; o < O; o += kColTy) f.term(s, o * C + c, o, 0, r1, r2);
  sm[0][ty][tx] = r1;
  sm[1][ty][tx] = r2;
  __syncthreads();
  r1 = 0.0f, r2 = 0.0f;
  for (int j = 0; j < kColTy; ++j) r1 += sm[0][j][tx], r2 += sm[1][j][tx];
  if (!valid) return;
  f.finish(s, c, r1, r2, ty == 0);
  if (f.apply_pass())
    for (int64_t o = ty; o < O; o += kColTy) f.apply(s, o * C + c, o, 0, r1, r2);
}

template <typename F>
__global__ void __launch_bounds__(kCtaThreads) channel_cta_kernel(F f, int64_t O, int64_t C, int64_t I) {
  __shared__ float sm[kCtaThreads / 32 * 2];
  const int64_t c = blockIdx.x;
  typename F::State s = f.init(c);
  float r[2] = {0.0f, 0.0f};
  for (int64_t o = 0; o < O; ++o)
    for (int64_t i = threadIdx.x; i < I; i += kCtaThreads) f.term(s, (o * C + c) * I + i, o, i, r[0], r[1]);
  group_sum<2>(r, sm, kCtaThreads);
  f.finish(s, c, r[0], r[1], threadIdx.x == 0);
  if (f.apply_pass())
    for (int64_t o = 0; o < O; ++o)
      for (int64_t i = threadIdx.x; i < I; i += kCtaThreads) f.apply(s, (o * C + c) * I + i, o, i, r[0], r[1]);
}

template <typename F>
void launch_channel_reduce(const F& f, int64_t O, int64_t C, int64_t I, bs_stream_t stream, const char* what) {
  if (C == 0) return;
  if (I == 1)
    channel_cols_kernel<F><<<static_cast<unsigned>((C + kColTx - 1) / kColTx), kColTx * kColTy, 0, as_stream(stream)>>>(
        f, O, C);
  else
    channel_cta_kernel<F><<<static_cast<unsigned>(C), kCtaThreads, 0, as_stream(stream)>>>(f, O, C, I);
  check_launch(what);
}

}  // namespace bs::ops

namespace bs::ops {

// ---- element-wise map over 8-element packs ---------------------------------------------------
// op(i, in[NIN][8], out[NOUT][8]) per pack of elements [i, i+8) (a whole pack, so an op can pick its
// code once per pack instead of once per element); inputs of type TI, outputs of type TO (NULL
// outputs are skipped). Vector loads when `vec` (every pointer 16-byte aligned); the tail goes scalar.
struct MapIO {
  const void* in[3] = {};
  void* out[2] = {};
};

constexpr int kMapThreads = 256;

template <typename TI, typename TO, int NIN, int NOUT, typename Op>
__global__ void __launch_bounds__(kMapThreads) map_kernel(int64_t n, MapIO io, Op op, bool vec) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * kMapThreads;
  for (int64_t p = static_cast<int64_t>(blockIdx.x) * kMapThreads + threadIdx.x; p * 8 < n; p += stride) {
    const int64_t i = p * 8;
    float a[NIN][8], r[NOUT][8];
    Raw8<TI> raw[NIN];
    for (int k = 0; k < NIN; ++k) raw8_clip<TI>(io.in[k], i, n, vec, raw[k]);
    for (int k = 0; k < NIN; ++k) unpack8(raw[k], a[k]);
    op(i, a, r);
    for (int k = 0; k < NOUT; ++k)
      if (io.out[k]) store8_clip<TO>(io.out[k], i, n, vec, r[k]);
  }
}

template <typename TI, typename TO, int NIN, int NOUT, typename Op>
void launch_map(int64_t n, const MapIO& io, const Op& op, bs_stream_t stream, const char* what) {
  bool vec = true;
  for (int k = 0; k < NIN; ++k) vec = vec && aligned16(io.in[k]);
  for (int k = 0; k < NOUT; ++k) vec = vec && aligned16(io.out[k]);
  map_kernel<TI, TO, NIN, NOUT, Op><<<grid_for((n + 7) / 8, kMapThreads), kMapThreads, 0, as_stream(stream)>>>(n, io,
                                                                                                            op, vec);
  check_launch(what);
}

}  // namespace bs::ops
