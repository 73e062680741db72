// Second kernel of the small-N path (small.hpp): sums each output block's chunk partials in chunk
// order and writes out = alpha·sum + beta·out in the storage type, in either feature axis.
#include "core/dtype.hpp"
#include "kernels/bsmm/small.hpp"
#include "kernels/common/cuda_check.cuh"
#include "kernels/common/mma.cuh"

namespace bs {
namespace cuda {
namespace {

constexpr int kFinishThreads = 256;
constexpr int kMaxB = 128;

// One CTA per (output block, 64-token tile), tile fastest. The sums go through shared memory
// (row stride B + 1: conflict-free in both orders) so that the workspace reads ([token][j]) and the
// output writes (token rows for axis 1, feature rows for axis 0) are both coalesced.
template <typename T>
__global__ void __launch_bounds__(kFinishThreads) small_finish_kernel(const SmallFinishParams p) {
  __shared__ float sum[kSmallTokens * (kMaxB + 1)];
  const int B = p.B, ld = B + 1;
  const int ob = static_cast<int>(blockIdx.x / p.tiles);
  const long long n0 = static_cast<long long>(blockIdx.x % p.tiles) * kSmallTokens;
  const int rows = static_cast<int>(p.N - n0 < kSmallTokens ? p.N - n0 : kSmallTokens);
  const int q0 = p.chunk_ptr[ob], q1 = p.chunk_ptr[ob + 1];
  for (int e = threadIdx.x; e < rows * B; e += kFinishThreads) {
    const int n = e / B, j = e % B;
    float s = 0.0f;
    for (int q = q0; q < q1; ++q) s += p.ws[(static_cast<long long>(q) * p.N + n0 + n) * B + j];
    sum[n * ld + j] = s;
  }
  __syncthreads();
  T* out = static_cast<T*>(p.out);
  for (int e = threadIdx.x; e < rows * B; e += kFinishThreads) {
    const int n = p.axis == 1 ? e / B : e % rows, j = p.axis == 1 ? e % B : e / rows;
    const long long f = static_cast<long long>(ob) * B + j;
    T* dst = out + (p.axis == 1 ? (n0 + n) * p.F_out + f : f * p.N + n0 + n);
    const float a = p.alpha * sum[n * ld + j];
    *dst = store_as<T>(p.beta != 0.0f ? a + p.beta * load_float(*dst) : a);
  }
}

}  // namespace

void launch_small_finish(int32_t dtype, const SmallFinishParams& p, cudaStream_t s) {
  if (p.B > kMaxB) fail(BS_STATUS_INTERNAL_ERROR, "small-N finish kernel: block size ", p.B, " above ", kMaxB);
  const long long grid = static_cast<long long>(p.out_blocks) * p.tiles;
  if (grid == 0) return;
  dispatch_dtype(dtype, [&](auto tag) {
    using T = decltype(tag);
    small_finish_kernel<T><<<static_cast<unsigned>(grid), kFinishThreads, 0, s>>>(p);
  });
  check_launch("bsmm small-N finish kernel launch");
}

}  // namespace cuda
}  // namespace bs
