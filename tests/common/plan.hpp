#pragma once
// Plans for the tests: how one is made (PlanSetup), an owning handle, and whether a backend can run
// in this build and on this machine (tests of an unavailable backend are skipped, never passed).
#include <blocksparse/blocksparse.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "common/buffer.hpp"
#include "common/compare.hpp"
#include "common/layouts.hpp"
#include "common/reference.hpp"

namespace bs_test {

struct PlanDeleter {
  void operator()(bsmm_plan_t p) const { bsmm_destroy(p); }
};
using Plan = std::unique_ptr<bsmm_plan_s, PlanDeleter>;

const char* backend_name(bs_backend_t backend);

// Empty when plans of `backend` can run here; otherwise the reason they cannot.
std::string backend_skip_reason(bs_backend_t backend);

// Skips the current test (reported as skipped, with the reason) when `backend` cannot run here.
#define BS_SKIP_UNLESS_AVAILABLE(backend)                                             \
  do {                                                                                \
    const std::string bs_skip_reason_ = ::bs_test::backend_skip_reason(backend);      \
    if (!bs_skip_reason_.empty()) GTEST_SKIP() << bs_skip_reason_;                    \
  } while (0)

// The calling thread's last error message of the library.
std::string last_error();

// Creation parameters of a test plan.
struct PlanSetup {
  bs_backend_t backend = BS_BACKEND_CPU;
  bs_dtype_t dtype = BS_DTYPE_F32;
  bs_math_mode_t math = BS_MATH_DEFAULT;
  int32_t feature_axis = 1;
  int32_t block_size = 32;
  int32_t num_threads = 0;

  bsmm_params_t params() const;
  std::string str() const;
  double bound() const { return error_bound(backend, dtype, math); }
  RefGeometry geometry(const Layout& layout) const { return RefGeometry{layout, block_size, feature_axis}; }
};

// The plan, or null after recording a test failure with the library's message.
Plan make_plan(const PlanSetup& setup, const Layout& layout);

// A workspace for `op` with minibatch N, sized by bsmm_get_workspace_size (guarded like any buffer).
TestBuffer make_workspace(const_bsmm_plan_t plan, bs_backend_t backend, bsmm_op_t op, int64_t N);

}  // namespace bs_test
