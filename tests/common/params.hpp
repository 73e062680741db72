#pragma once
// Parameter lists shared by the parameterized suites, and readable test names for them.
#include <blocksparse/blocksparse.h>
#include <gtest/gtest.h>

#include <string>

#include "common/host_tensor.hpp"
#include "common/plan.hpp"

namespace bs_test {

// Every backend: instances for an unavailable one skip themselves with the reason.
inline auto all_backends() { return ::testing::Values(BS_BACKEND_CPU, BS_BACKEND_CUDA); }

// A storage type with its math mode: fp32 exact, fp32 allowed TF32, fp16, bf16.
struct Precision {
  bs_dtype_t dtype;
  bs_math_mode_t math;
};
inline auto all_precisions() {
  return ::testing::Values(Precision{BS_DTYPE_F32, BS_MATH_DEFAULT}, Precision{BS_DTYPE_F32, BS_MATH_TF32},
                           Precision{BS_DTYPE_F16, BS_MATH_DEFAULT}, Precision{BS_DTYPE_BF16, BS_MATH_DEFAULT});
}
inline std::string precision_name(const Precision& p) {
  return std::string(dtype_name(p.dtype)) + (p.math == BS_MATH_TF32 ? "tf32" : "");
}
inline auto all_dtypes() { return ::testing::Values(BS_DTYPE_F32, BS_DTYPE_F16, BS_DTYPE_BF16); }
inline auto all_block_sizes() { return ::testing::Values(8, 16, 32, 64, 128); }

// For suites parameterized by the backend alone.
inline std::string backend_param_name(const ::testing::TestParamInfo<bs_backend_t>& info) {
  return backend_name(info.param);
}

}  // namespace bs_test
