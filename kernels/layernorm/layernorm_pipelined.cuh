#pragma once
// Fast path of the CUDA layer norm with features last (layernorm_pipelined.cu): persistent
// one-row-per-CTA kernels that stream rows through a 3-stage cp.async pipeline in shared memory.
// Each returns false (and launches nothing) when the call does not fit the path; the caller then
// uses the general kernels of layernorm_kernels.cu.
#include "ops/ops_backend.hpp"

namespace bs::ops {

// Workspace bytes of the fast backward for (c, N): per-CTA dgain/dbias partials; 0 when the fast
// path does not apply to the shape. Host function; uses the plan's device.
size_t ln_pipelined_workspace(const LnConfig& c, int64_t N, bool bprop);

// Forward on the fast path; false when it does not apply (misaligned pointers, Ks % 8, too wide).
// The caller tries the register-row forward (layernorm_fprop_rows.cu) first: this one serves rows
// too wide for it (over 32768 elements).
bool ln_pipelined_fprop(const LnConfig& c, const LnFpropArgs& a);

// Backward (dx and, when asked, dgain/dbias through the workspace) on the fast path.
bool ln_pipelined_bprop(const LnConfig& c, const LnBpropArgs& a);

}  // namespace bs::ops
