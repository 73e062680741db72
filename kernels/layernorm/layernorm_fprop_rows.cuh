#pragma once
// Forward of the CUDA layer norm with features last for 16-byte aligned rows of up to 32768
// elements (layernorm_fprop_rows.cu): one CTA per row, the row held in registers. Returns false
// (and launches nothing) when the call does not fit; the caller then tries the CTA-per-row
// pipelined kernel of layernorm_pipelined.cu and the general kernels of layernorm_kernels.cu.
#include "ops/ops_backend.hpp"

namespace bs::ops {

// Forward on the register-row path; false when it does not apply (features first, rows or
// pointers not 16-byte aligned, Ks over 32768, more rows than a grid holds).
bool ln_fprop_rows(const LnConfig& c, const LnFpropArgs& a);

}  // namespace bs::ops
