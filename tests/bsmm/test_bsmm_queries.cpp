// Plan queries: bsmm_params_init defaults, every bsmm_get_attr attribute, weight / input / output
// shapes, block coordinates, the layout round trip, workspace sizes, and BSR creation giving the
// same plan (and bitwise the same results) as dense creation.
#include <gtest/gtest.h>

#include <cstring>

#include "common/op_run.hpp"
#include "common/params.hpp"
#include "common/seed.hpp"
#include "common/status_check.hpp"

namespace bs_test {
namespace {

TEST(BsmmParams, InitGivesTheDocumentedDefaults) {
  bsmm_params_t p;
  std::memset(&p, 0xab, sizeof p);
  EXPECT_BS_OK(BSMM_PARAMS_INIT(&p));
  EXPECT_EQ(p.struct_size, sizeof p);
  EXPECT_EQ(p.backend, BS_BACKEND_CPU);
  EXPECT_EQ(p.device, 0);
  EXPECT_EQ(p.block_size, 32);
  EXPECT_EQ(p.feature_axis, 1);
  EXPECT_EQ(p.dtype, BS_DTYPE_F32);
  EXPECT_EQ(p.math_mode, BS_MATH_DEFAULT);
  EXPECT_EQ(p.num_threads, 0);
}

class BsmmQueries : public ::testing::TestWithParam<bs_backend_t> {
 protected:
  void SetUp() override { BS_SKIP_UNLESS_AVAILABLE(GetParam()); }
  std::mt19937_64 rng_ = test_rng();
};

int64_t attr(const_bsmm_plan_t plan, bsmm_attr_t a) {
  int64_t v = -12345;
  EXPECT_BS_OK(bsmm_get_attr(plan, a, &v));
  return v;
}

TEST_P(BsmmQueries, AttributesAndShapes) {
  const bs_backend_t be = GetParam();
  for (bs_dtype_t dt : {BS_DTYPE_F32, BS_DTYPE_F16, BS_DTYPE_BF16})
    for (int32_t axis : {0, 1})
      for (int32_t b : {8, 128}) {
        PlanSetup s;
        s.backend = be;
        s.dtype = dt;
        s.feature_axis = axis;
        s.block_size = b;
        s.math = dt == BS_DTYPE_F32 && b == 8 ? BS_MATH_TF32 : BS_MATH_DEFAULT;
        s.num_threads = be == BS_BACKEND_CPU && axis == 1 ? 3 : 0;
        const Layout layout = random_layout(3, 5, 0.5, rng_);
        const Plan plan = make_plan(s, layout);
        ASSERT_TRUE(plan);
        const bsmm_plan_t p = plan.get();
        SCOPED_TRACE(s.str() + ", layout " + layout.str());
        EXPECT_EQ(attr(p, BSMM_ATTR_C), 3 * b);
        EXPECT_EQ(attr(p, BSMM_ATTR_K), 5 * b);
        EXPECT_EQ(attr(p, BSMM_ATTR_CB), 3);
        EXPECT_EQ(attr(p, BSMM_ATTR_KB), 5);
        EXPECT_EQ(attr(p, BSMM_ATTR_BLOCK_SIZE), b);
        EXPECT_EQ(attr(p, BSMM_ATTR_NNZ_BLOCKS), layout.nnz());
        EXPECT_EQ(attr(p, BSMM_ATTR_FEATURE_AXIS), axis);
        EXPECT_EQ(attr(p, BSMM_ATTR_DTYPE), dt);
        EXPECT_EQ(attr(p, BSMM_ATTR_BACKEND), be);
        EXPECT_EQ(attr(p, BSMM_ATTR_DEVICE), 0);
        EXPECT_EQ(attr(p, BSMM_ATTR_MATH_MODE), s.math);
        const int64_t threads = attr(p, BSMM_ATTR_NUM_THREADS);
        if (be == BS_BACKEND_CUDA)
          EXPECT_EQ(threads, 0);
        else if (s.num_threads > 0)
          EXPECT_EQ(threads, s.num_threads);
        else
          EXPECT_GE(threads, 1);

        int64_t w[3] = {-1, -1, -1};
        EXPECT_BS_OK(bsmm_get_weight_shape(p, w));
        EXPECT_EQ(w[0], layout.nnz());
        EXPECT_EQ(w[1], b);
        EXPECT_EQ(w[2], b);
        for (int64_t N : {0, 1, 77}) {
          int64_t in[2] = {-1, -1}, out[2] = {-1, -1};
          EXPECT_BS_OK(bsmm_get_input_shape(p, N, in));
          EXPECT_BS_OK(bsmm_get_output_shape(p, N, out));
          EXPECT_EQ(in[0], axis == 1 ? N : 3 * b);
          EXPECT_EQ(in[1], axis == 1 ? 3 * b : N);
          EXPECT_EQ(out[0], axis == 1 ? N : 5 * b);
          EXPECT_EQ(out[1], axis == 1 ? 5 * b : N);
        }
      }
}

TEST_P(BsmmQueries, BlockCoordinatesAndLayoutRoundTrip) {
  PlanSetup s;
  s.backend = GetParam();
  s.block_size = 8;
  for (const Layout& layout : {random_layout(6, 7, 0.4, rng_), full_layout(2, 3), single_block_layout(4, 1, 3, 0),
                               layout_with_empty_rows_and_columns(5, 5, rng_)}) {
    const Plan plan = make_plan(s, layout);
    ASSERT_TRUE(plan);
    SCOPED_TRACE(layout.str());
    const auto blocks = layout.blocks();
    for (size_t i = 0; i < blocks.size(); ++i) {
      int64_t c = -1, k = -1;
      EXPECT_BS_OK(bsmm_block_coord(plan.get(), static_cast<int64_t>(i), &c, &k));
      EXPECT_EQ(c, blocks[i][0]) << "block " << i;
      EXPECT_EQ(k, blocks[i][1]) << "block " << i;
    }
    // A buffer larger than CB*KB: exactly CB*KB bytes written, the rest untouched.
    std::vector<uint8_t> got(layout.mask.size() + 16, 0xcd);
    EXPECT_BS_OK(bsmm_get_layout(plan.get(), got.data(), static_cast<int64_t>(got.size())));
    EXPECT_TRUE(std::equal(layout.mask.begin(), layout.mask.end(), got.begin()));
    for (size_t i = layout.mask.size(); i < got.size(); ++i) EXPECT_EQ(got[i], 0xcd) << "byte " << i << " written";
  }
}

TEST_P(BsmmQueries, WorkspaceSizes) {
  PlanSetup s;
  s.backend = GetParam();
  const Plan plan = make_plan(s, random_layout(3, 3, 0.5, rng_));
  ASSERT_TRUE(plan);
  for (int op = BSMM_OP_FPROP; op <= BSMM_OP_IDENTITY_INIT; ++op)
    for (int64_t N : {0, 1, 1000}) {
      size_t bytes = 12345;
      EXPECT_BS_OK(bsmm_get_workspace_size(plan.get(), static_cast<bsmm_op_t>(op), N, &bytes));
    }
}

// The same layout given as BSR: the same plan, and bitwise the same results on the same inputs.
TEST_P(BsmmQueries, BsrCreationEqualsDenseCreation) {
  for (bs_dtype_t dt : {BS_DTYPE_F32, BS_DTYPE_BF16}) {
    PlanSetup s;
    s.backend = GetParam();
    s.dtype = dt;
    s.block_size = 16;
    const Layout layout = layout_with_empty_rows_and_columns(5, 4, rng_);
    const Plan dense = make_plan(s, layout);
    ASSERT_TRUE(dense);
    const bsmm_params_t params = s.params();
    const std::vector<int64_t> row_ptr = layout.row_ptr(), col_idx = layout.col_idx();
    bsmm_plan_t raw = nullptr;
    EXPECT_BS_OK(bsmm_create_bsr(&raw, &params, layout.CB, layout.KB, row_ptr.data(), col_idx.data()));
    const Plan bsr(raw);
    ASSERT_TRUE(bsr);
    for (int a = BSMM_ATTR_C; a <= BSMM_ATTR_NUM_THREADS; ++a)
      EXPECT_EQ(attr(dense.get(), static_cast<bsmm_attr_t>(a)), attr(bsr.get(), static_cast<bsmm_attr_t>(a)))
          << "attr " << a;
    std::vector<uint8_t> got(layout.mask.size());
    EXPECT_BS_OK(bsmm_get_layout(bsr.get(), got.data(), static_cast<int64_t>(got.size())));
    EXPECT_EQ(got, layout.mask);
    for (bsmm_op_t op : {BSMM_OP_FPROP, BSMM_OP_BPROP, BSMM_OP_UPDAT}) {
      OpCase c;
      c.op = op;
      c.N = 29;
      c.gates = Gates::kRandom;
      const OpRun run(s, layout, c, rng_);
      const Outputs a = run.execute(dense.get()), b = run.execute(bsr.get());
      run.check(b);
      EXPECT_TRUE(bitwise_equal(op_name(op), a[0].bytes(), b[0].bytes())) << run.str();
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Backend, BsmmQueries, all_backends(), backend_param_name);

}  // namespace
}  // namespace bs_test
