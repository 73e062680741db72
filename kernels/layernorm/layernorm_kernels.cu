// CUDA layer norm: the general kernels. Features last with 16-byte aligned rows takes a fast path
// first: the forward a CTA per row held in registers (layernorm_fprop_rows.cu) up to 32768
// elements, else a persistent CTA per row (layernorm_pipelined.cu, also the backward) where a row
// fits shared memory.
//
// Features last: every (sample, segment) row is normalised by a group of `tpr` threads that keep
// the row in registers (up to kMaxPacks 8-element packs per thread, 16-byte loads): one read of x
// and one write of y, statistics from two reductions over the registers (exact two-pass variance).
// Rows wider than the registers hold (Ks > 16384) take a block-per-row kernel that re-reads x.
// Features first: a block owns 32 columns of a segment and sweeps its rows twice (shifted sums,
// then the output). dgain/dbias: a separate deterministic per-feature reduction (fixed order, no
// atomics, no workspace) that re-reads x and dy.
#include "kernels/ew/ops_cuda.cuh"
#include "kernels/layernorm/layernorm_pipelined.cuh"
#include "kernels/layernorm/layernorm_fprop_rows.cuh"
#include "ops/ew_math.hpp"

namespace bs::ops {
namespace {

constexpr int kMaxPacks = 4;   // packs of 8 elements per thread held in registers
constexpr int kMaxTpr = 512;   // threads per row
constexpr int kGenericThreads = 256;

struct LnParams {
  const void* x = nullptr;
  const void* dy = nullptr;
  void* out = nullptr;  // y or dx
  const float* gain = nullptr;
  const float* bias = nullptr;
  float* mean = nullptr;  // fprop: written (may be NULL); bprop: read
  float* rstd = nullptr;
  int64_t rows = 0, Ks = 0, S = 1, N = 0;
  int tpr = 32, npk = 1;
  float eps = 0.0f;
  int relu = 0;
  bool vec = false;
};

__device__ __forceinline__ float gain_at(const LnParams& p, int64_t k) { return p.gain ? p.gain[k] : 1.0f; }
__device__ __forceinline__ float bias_at(const LnParams& p, int64_t k) { return p.bias ? p.bias[k] : 0.0f; }
__device__ __forceinline__ float relu_grad(const LnParams& p, float dy, float xhat, int64_t k) {
  return p.relu && !(xhat * gain_at(p, k) + bias_at(p, k) > 0.0f) ? 0.0f : dy;
}

template <typename T, bool kBprop>
__global__ void __launch_bounds__(kMaxTpr) ln_rows_kernel(LnParams p) {
  __shared__ float sm[kMaxTpr / 32 * 2];
  const int rpc = blockDim.x / p.tpr, t = threadIdx.x % p.tpr;
  const int64_t r = static_cast<int64_t>(blockIdx.x) * rpc + threadIdx.x / p.tpr;
  const bool valid = r < p.rows;
  const int64_t base = (valid ? r : 0) * p.Ks, end = base + p.Ks, goff = (r % p.S) * p.Ks;
  const float inv_k = 1.0f / static_cast<float>(p.Ks);
  float v[kMaxPacks][8], d[kMaxPacks][8];
#pragma unroll
  for (int q = 0; q < kMaxPacks; ++q) {
    const int64_t k0 = (static_cast<int64_t>(q) * p.tpr + t) * 8;
    const bool here = valid && q < p.npk && k0 < p.Ks;
    for (int j = 0; j < 8; ++j) v[q][j] = d[q][j] = 0.0f;
    if (here) load8_clip<T>(p.x, base + k0, end, p.vec, v[q]);
    if (kBprop && here) load8_clip<T>(p.dy, base + k0, end, p.vec, d[q]);
  }
  if constexpr (!kBprop) {
    float s[1] = {0.0f};
#pragma unroll
    for (int q = 0; q < kMaxPacks; ++q)
      for (int j = 0; j < 8; ++j) s[0] += v[q][j];
    group_sum<1>(s, sm, p.tpr);
    const float mean = s[0] * inv_k;
    float ss[1] = {0.0f};
#pragma unroll
    for (int q = 0; q < kMaxPacks; ++q) {
      const int64_t k0 = (static_cast<int64_t>(q) * p.tpr + t) * 8;
      for (int j = 0; j < 8; ++j) {
        const float dv = v[q][j] - mean;
        ss[0] += k0 + j < p.Ks && q < p.npk ? dv * dv : 0.0f;
      }
    }
    group_sum<1>(ss, sm, p.tpr);
    const float rstd = 1.0f / sqrtf(ss[0] * inv_k + p.eps);
#pragma unroll
    for (int q = 0; q < kMaxPacks; ++q) {
      const int64_t k0 = (static_cast<int64_t>(q) * p.tpr + t) * 8;
      if (!(valid && q < p.npk && k0 < p.Ks)) continue;
      float y[8];
      for (int j = 0; j < 8; ++j) {
        const int64_t k = goff + k0 + j;
        const float z = (v[q][j] - mean) * rstd * gain_at(p, k) + bias_at(p, k);
        y[j] = p.relu && z < 0.0f ? 0.0f : z;
      }
      store8_clip<T>(p.out, base + k0, end, p.vec, y);
    }
    if (valid && t == 0 && p.mean) {
      p.mean[ln_stat_index(r, p.S, p.N)] = mean;
      p.rstd[ln_stat_index(r, p.S, p.N)] = rstd;
    }
  } else {
    const int64_t si = valid ? ln_stat_index(r, p.S, p.N) : 0;
    const float mean = valid ? p.mean[si] : 0.0f, rstd = valid ? p.rstd[si] : 0.0f;
    float s[2] = {0.0f, 0.0f};
#pragma unroll
    for (int q = 0; q < kMaxPacks; ++q) {
      const int64_t k0 = (static_cast<int64_t>(q) * p.tpr + t) * 8;
      for (int j = 0; j < 8; ++j) {
        const bool in = valid && q < p.npk && k0 + j < p.Ks;
        const int64_t k = goff + k0 + j;
        const float xhat = (v[q][j] - mean) * rstd;
        const float u = in ? relu_grad(p, d[q][j], xhat, k) * gain_at(p, k) : 0.0f;
        v[q][j] = xhat;
        d[q][j] = u;
        s[0] += u;
        s[1] += u * xhat;
      }
    }
    group_sum<2>(s, sm, p.tpr);
    const float mu = s[0] * inv_k, mux = s[1] * inv_k;
#pragma unroll
    for (int q = 0; q < kMaxPacks; ++q) {
      const int64_t k0 = (static_cast<int64_t>(q) * p.tpr + t) * 8;
      if (!(valid && q < p.npk && k0 < p.Ks)) continue;
      float dx[8];
      for (int j = 0; j < 8; ++j) dx[j] = rstd * (d[q][j] - mu - v[q][j] * mux);
      store8_clip<T>(p.out, base + k0, end, p.vec, dx);
    }
  }
}

// Rows too wide for registers: one block per row, x (and dy) re-read from memory / L2.
template <typename T, bool kBprop>
__global__ void __launch_bounds__(kGenericThreads) ln_rows_generic_kernel(LnParams p) {
  __shared__ float sm[kGenericThreads / 32 * 2];
  const int64_t r = blockIdx.x, base = r * p.Ks, goff = (r % p.S) * p.Ks, si = ln_stat_index(r, p.S, p.N);
  const float inv_k = 1.0f / static_cast<float>(p.Ks);
  if constexpr (!kBprop) {
    float s[1] = {0.0f};
    for (int64_t k = threadIdx.x; k < p.Ks; k += kGenericThreads) s[0] += ld<T>(p.x, base + k);
    group_sum<1>(s, sm, kGenericThreads);
    const float mean = s[0] * inv_k;
    float ss[1] = {0.0f};
    for (int64_t k = threadIdx.x; k < p.Ks; k += kGenericThreads) {
      const float dv = ld<T>(p.x, base + k) - mean;
      ss[0] += dv * dv;
    }
    group_sum<1>(ss, sm, kGenericThreads);
    const float rstd = 1.0f / sqrtf(ss[0] * inv_k + p.eps);
    for (int64_t k = threadIdx.x; k < p.Ks; k += kGenericThreads) {
      const float z = (ld<T>(p.x, base + k) - mean) * rstd * gain_at(p, goff + k) + bias_at(p, goff + k);
      st<T>(p.out, base + k, p.relu && z < 0.0f ? 0.0f : z);
    }
    if (threadIdx.x == 0 && p.mean) {
      p.mean[si] = mean;
      p.rstd[si] = rstd;
    }
  } else {
    const float mean = p.mean[si], rstd = p.rstd[si];
    float s[2] = {0.0f, 0.0f};
    for (int64_t k = threadIdx.x; k < p.Ks; k += kGenericThreads) {
      const float xhat = (ld<T>(p.x, base + k) - mean) * rstd;
      const float u = relu_grad(p, ld<T>(p.dy, base + k), xhat, goff + k) * gain_at(p, goff + k);
      s[0] += u;
      s[1] += u * xhat;
    }
    group_sum<2>(s, sm, kGenericThreads);
    for (int64_t k = threadIdx.x; k < p.Ks; k += kGenericThreads) {
      const float xhat = (ld<T>(p.x, base + k) - mean) * rstd;
      const float u = relu_grad(p, ld<T>(p.dy, base + k), xhat, goff + k) * gain_at(p, goff + k);
      st<T>(p.out, base + k, rstd * (u - s[0] * inv_k - xhat * s[1] * inv_k));
    }
  }
}

// Features first: block (32 columns x 8 row lanes) of segment blockIdx.y.
constexpr int kColsX = 32, kColsY = 8;

template <typename T, bool kBprop>
__global__ void __launch_bounds__(kColsX* kColsY) ln_cols_kernel(LnParams p) {
  __shared__ float sm[2][kColsY][kColsX + 1];
  const int tx = threadIdx.x % kColsX, ty = threadIdx.x / kColsX;
  const int64_t n = static_cast<int64_t>(blockIdx.x) * kColsX + tx, s = blockIdx.y;
  const bool valid = n < p.N;
  const int64_t base = s * p.Ks * p.N, si = s * p.N + n;
  const float inv_k = 1.0f / static_cast<float>(p.Ks);
  float mean = 0.0f, rstd = 0.0f, shift = 0.0f;
  if (kBprop && valid) mean = p.mean[si], rstd = p.rstd[si];
  if (!kBprop && valid) shift = ld<T>(p.x, base + n);
  float r1 = 0.0f, r2 = 0.0f;
  if (valid)
    for (int64_t k = ty; k < p.Ks; k += kColsY) {
      const float xv = ld<T>(p.x, base + k * p.N + n);
      if constexpr (kBprop) {
        const float xhat = (xv - mean) * rstd;
        const float u = relu_grad(p, ld<T>(p.dy, base + k * p.N + n), xhat, s * p.Ks + k) * gain_at(p, s * p.Ks + k);
        r1 += u;
        r2 += u * xhat;
      } else {
        r1 += xv - shift;
        r2 += (xv - shift) * (xv - shift);
      }
    }
  sm[0][ty][tx] = r1;
  sm[1][ty][tx] = r2;
  __syncthreads();
  r1 = 0.0f, r2 = 0.0f;
  for (int j = 0; j < kColsY; ++j) r1 += sm[0][j][tx], r2 += sm[1][j][tx];
  if (!valid) return;
  if constexpr (!kBprop) {
    const float m = r1 * inv_k;
    mean = shift + m;
    rstd = 1.0f / sqrtf(fmaxf(r2 * inv_k - m * m, 0.0f) + p.eps);
    if (ty == 0 && p.mean) {
      p.mean[si] = mean;
      p.rstd[si] = rstd;
    }
  }
  for (int64_t k = ty; k < p.Ks; k += kColsY) {
    const int64_t e = base + k * p.N + n, kk = s * p.Ks + k;
    const float xhat = (ld<T>(p.x, e) - mean) * rstd;
    if constexpr (kBprop) {
      const float u = relu_grad(p, ld<T>(p.dy, e), xhat, kk) * gain_at(p, kk);
      st<T>(p.out, e, rstd * (u - r1 * inv_k - xhat * r2 * inv_k));
    } else {
      const float z = xhat * gain_at(p, kk) + bias_at(p, kk);
      st<T>(p.out, e, p.relu && z < 0.0f ? 0.0f : z);
    }
  }
}

// dgain[k] = Σ_n g·xhat, dbias[k] = Σ_n g, one feature k per channel of the reduction.
template <typename T>
struct LnParamGrad {
  LnParams p;
  float* dgain;
  float* dbias;
  int axis;
  struct State {
    int64_t seg;
  };
  __device__ State init(int64_t c) const { return {c / p.Ks}; }
  __device__ void term(State& s, int64_t e, int64_t o, int64_t i, float& r1, float& r2) const {
    const int64_t c = axis == 1 ? e - o * p.Ks * p.S : e / p.N;
    const int64_t si = s.seg * p.N + (axis == 1 ? o : i);
    const float xhat = (ld<T>(p.x, e) - p.mean[si]) * p.rstd[si];
    const float g = relu_grad(p, ld<T>(p.dy, e), xhat, c);
    r1 += g * xhat;
    r2 += g;
  }
  __device__ void finish(State&, int64_t c, float r1, float r2, bool write) const {
    if (!write) return;
    if (dgain) dgain[c] = r1;
    if (dbias) dbias[c] = r2;
  }
  __device__ bool apply_pass() const { return false; }
  __device__ void apply(const State&, int64_t, int64_t, int64_t, float, float) const {}
};

int64_t pow2_at_least(int64_t v) {
  int64_t p = 32;
  while (p < v) p *= 2;
  return p;
}

template <typename T, bool kBprop>
void launch(const LnConfig& c, LnParams p, bs_stream_t stream) {
  const cudaStream_t s = as_stream(stream);
  if (c.feature_axis == 0) {
    const dim3 grid(static_cast<unsigned>((p.N + kColsX - 1) / kColsX), static_cast<unsigned>(p.S));
    ln_cols_kernel<T, kBprop><<<grid, kColsX * kColsY, 0, s>>>(p);
    return;
  }
  const int64_t packs = (p.Ks + 7) / 8;
  const int64_t tpr = pow2_at_least((packs + kMaxPacks - 1) / kMaxPacks);
  if (tpr > kMaxTpr) {
    ln_rows_generic_kernel<T, kBprop><<<static_cast<unsigned>(p.rows), kGenericThreads, 0, s>>>(p);
    return;
  }
  p.tpr = static_cast<int>(tpr);
  p.npk = static_cast<int>((packs + tpr - 1) / tpr);
  const int block = static_cast<int>(tpr < 256 ? 256 : tpr);
  const int64_t rpc = block / tpr;
  ln_rows_kernel<T, kBprop><<<static_cast<unsigned>((p.rows + rpc - 1) / rpc), block, 0, s>>>(p);
}

LnParams make_params(const LnConfig& c, int64_t N) {
  LnParams p;
  p.S = c.segments;
  p.Ks = c.K / c.segments;
  p.N = N;
  p.rows = N * c.segments;
  p.eps = c.epsilon;
  p.relu = c.relu;
  return p;
}

}  // namespace

size_t CudaOps::layernorm_workspace(const LnConfig& c, int64_t N, bool bprop) const {
  return ln_pipelined_workspace(c, N, bprop);
}

void CudaOps::layernorm_fprop(const LnConfig& c, const LnFpropArgs& a) const {
  DeviceGuard guard(c.device);
  if (ln_fprop_rows(c, a) || ln_pipelined_fprop(c, a)) return;
  LnParams p = make_params(c, a.N);
  p.x = a.x;
  p.out = a.y;
  p.gain = a.gain;
  p.bias = a.bias;
  p.mean = a.mean;
  p.rstd = a.rstd;
  p.vec = p.Ks % 8 == 0 && aligned16(a.x) && aligned16(a.y);
  dispatch_dtype(c.dtype, [&](auto tag) { launch<decltype(tag), false>(c, p, a.stream); });
  check_launch("layernorm_fprop kernel");
}

void CudaOps::layernorm_bprop(const LnConfig& c, const LnBpropArgs& a) const {
  DeviceGuard guard(c.device);
  LnParams p = make_params(c, a.N);
  p.x = a.x;
  p.dy = a.dy;
  p.out = a.dx;
  p.gain = a.gain;
  p.bias = a.bias;
  p.mean = const_cast<float*>(a.mean);
  p.rstd = const_cast<float*>(a.rstd);
  p.vec = p.Ks % 8 == 0 && aligned16(a.x) && aligned16(a.dy) && aligned16(a.dx);
  if (ln_pipelined_bprop(c, a)) return;
  dispatch_dtype(c.dtype, [&](auto tag) {
    using T = decltype(tag);
    if (a.N > 0) {
      launch<T, true>(c, p, a.stream);
      check_launch("layernorm_bprop kernel");
    }
    if (a.dgain || a.dbias) {
      const LnParamGrad<T> f{p, a.dgain, a.dbias, c.feature_axis};
      if (c.feature_axis == 1)
        launch_channel_reduce(f, a.N, c.K, 1, a.stream, "layernorm dgain/dbias kernel");
      else
        launch_channel_reduce(f, 1, c.K, a.N, a.stream, "layernorm dgain/dbias kernel");
    }
  });
}

}  // namespace bs::ops
