#include "kernels/common/tma.hpp"

#include <cuda_runtime.h>

#include "blocksparse/bs_types.h"
#include "core/error.hpp"

namespace bs {
namespace cuda {
namespace {

using EncodeTiled = CUresult (*)(CUtensorMap*, CUtensorMapDataType, cuuint32_t, void*, const cuuint64_t*,
                                 const cuuint64_t*, const cuuint32_t*, const cuuint32_t*, CUtensorMapInterleave,
                                 CUtensorMapSwizzle, CUtensorMapL2promotion, CUtensorMapFloatOOBfill);

EncodeTiled encoder() {
  static const EncodeTiled fn = [] {
    void* p = nullptr;
    cudaDriverEntryPointQueryResult q{};
    const cudaError_t e = cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled", &p, 12000, cudaEnableDefault, &q);
    return e == cudaSuccess && q == cudaDriverEntryPointSuccess ? reinterpret_cast<EncodeTiled>(p) : nullptr;
  }();
  if (fn == nullptr) fail(BS_STATUS_EXECUTION_FAILED, "the CUDA driver does not provide cuTensorMapEncodeTiled");
  return fn;
}

CUtensorMapSwizzle swizzle_for(uint32_t span_bytes) {
  switch (span_bytes) {
    case 32: return CU_TENSOR_MAP_SWIZZLE_32B;
    case 64: return CU_TENSOR_MAP_SWIZZLE_64B;
    case 128: return CU_TENSOR_MAP_SWIZZLE_128B;
    default: fail(BS_STATUS_INTERNAL_ERROR, "no TMA swizzle spans ", span_bytes, " bytes");
  }
}

}  // namespace

CUtensorMap tma_map_2d(int32_t dtype, const void* base, uint64_t rows, uint64_t cols, uint64_t row_pitch,
                       uint32_t box_rows, uint32_t box_cols, CUtensorMapL2promotion promotion) {
  CUtensorMap map;
  const cuuint64_t dims[2] = {cols, rows};
  const cuuint64_t strides[1] = {row_pitch * 2};
  const cuuint32_t box[2] = {box_cols, box_rows};
  const cuuint32_t elem_strides[2] = {1, 1};
  const CUresult r = encoder()(&map, dtype == BS_DTYPE_BF16 ? CU_TENSOR_MAP_DATA_TYPE_BFLOAT16 : CU_TENSOR_MAP_DATA_TYPE_FLOAT16,
                               2, const_cast<void*>(base), dims, strides, box, elem_strides, CU_TENSOR_MAP_INTERLEAVE_NONE,
                               swizzle_for(box_cols * 2), promotion, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
  if (r != CUDA_SUCCESS)
    fail(BS_STATUS_EXECUTION_FAILED, "cuTensorMapEncodeTiled failed (CUresult ", static_cast<int>(r), ") for a ", rows,
         " x ", cols, " tensor with box ", box_rows, " x ", box_cols);
  return map;
}

}  // namespace cuda
}  // namespace bs
