// bsmm numerics on the shapes and options DESIGN §7 lists: empty layout rows and columns, full
// layouts, a single block, N = 0 / 1 / odd / larger, non-square and skewed layouts, alpha, beta
// accumulation, gates (zero gates skip their block), grouped updat. Every case runs fprop, bprop
// and updat in every dtype against the float64 reference, on every backend.
#include <gtest/gtest.h>

#include <initializer_list>

#include "common/op_run.hpp"
#include "common/params.hpp"
#include "common/seed.hpp"
#include "common/status_check.hpp"

namespace bs_test {
namespace {

constexpr bsmm_op_t kProducts[] = {BSMM_OP_FPROP, BSMM_OP_BPROP, BSMM_OP_UPDAT};
constexpr bs_dtype_t kDtypes[] = {BS_DTYPE_F32, BS_DTYPE_F16, BS_DTYPE_BF16};

class BsmmCases : public ::testing::TestWithParam<bs_backend_t> {
 protected:
  void SetUp() override { BS_SKIP_UNLESS_AVAILABLE(GetParam()); }

  PlanSetup setup(bs_dtype_t dtype, int32_t b, int32_t axis) const {
    PlanSetup s;
    s.backend = GetParam();
    s.dtype = dtype;
    s.block_size = b;
    s.feature_axis = axis;
    return s;
  }

  // `c` for the three products × every dtype × both feature axes, on `layout` with block size b.
  void run_all(const Layout& layout, int32_t b, OpCase c) {
    for (bs_dtype_t dt : kDtypes)
      for (int32_t axis : {0, 1})
        for (bsmm_op_t op : kProducts) {
          c.op = op;
          check_op(setup(dt, b, axis), layout, c, rng_);
        }
  }

  std::mt19937_64 rng_ = test_rng();
};

TEST_P(BsmmCases, EmptyRowsAndColumns) {
  const Layout layout = layout_with_empty_rows_and_columns(5, 6, rng_);
  ASSERT_TRUE(layout.row_empty(0) && layout.col_empty(5)) << layout.str();
  OpCase c;
  c.N = 19;
  run_all(layout, 16, c);  // beta = 0: empty output blocks must be exactly 0 (checked by OpRun)
  c.beta = 0.5f;           // beta != 0: empty output blocks must be beta·out
  run_all(layout, 16, c);
}

TEST_P(BsmmCases, FullLayout) { run_all(full_layout(4, 5), 16, OpCase{}); }

TEST_P(BsmmCases, SingleBlock) {
  run_all(single_block_layout(1, 1, 0, 0), 32, OpCase{});
  run_all(single_block_layout(3, 4, 1, 2), 16, OpCase{});  // every other row and column empty
}

TEST_P(BsmmCases, NonSquareLayouts) {
  run_all(random_layout(7, 2, 0.5, rng_), 16, OpCase{});
  run_all(random_layout(2, 9, 0.5, rng_), 8, OpCase{});
}

TEST_P(BsmmCases, SkewedLayout) {
  // A few output columns connected to every input block, the rest sparse: load-imbalanced.
  run_all(skewed_layout(12, 10, 2, rng_), 8, OpCase{});
  const Layout big = skewed_layout(6, 8, 1, rng_);
  for (bsmm_op_t op : kProducts) {
    OpCase c;
    c.op = op;
    c.N = 40;
    check_op(setup(BS_DTYPE_BF16, 32, 1), big, c, rng_);
  }
}

TEST_P(BsmmCases, MinibatchOne) {
  OpCase c;
  c.N = 1;
  run_all(random_layout(3, 4, 0.5, rng_), 16, c);
  run_all(random_layout(2, 2, 0.7, rng_), 64, c);
}

TEST_P(BsmmCases, OddAndLargerMinibatches) {
  const Layout layout = random_layout(3, 3, 0.5, rng_);
  for (int64_t N : {3, 63, 64, 65, 129, 515}) {
    OpCase c;
    c.N = N;
    for (bsmm_op_t op : kProducts) {
      c.op = op;
      check_op(setup(BS_DTYPE_F32, 8, N % 2 == 0 ? 0 : 1), layout, c, rng_);
      check_op(setup(BS_DTYPE_F16, 8, N % 2 == 0 ? 1 : 0), layout, c, rng_);
    }
  }
  OpCase c;  // one larger problem with a larger block
  c.N = 700;
  for (bsmm_op_t op : kProducts) {
    c.op = op;
    check_op(setup(BS_DTYPE_BF16, 32, 1), random_layout(2, 3, 0.6, rng_), c, rng_);
  }
}

// N > 128 in 16-bit with features last: on an sm_90a GPU the wgmma/TMA kernels (b >= 16; fprop
// reads W MN-major, bprop K-major; gated calls take the mma.sync engine). Token tails of the
// 128-token tiles, an empty output block, stages padded past a list's end (odd lists at b < 64),
// alpha/beta and zero gates.
TEST_P(BsmmCases, LargeMinibatch16Bit) {
  for (int32_t b : {16, 32, 64, 128}) {
    const Layout layout = layout_with_empty_rows_and_columns(b >= 64 ? 3 : 5, b >= 64 ? 4 : 6, rng_);
    for (bs_dtype_t dt : {BS_DTYPE_BF16, BS_DTYPE_F16})
      for (bsmm_op_t op : {BSMM_OP_FPROP, BSMM_OP_BPROP}) {
        OpCase c;
        c.op = op;
        c.N = b >= 64 ? 257 : 300;
        if (dt == BS_DTYPE_F16) {
          c.alpha = -0.75f;
          c.beta = 0.5f;
          c.gates = Gates::kWithZeros;
        }
        check_op(setup(dt, b, 1), layout, c, rng_);
      }
  }
}

// Small N on the sm_90a kernels: they take N <= 128 when one CTA per output block covers half the
// SMs (80 output blocks suffice on GPUs of up to 160 SMs): fprop on a wide layout, bprop on a tall one.
TEST_P(BsmmCases, SmallMinibatchManyOutputBlocks) {
  for (const bool wide : {true, false}) {
    const Layout layout = random_layout(wide ? 3 : 80, wide ? 80 : 3, 0.4, rng_);
    for (int64_t N : {1, 64, 128}) {
      OpCase c;
      c.op = wide ? BSMM_OP_FPROP : BSMM_OP_BPROP;
      c.N = N;
      c.beta = N == 64 ? 0.5f : 0.0f;
      check_op(setup(BS_DTYPE_BF16, 16, 1), layout, c, rng_);
      check_op(setup(BS_DTYPE_F16, 32, 1), layout, c, rng_);
    }
  }
}

// updat on the sm_90a kernel (16-bit, b >= 32), which takes layouts with at least one CTA per SM
// (a CTA sums up to 16 / 8 / 2 blocks of one layout column at b = 32 / 64 / 128): wide layouts with
// a column of one block, one of three (a padded unit at b = 32), an empty column, N past one
// 64-token stage, several (x, dy) pairs, alpha/beta and zero gates.
TEST_P(BsmmCases, ManyBlocksUpdat16Bit) {
  for (int32_t b : {32, 64, 128}) {
    // 96 columns of ~2 CTAs each (about 190 CTAs), few enough rows to keep the float64 reference short.
    Layout layout = random_layout(b == 32 ? 32 : (b == 64 ? 20 : 6), 96, 0.6, rng_);
    for (int64_t c = 0; c < layout.CB; ++c) {
      layout.mask[static_cast<size_t>(c * layout.KB)] = c == 0;
      layout.mask[static_cast<size_t>(c * layout.KB + 1)] = c < 3;
      layout.mask[static_cast<size_t>(c * layout.KB + layout.KB - 1)] = 0;
    }
    for (bs_dtype_t dt : {BS_DTYPE_BF16, BS_DTYPE_F16}) {
      OpCase c;
      c.op = BSMM_OP_UPDAT;
      c.N = 80;
      if (dt == BS_DTYPE_F16) {
        c.n_pairs = 2;
        c.alpha = -0.75f;
        c.beta = 0.5f;
        c.gates = Gates::kWithZeros;
      }
      check_op(setup(dt, b, 1), layout, c, rng_);
    }
  }
}

// N = 0: fprop and bprop return at once (NULL pointers allowed, nothing written); updat gives beta·dW.
TEST_P(BsmmCases, EmptyMinibatch) {
  const Layout layout = random_layout(3, 4, 0.5, rng_);
  for (bs_dtype_t dt : kDtypes) {
    const PlanSetup s = setup(dt, 16, 1);
    const Plan plan = make_plan(s, layout);
    ASSERT_TRUE(plan);
    EXPECT_BS_OK(bsmm_fprop(plan.get(), 0, nullptr, nullptr, nullptr, 1.0f, 0.0f, nullptr, nullptr, 0, nullptr));
    EXPECT_BS_OK(bsmm_bprop(plan.get(), 0, nullptr, nullptr, nullptr, 1.0f, 0.0f, nullptr, nullptr, 0, nullptr));
    const size_t wbytes = static_cast<size_t>(s.geometry(layout).weight_count()) * dtype_bytes(dt);
    TestBuffer x(s.backend, 0), y(s.backend, 0), w(s.backend, HostTensor::random(dt, layout.nnz() * 256, rng_));
    const Untouched untouched({&x, &y, &w});
    EXPECT_BS_OK(bsmm_fprop(plan.get(), 0, x.data(), w.data(), y.data(), 1.0f, 1.0f, nullptr, nullptr, 0, nullptr));
    EXPECT_BS_OK(bsmm_bprop(plan.get(), 0, y.data(), w.data(), x.data(), 1.0f, 1.0f, nullptr, nullptr, 0, nullptr));
    EXPECT_TRUE(untouched.unchanged());
    EXPECT_EQ(w.bytes(), wbytes);
  }
  for (float beta : {0.0f, 0.75f}) {
    OpCase c;
    c.op = BSMM_OP_UPDAT;
    c.N = 0;
    c.beta = beta;
    for (bs_dtype_t dt : kDtypes) check_op(setup(dt, 16, 0), layout, c, rng_);
  }
}

TEST_P(BsmmCases, AlphaAndBetaAccumulate) {
  const Layout layout = random_layout(3, 4, 0.5, rng_);
  for (auto [alpha, beta] : {std::pair{1.0f, 1.0f}, std::pair{-1.5f, 0.5f}, std::pair{0.25f, 0.0f},
                             std::pair{0.0f, -2.0f}}) {
    OpCase c;
    c.alpha = alpha;
    c.beta = beta;
    c.N = 21;
    run_all(layout, 16, c);
  }
}

TEST_P(BsmmCases, Gates) {
  const Layout layout = random_layout(4, 4, 0.6, rng_);
  OpCase c;
  c.N = 23;
  c.gates = Gates::kRandom;
  run_all(layout, 16, c);
  c.gates = Gates::kWithZeros;  // zero gates skip their block: its NaN weights must not propagate
  run_all(layout, 16, c);
  c.beta = 0.5f;
  c.alpha = -0.75f;
  run_all(layout, 8, c);
}

TEST_P(BsmmCases, GroupedUpdat) {
  const Layout layout = random_layout(3, 4, 0.5, rng_);
  for (int32_t pairs : {2, 3, 5}) {
    OpCase c;
    c.op = BSMM_OP_UPDAT;
    c.n_pairs = pairs;
    c.N = 17;
    c.beta = pairs == 3 ? 1.0f : 0.0f;
    c.gates = pairs == 5 ? Gates::kWithZeros : Gates::kNone;
    for (bs_dtype_t dt : kDtypes)
      for (int32_t axis : {0, 1}) check_op(setup(dt, 16, axis), layout, c, rng_);
  }
}

INSTANTIATE_TEST_SUITE_P(Backend, BsmmCases, all_backends(), backend_param_name);

}  // namespace
}  // namespace bs_test
