#pragma once
// Host side of TMA: encoding the tensor map (CUtensorMap) of a 2D row-major tensor of 16-bit
// elements, as the sm_90a kernels load it. The map embeds the tensor's address, so maps of
// caller-owned tensors are encoded per call (host only, no stream work: safe under graph capture).
// The driver's encoder is reached through the runtime's entry-point query, so the library does
// not link libcuda.
#include <cuda.h>

#include <cstdint>

namespace bs {
namespace cuda {

// Map over `rows` x `cols` elements (cols contiguous, `row_pitch` elements apart) of 2-byte type
// `dtype` (BS_DTYPE_F16 / BS_DTYPE_BF16), loaded in boxes of `box_rows` x `box_cols` with the
// swizzle whose span is box_cols * 2 bytes (32, 64 or 128). `base` must be 16-byte aligned.
// `promotion`: how much a miss fetches into L2 around each box row. Rows narrower than the
// promotion on a wide tensor (a 64-byte slice of a 16 KB row) drag in neighbours nobody may need
// soon: measured on the H100 at N = C = K = 8192, b = 32, 256-byte promotion of the activations
// left fprop at 181 TFLOP/s (224 with 128 bytes) and updat DRAM bound at 93 (155 with none).
// Throws bs::Error (BS_STATUS_EXECUTION_FAILED) if the driver rejects the map.
CUtensorMap tma_map_2d(int32_t dtype, const void* base, uint64_t rows, uint64_t cols, uint64_t row_pitch,
                       uint32_t box_rows, uint32_t box_cols, CUtensorMapL2promotion promotion);

}  // namespace cuda
}  // namespace bs
