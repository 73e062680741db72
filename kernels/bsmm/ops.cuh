#pragma once
// Definition of kernel_set<T, M>(B): launchers of the xprop and updat tile kernels for every
// block size. Included only by the ops_<kind>.cu instantiation files.
#include "kernels/bsmm/ops.hpp"
#include "kernels/bsmm/small.cuh"
#include "kernels/bsmm/updat.cuh"
#include "kernels/bsmm/xprop.cuh"
#include "kernels/common/cuda_check.cuh"

namespace bs {
namespace cuda {

template <typename T, Math M, int B>
struct Ops {
  using X = Xprop<T, M, B>;
  using U = Updat<T, M, B>;
  using S = SmallXprop<T, M, B>;

  template <class K>
  static void prepare_one(const DeviceInfo& info, K kernel, int bytes, const char* name) {
    cudaFuncAttributes attr{};
    const cudaError_t e = cudaFuncGetAttributes(&attr, kernel);
    if (e == cudaErrorNoKernelImageForDevice || e == cudaErrorInvalidDeviceFunction) {
      (void)cudaGetLastError();
      fail(BS_STATUS_ARCH_NOT_SUPPORTED, "this build has no code for compute capability ", info.cc_major, ".",
           info.cc_minor, " (", name, ": ", cudaGetErrorString(e), "); rebuild with CMAKE_CUDA_ARCHITECTURES including it");
    }
    check(e, "cudaFuncGetAttributes");
    if (bytes > info.max_smem_optin)
      fail(BS_STATUS_NOT_SUPPORTED, name, " needs ", bytes, " bytes of shared memory per block; the device allows ",
           info.max_smem_optin);
    check(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, bytes), "cudaFuncSetAttribute");
  }
  static void prepare(const DeviceInfo& info) {
    prepare_one(info, tile_kernel<X>, X::Tile::kSmemBytes, "bsmm xprop kernel");
    prepare_one(info, tile_kernel<U>, U::Tile::kSmemBytes, "bsmm updat kernel");
    prepare_one(info, small_kernel<S>, S::kSmemBytes, "bsmm small-N xprop kernel");
  }
  static void xprop(const XpropParams& p, dim3 grid, cudaStream_t s) {
    tile_kernel<X><<<grid, kThreads, X::Tile::kSmemBytes, s>>>(p);
    check_launch("bsmm xprop kernel launch");
  }
  static void updat(const UpdatParams& p, dim3 grid, cudaStream_t s) {
    tile_kernel<U><<<grid, kThreads, U::Tile::kSmemBytes, s>>>(p);
    check_launch("bsmm updat kernel launch");
  }
  static void xprop_small(const SmallParams& p, unsigned grid, cudaStream_t s) {
    small_kernel<S><<<grid, kSmallThreads, S::kSmemBytes, s>>>(p);
    check_launch("bsmm small-N xprop kernel launch");
  }
  static int small_ctas_per_sm() {
    int n = 0;
    check(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&n, small_kernel<S>, kSmallThreads, S::kSmemBytes),
          "cudaOccupancyMaxActiveBlocksPerMultiprocessor");
    return n > 0 ? n : 1;
  }
  static constexpr KernelSet set() { return KernelSet{&prepare, &xprop, &updat, &xprop_small, &small_ctas_per_sm}; }
};

template <typename T, Math M>
const KernelSet& kernel_set(int B) {
  static const KernelSet sets[5] = {Ops<T, M, 8>::set(), Ops<T, M, 16>::set(), Ops<T, M, 32>::set(),
                                    Ops<T, M, 64>::set(), Ops<T, M, 128>::set()};
  switch (B) {
    case 8: return sets[0];
    case 16: return sets[1];
    case 32: return sets[2];
    case 64: return sets[3];
    case 128: return sets[4];
    default: fail(BS_STATUS_INTERNAL_ERROR, "no bsmm kernels for block size ", B);
  }
}

}  // namespace cuda
}  // namespace bs
