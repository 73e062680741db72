#pragma once
// Comparison of a library output with the float64 reference: the relative error
// ‖out − ref‖₂ / ‖ref‖₂ against a bound that depends on the storage type and math mode.
// A NaN or infinity in the output always fails, naming the first such element. With the environment
// variable BS_TEST_REPORT_ERRORS set, every comparison prints its error and bound.
#include <blocksparse/bs_types.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/host_tensor.hpp"

namespace bs_test {

// Bound for an output of `dtype` computed with `math` on `backend`. fp32 is exact fp32 with fp32
// accumulation (TF32 only for CUDA plans that opt in: inputs rounded to 10 mantissa bits);
// 16-bit outputs are dominated by the final rounding, half an ulp: 2^-11 (fp16), 2^-8 (bf16).
double error_bound(bs_backend_t backend, bs_dtype_t dtype, bs_math_mode_t math);
// Bound for fp32 outputs that are computed in fp32 whatever the plan's dtype (gain gradients).
inline double fp32_error_bound() { return 2e-6; }

double relative_error(const std::vector<double>& out, const std::vector<double>& ref);

// Success when every element of `out` is finite, the relative error is at most `bound` and, for
// 16-bit outputs, nearly every element equals the reference rounded to nearest even; the failure
// message names `what`, the error, the bound and the element furthest off.
::testing::AssertionResult near_reference(const std::string& what, const HostTensor& out,
                                          const std::vector<double>& ref, double bound);

// Bitwise equality of two byte arrays (determinism checks); names the first differing byte.
::testing::AssertionResult bitwise_equal(const std::string& what, const std::vector<uint8_t>& a,
                                         const std::vector<uint8_t>& b);

}  // namespace bs_test
