#pragma once
// Forward of the CUDA layer norm with features last for rows that fit shared memory a few times
// over (layernorm_warp_rows.cu): one warp per row, no CTA-wide synchronisation per row. Returns
// false (and launches nothing) when the call does not fit; the caller then tries the CTA-per-row
// kernel of layernorm_pipelined.cu and the general kernels of layernorm_kernels.cu.
#include "ops/ops_backend.hpp"

namespace bs::ops {

// Forward on the warp-per-row path; false when it does not apply (features first, Ks % 8,
// misaligned pointers, gain/bias plus four warps' rows over the shared memory of a CTA).
bool ln_warp_rows_fprop(const LnConfig& c, const LnFpropArgs& a);

}  // namespace bs::ops
