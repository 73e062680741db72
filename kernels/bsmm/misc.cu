#include "kernels/bsmm/misc.hpp"

#include "core/dtype.hpp"
#include "kernels/common/cuda_check.cuh"
#include "kernels/common/mma.cuh"

namespace bs {
namespace cuda {
namespace {

constexpr int kBlock = 256;

int grid_for(long long n) {
  const long long g = (n + kBlock - 1) / kBlock;
  return static_cast<int>(g < 65536 ? (g > 0 ? g : 1) : 65536);
}

template <typename T>
__global__ void identity_kernel(LayoutTables t, T* w, float scale) {
  const long long bb = static_cast<long long>(t.B) * t.B, total = t.nnz * bb;
  for (long long i = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<long long>(gridDim.x) * blockDim.x) {
    const long long blk = i / bb;
    const int rem = static_cast<int>(i % bb), r = rem / t.B, s = rem % t.B;
    const bool diag = (t.block_rows[blk] % t.KB) == (t.row_cols[blk] % t.CB);
    w[i] = store_as<T>(diag && r == s ? scale : 0.0f);
  }
}

// One CTA per output block column k; thread (part, j) sums feature j over a strided set of the
// column's rows, then parts are combined in a fixed order (deterministic, no atomics).
template <typename T>
__global__ void l2_kernel(LayoutTables t, bool grad, const T* in, const T* w, const float* gain, T* out,
                          float* dgain, float eps) {
  __shared__ float red[3][kBlock];
  __shared__ float tot[3][128];
  const int B = t.B, parts = kBlock / B, j = threadIdx.x % B, part = threadIdx.x / B;
  for (int k = blockIdx.x; k < t.KB; k += gridDim.x) {
    const int e0 = t.col_ptr[k], rows = (t.col_ptr[k + 1] - e0) * B;
    const long long col = static_cast<long long>(k) * B + j;
    const float g = gain ? gain[col] : 1.0f;
    float sq = 0.0f, uw = 0.0f, dw = 0.0f;
    for (int idx = part; idx < rows; idx += parts) {
      const long long e = (static_cast<long long>(t.col_blocks[e0 + idx / B]) * B + idx % B) * B + j;
      const float wv = load_float(w[e]);
      sq += wv * wv;
      if (grad) {
        const float dyv = load_float(in[e]);
        uw += g * dyv * wv;
        dw += dyv * wv;
      }
    }
    red[0][threadIdx.x] = sq, red[1][threadIdx.x] = uw, red[2][threadIdx.x] = dw;
    __syncthreads();
    if (part == 0) {
      float a = 0.0f, b = 0.0f, c = 0.0f;
      for (int q = 0; q < parts; ++q) a += red[0][q * B + j], b += red[1][q * B + j], c += red[2][q * B + j];
      tot[0][j] = a, tot[1][j] = b, tot[2][j] = c;
    }
    __syncthreads();
    const float s = fmaxf(tot[0][j], eps), inv = rsqrtf(s);
    if (dgain && part == 0) dgain[col] = rows == 0 ? 0.0f : tot[2][j] * inv;  // empty column: empty sum
    const float keep = tot[0][j] >= eps ? 1.0f : 0.0f;
    for (int idx = part; idx < rows; idx += parts) {
      const long long e = (static_cast<long long>(t.col_blocks[e0 + idx / B]) * B + idx % B) * B + j;
      const float wv = load_float(w[e]);
      out[e] = store_as<T>(grad ? (g * load_float(in[e]) - wv * keep * tot[1][j] / s) * inv : wv * inv * g);
    }
    __syncthreads();
  }
}

template <typename T>
__global__ void updat_finish_kernel(LayoutTables t, const float* ws, int splits, T* dw, const float* gate, float alpha,
                                    float beta) {
  const long long bb = static_cast<long long>(t.B) * t.B, total = t.nnz * bb;
  for (long long i = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<long long>(gridDim.x) * blockDim.x) {
    const float gv = gate ? gate[i / bb] : 1.0f;
    float sum = 0.0f;
    if (gv != 0.0f)
      for (int s = 0; s < splits; ++s) sum += ws[s * total + i];
    const float v = gv == 0.0f ? 0.0f : alpha * gv * sum;
    dw[i] = store_as<T>(beta != 0.0f ? v + beta * load_float(dw[i]) : v);
  }
}

}  // namespace

void launch_identity_init(int32_t dtype, const LayoutTables& t, void* w, float scale, cudaStream_t s) {
  dispatch_dtype(dtype, [&](auto tag) {
    using T = decltype(tag);
    identity_kernel<T><<<grid_for(t.nnz * t.B * t.B), kBlock, 0, s>>>(t, static_cast<T*>(w), scale);
  });
  check_launch("bsmm identity_init kernel launch");
}

void launch_l2_normalize(int32_t dtype, const LayoutTables& t, bool grad, const void* in, const void* w,
                         const float* gain, void* out, float* dgain, float epsilon, cudaStream_t s) {
  dispatch_dtype(dtype, [&](auto tag) {
    using T = decltype(tag);
    const int grid = t.KB < 65536 ? t.KB : 65536;
    l2_kernel<T><<<grid, kBlock, 0, s>>>(t, grad, static_cast<const T*>(in), static_cast<const T*>(w), gain,
                                         static_cast<T*>(out), dgain, epsilon);
  });
  check_launch("bsmm l2_normalize kernel launch");
}

void launch_updat_finish(int32_t dtype, const LayoutTables& t, const float* ws, int splits, void* dw,
                         const float* gate, float alpha, float beta, cudaStream_t s) {
  dispatch_dtype(dtype, [&](auto tag) {
    using T = decltype(tag);
    updat_finish_kernel<T><<<grid_for(t.nnz * t.B * t.B), kBlock, 0, s>>>(t, ws, splits, static_cast<T*>(dw), gate,
                                                                           alpha, beta);
  });
  check_launch("bsmm updat finish kernel launch");
}

}  // namespace cuda
}  // namespace bs
