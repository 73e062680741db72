// Every backend × dtype (and TF32) × feature axis × block size, for fprop, bprop and updat, on a
// random layout with odd N, against the float64 reference.
#include <gtest/gtest.h>

#include <tuple>

#include "common/op_run.hpp"
#include "common/params.hpp"
#include "common/seed.hpp"

namespace bs_test {
namespace {

using SweepParam = std::tuple<bs_backend_t, Precision, int32_t, int32_t>;  // backend, precision, axis, b

class BsmmSweep : public ::testing::TestWithParam<SweepParam> {
 protected:
  void SetUp() override { BS_SKIP_UNLESS_AVAILABLE(std::get<0>(GetParam())); }

  // Big blocks get fewer of them and a smaller N, to keep the suite fast under the sanitizers.
  void run(bsmm_op_t op) {
    const auto& [backend, precision, axis, b] = GetParam();
    PlanSetup s;
    s.backend = backend;
    s.dtype = precision.dtype;
    s.math = precision.math;
    s.feature_axis = axis;
    s.block_size = b;
    auto rng = test_rng();
    const bool big = b >= 64;
    const Layout layout = random_layout(big ? 2 : 3, big ? 3 : 4, 0.5, rng);
    OpCase c;
    c.op = op;
    c.N = big ? 33 : 77;
    check_op(s, layout, c, rng);
  }
};

TEST_P(BsmmSweep, Fprop) { run(BSMM_OP_FPROP); }
TEST_P(BsmmSweep, Bprop) { run(BSMM_OP_BPROP); }
TEST_P(BsmmSweep, Updat) { run(BSMM_OP_UPDAT); }

std::string sweep_name(const ::testing::TestParamInfo<SweepParam>& info) {
  const auto& [backend, precision, axis, b] = info.param;
  return std::string(backend_name(backend)) + "_" + precision_name(precision) + "_axis" + std::to_string(axis) + "_b" +
         std::to_string(b);
}

INSTANTIATE_TEST_SUITE_P(All, BsmmSweep,
                         ::testing::Combine(all_backends(), all_precisions(), ::testing::Values(0, 1),
                                            all_block_sizes()),
                         sweep_name);

}  // namespace
}  // namespace bs_test
