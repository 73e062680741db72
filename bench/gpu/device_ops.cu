#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cmath>
#include <limits>
#include <type_traits>

#include "device_ops.cuh"

namespace bsbench {
namespace {

constexpr int kThreads = 256;

unsigned grid_for(int64_t n) {
  const int64_t blocks = (n + kThreads - 1) / kThreads;
  return static_cast<unsigned>(blocks < 65535 * 16 ? (blocks > 0 ? blocks : 1) : 65535 * 16);
}

__device__ inline float load(const __nv_bfloat16* p, int64_t i) { return __bfloat162float(p[i]); }
__device__ inline float load(const __half* p, int64_t i) { return __half2float(p[i]); }
__device__ inline float load(const float* p, int64_t i) { return p[i]; }
__device__ inline void store(__nv_bfloat16* p, int64_t i, float v) { p[i] = __float2bfloat16_rn(v); }
__device__ inline void store(__half* p, int64_t i, float v) { p[i] = __float2half_rn(v); }
__device__ inline void store(float* p, int64_t i, float v) { p[i] = v; }

// Calls f with a null pointer of the storage type of t (the type is what matters).
template <typename F>
void with_type(DType t, F&& f) {
  switch (t) {
    case DType::BF16: f(static_cast<__nv_bfloat16*>(nullptr)); break;
    case DType::F16: f(static_cast<__half*>(nullptr)); break;
    default: f(static_cast<float*>(nullptr)); break;
  }
}

// splitmix64: a good 64-bit mix of (seed, index).
__device__ inline uint64_t mix(uint64_t z) {
  z += 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

template <typename T>
__global__ void fill_kernel(T* dst, int64_t n, uint64_t seed) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const uint64_t r = mix(seed ^ mix(static_cast<uint64_t>(i)));
    store(dst, i, static_cast<float>(r >> 40) * (2.0f / 16777216.0f) - 1.0f);  // 24 random bits
  }
}

template <typename T>
__global__ void to_float_kernel(float* dst, const T* src, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    dst[i] = load(src, i);
}

// Position in a dense row-major (C, K) matrix of element e of the (nnz, b, b) block tensor.
__device__ inline int64_t dense_index(int64_t e, int b, int64_t K, const int32_t* rows, const int32_t* cols) {
  const int64_t bb = int64_t(b) * b;
  const int64_t blk = e / bb, r = (e % bb) / b, s = e % b;
  return (int64_t(rows[blk]) * b + r) * K + int64_t(cols[blk]) * b + s;
}

template <typename T>
__global__ void scatter_kernel(float* dense, int64_t K, const T* w, const int32_t* rows, const int32_t* cols,
                               int64_t n, int b) {
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < n; e += int64_t(gridDim.x) * blockDim.x)
    dense[dense_index(e, b, K, rows, cols)] = load(w, e);
}

template <typename T>
__global__ void gather_kernel(T* dst, const T* src, const int32_t* perm, int64_t n, int b, bool transpose) {
  const int64_t bb = int64_t(b) * b;
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < n; e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t j = e / bb, r = (e % bb) / b, s = e % b;
    const int64_t inner = transpose ? s * b + r : r * b + s;
    dst[e] = src[int64_t(perm[j]) * bb + inner];
  }
}

template <typename T>
__global__ void ell_kernel(T* dst, const T* w, const int32_t* slot_block, int64_t ell_w, int b, int64_t n,
                           bool transpose) {
  const int64_t cols = ell_w * b, bb = int64_t(b) * b;
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < n; e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t row = e / cols, col = e % cols;
    const int64_t blk = slot_block[(row / b) * ell_w + col / b];
    const int64_t r = row % b, s = col % b;
    if (blk < 0) {
      store(dst, e, 0.0f);
    } else {
      dst[e] = w[blk * bb + (transpose ? s * b + r : r * b + s)];
    }
  }
}

// acc[0] += Σ (out − ref)², acc[1] += Σ ref², acc[2] += count of non-finite outputs.
template <typename T, bool kBlocks>
__global__ void error_kernel(const T* out, const float* ref, int64_t n, int64_t K, const int32_t* rows,
                             const int32_t* cols, int b, double* acc) {
  double diff = 0.0, norm = 0.0, bad = 0.0;
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < n; e += int64_t(gridDim.x) * blockDim.x) {
    const float o = load(out, e);
    const float r = ref[kBlocks ? dense_index(e, b, K, rows, cols) : e];
    if (!isfinite(o)) bad += 1.0;
    const double d = double(o) - double(r);
    diff += d * d;
    norm += double(r) * r;
  }
  __shared__ double s[3][kThreads];
  s[0][threadIdx.x] = diff; s[1][threadIdx.x] = norm; s[2][threadIdx.x] = bad;
  __syncthreads();
  for (int w = kThreads / 2; w > 0; w /= 2) {
    if (threadIdx.x < w)
      for (int q = 0; q < 3; ++q) s[q][threadIdx.x] += s[q][threadIdx.x + w];
    __syncthreads();
  }
  if (threadIdx.x == 0)
    for (int q = 0; q < 3; ++q) atomicAdd(&acc[q], s[q][0]);
}

template <bool kBlocks>
double error_of(const void* out, DType t, const float* ref, int64_t n, int64_t K, const int32_t* rows,
                const int32_t* cols, int b, cudaStream_t stream) {
  DeviceBuffer acc(3 * sizeof(double));
  BENCH_CUDA(cudaMemsetAsync(acc.get(), 0, acc.bytes(), stream));
  with_type(t, [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    error_kernel<T, kBlocks><<<grid_for(n), kThreads, 0, stream>>>(static_cast<const T*>(out), ref, n, K, rows, cols,
                                                                 b, acc.as<double>());
  });
  BENCH_CUDA(cudaGetLastError());
  double h[3];
  BENCH_CUDA(cudaMemcpyAsync(h, acc.get(), sizeof(h), cudaMemcpyDeviceToHost, stream));
  BENCH_CUDA(cudaStreamSynchronize(stream));
  if (h[2] > 0 || !std::isfinite(h[0])) return std::numeric_limits<double>::infinity();
  return h[1] > 0 ? std::sqrt(h[0] / h[1]) : std::sqrt(h[0]);
}

}  // namespace

void fill_uniform(void* dst, int64_t n, DType t, uint64_t seed, cudaStream_t stream) {
  with_type(t, [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    fill_kernel<<<grid_for(n), kThreads, 0, stream>>>(static_cast<T*>(dst), n, seed);
  });
  BENCH_CUDA(cudaGetLastError());
}

void to_float(float* dst, const void* src, int64_t n, DType t, cudaStream_t stream) {
  with_type(t, [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    to_float_kernel<<<grid_for(n), kThreads, 0, stream>>>(dst, static_cast<const T*>(src), n);
  });
  BENCH_CUDA(cudaGetLastError());
}

void scatter_blocks(float* dense, int64_t K, const void* w, DType t, const int32_t* block_rows,
                    const int32_t* block_cols, int64_t nnz, int b, cudaStream_t stream) {
  const int64_t n = nnz * b * b;
  with_type(t, [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    scatter_kernel<<<grid_for(n), kThreads, 0, stream>>>(dense, K, static_cast<const T*>(w), block_rows, block_cols,
                                                         n, b);
  });
  BENCH_CUDA(cudaGetLastError());
}

void gather_blocks(void* dst, const void* src, DType t, const int32_t* perm, int64_t nblocks, int b, bool transpose,
                   cudaStream_t stream) {
  const int64_t n = nblocks * b * b;
  with_type(t, [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    gather_kernel<<<grid_for(n), kThreads, 0, stream>>>(static_cast<T*>(dst), static_cast<const T*>(src), perm, n, b,
                                                        transpose);
  });
  BENCH_CUDA(cudaGetLastError());
}

void ell_pack(void* dst, const void* w, DType t, const int32_t* slot_block, int64_t rows_b, int64_t ell_w, int b,
              bool transpose, cudaStream_t stream) {
  const int64_t n = rows_b * b * ell_w * b;
  with_type(t, [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    ell_kernel<<<grid_for(n), kThreads, 0, stream>>>(static_cast<T*>(dst), static_cast<const T*>(w), slot_block,
                                                     ell_w, b, n, transpose);
  });
  BENCH_CUDA(cudaGetLastError());
}

double rel_error(const void* out, DType t, const float* ref, int64_t n, cudaStream_t stream) {
  return error_of<false>(out, t, ref, n, 0, nullptr, nullptr, 1, stream);
}

double rel_error_blocks(const void* dw, DType t, const float* ref_dense, int64_t K, const int32_t* block_rows,
                        const int32_t* block_cols, int64_t nnz, int b, cudaStream_t stream) {
  return error_of<true>(dw, t, ref_dense, nnz * b * b, K, block_rows, block_cols, b, stream);
}

}  // namespace bsbench
