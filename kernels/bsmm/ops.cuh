#pragma once
// Definition of kernel_set<T, M>(B): launchers of the xprop and updat tile kernels for every
// block size. Included only by the ops_<kind>.cu instantiation files.
#include "kernels/bsmm/ops.hpp"
#include "kernels/bsmm/updat.cuh"
#include "kernels/bsmm/xprop.cuh"
#include "kernels/common/cuda_check.cuh"

namespace bs {
namespace cuda {

template <typename T, Math M, int B>
struct Ops {
  using X = Xprop<T, M, B>;
  using U = Updat<T, M, B>;

  template <class P>
  static void prepare_one(const DeviceInfo& info, const char* name) {
    cudaFuncAttributes attr{};
    const cudaError_t e = cudaFuncGetAttributes(&attr, tile_kernel<P>);
    if (e == cudaErrorNoKernelImageForDevice || e == cudaErrorInvalidDeviceFunction) {
      (void)cudaGetLastError();
      fail(BS_STATUS_ARCH_NOT_SUPPORTED, "this build has no code for compute capability ", info.cc_major, ".",
           info.cc_minor, " (", name, ": ", cudaGetErrorString(e), "); rebuild with CMAKE_CUDA_ARCHITECTURES including it");
    }
    check(e, "cudaFuncGetAttributes");
    constexpr int bytes = P::Tile::kSmemBytes;
    if (bytes > info.max_smem_optin)
      fail(BS_STATUS_NOT_SUPPORTED, name, " needs ", bytes, " bytes of shared memory per block; the device allows ",
           info.max_smem_optin);
    check(cudaFuncSetAttribute(tile_kernel<P>, cudaFuncAttributeMaxDynamicSharedMemorySize, bytes),
          "cudaFuncSetAttribute");
  }
  static void prepare(const DeviceInfo& info) {
    prepare_one<X>(info, "bsmm xprop kernel");
    prepare_one<U>(info, "bsmm updat kernel");
  }
  static void xprop(const XpropParams& p, dim3 grid, cudaStream_t s) {
    tile_kernel<X><<<grid, kThreads, X::Tile::kSmemBytes, s>>>(p);
    check_launch("bsmm xprop kernel launch");
  }
  static void updat(const UpdatParams& p, dim3 grid, cudaStream_t s) {
    tile_kernel<U><<<grid, kThreads, U::Tile::kSmemBytes, s>>>(p);
    check_launch("bsmm updat kernel launch");
  }
  static constexpr KernelSet set() { return KernelSet{&prepare, &xprop, &updat}; }
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
