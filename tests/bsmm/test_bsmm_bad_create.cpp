// Bad input to plan creation and the plan queries: every pointer NULL, bad enums and values,
// struct_size mismatches, overflowing shapes, malformed layouts (dense and BSR), an unavailable
// backend. Each call must return the exact status, leave a message naming the function, and
// write nothing to its outputs.
#include <gtest/gtest.h>

#include <climits>
#include <cstring>
#include <functional>

#include "common/layouts.hpp"
#include "common/plan.hpp"
#include "common/seed.hpp"
#include "common/status_check.hpp"

namespace bs_test {
namespace {

// A plan handle no library would return: creation must leave it as it was on failure.
bsmm_plan_t sentinel_plan() { return reinterpret_cast<bsmm_plan_t>(uintptr_t{0x5ca1ab1e0}); }

bsmm_params_t default_params(int32_t block_size = 8) {
  bsmm_params_t p;
  EXPECT_BS_OK(BSMM_PARAMS_INIT(&p));
  p.block_size = block_size;
  return p;
}

TEST(BsmmBadInput, ParamsInit) {
  EXPECT_BS_FAIL(BS_STATUS_NULL_POINTER, "bsmm_params_init", bsmm_params_init(nullptr, sizeof(bsmm_params_t)));
  for (size_t size : {size_t{0}, size_t{4}, sizeof(bsmm_params_t) - 4, sizeof(bsmm_params_t) + 4, SIZE_MAX}) {
    bsmm_params_t p;
    std::memset(&p, 0x5a, sizeof p);
    EXPECT_BS_FAIL(BS_STATUS_STRUCT_SIZE_MISMATCH, "bsmm_params_init", bsmm_params_init(&p, size));
    const uint8_t* bytes = reinterpret_cast<const uint8_t*>(&p);
    for (size_t i = 0; i < sizeof p; ++i) ASSERT_EQ(bytes[i], 0x5a) << "struct_size " << size << ": byte " << i << " written";
  }
}

// bsmm_create with `params` and `layout` must fail with `want` and leave the plan handle alone.
void expect_create_fails(bs_status_t want, const bsmm_params_t& params, const Layout& layout, const std::string& what) {
  bsmm_plan_t plan = sentinel_plan();
  EXPECT_BS_FAIL(want, "bsmm_create", bsmm_create(&plan, &params, layout.mask.data(), layout.CB, layout.KB)) << what;
  EXPECT_EQ(plan, sentinel_plan()) << what;
  // The same parameters through the BSR entry point (layout permitting).
  if (layout.nnz() == 0 || want == BS_STATUS_INVALID_LAYOUT) return;
  const std::vector<int64_t> rp = layout.row_ptr(), ci = layout.col_idx();
  EXPECT_BS_FAIL(want, "bsmm_create_bsr", bsmm_create_bsr(&plan, &params, layout.CB, layout.KB, rp.data(), ci.data()))
      << what;
  EXPECT_EQ(plan, sentinel_plan()) << what;
}

TEST(BsmmBadInput, CreateNullPointers) {
  const bsmm_params_t p = default_params();
  const Layout l = full_layout(2, 2);
  const std::vector<int64_t> rp = l.row_ptr(), ci = l.col_idx();
  bsmm_plan_t plan = sentinel_plan();
  EXPECT_BS_FAIL(BS_STATUS_NULL_POINTER, "bsmm_create", bsmm_create(nullptr, &p, l.mask.data(), 2, 2));
  EXPECT_BS_FAIL(BS_STATUS_NULL_POINTER, "bsmm_create", bsmm_create(&plan, nullptr, l.mask.data(), 2, 2));
  EXPECT_BS_FAIL(BS_STATUS_NULL_POINTER, "bsmm_create", bsmm_create(&plan, &p, nullptr, 2, 2));
  EXPECT_BS_FAIL(BS_STATUS_NULL_POINTER, "bsmm_create_bsr", bsmm_create_bsr(nullptr, &p, 2, 2, rp.data(), ci.data()));
  EXPECT_BS_FAIL(BS_STATUS_NULL_POINTER, "bsmm_create_bsr", bsmm_create_bsr(&plan, nullptr, 2, 2, rp.data(), ci.data()));
  EXPECT_BS_FAIL(BS_STATUS_NULL_POINTER, "bsmm_create_bsr", bsmm_create_bsr(&plan, &p, 2, 2, nullptr, ci.data()));
  EXPECT_BS_FAIL(BS_STATUS_NULL_POINTER, "bsmm_create_bsr", bsmm_create_bsr(&plan, &p, 2, 2, rp.data(), nullptr));
  EXPECT_EQ(plan, sentinel_plan());
}

TEST(BsmmBadInput, CreateBadParams) {
  const Layout l = full_layout(2, 3);
  struct Bad {
    const char* what;
    bs_status_t want;
    std::function<void(bsmm_params_t&)> mutate;
  };
  const Bad cases[] = {
      {"struct_size 0", BS_STATUS_STRUCT_SIZE_MISMATCH, [](bsmm_params_t& p) { p.struct_size = 0; }},
      {"struct_size 4", BS_STATUS_STRUCT_SIZE_MISMATCH, [](bsmm_params_t& p) { p.struct_size = 4; }},
      {"struct_size too large", BS_STATUS_STRUCT_SIZE_MISMATCH,
       [](bsmm_params_t& p) { p.struct_size = sizeof(bsmm_params_t) + 8; }},
      {"backend -1", BS_STATUS_INVALID_VALUE, [](bsmm_params_t& p) { p.backend = -1; }},
      {"backend 2", BS_STATUS_INVALID_VALUE, [](bsmm_params_t& p) { p.backend = 2; }},
      {"backend INT_MAX", BS_STATUS_INVALID_VALUE, [](bsmm_params_t& p) { p.backend = INT32_MAX; }},
      {"block_size 0", BS_STATUS_INVALID_VALUE, [](bsmm_params_t& p) { p.block_size = 0; }},
      {"block_size 4", BS_STATUS_INVALID_VALUE, [](bsmm_params_t& p) { p.block_size = 4; }},
      {"block_size 24", BS_STATUS_INVALID_VALUE, [](bsmm_params_t& p) { p.block_size = 24; }},
      {"block_size 256", BS_STATUS_INVALID_VALUE, [](bsmm_params_t& p) { p.block_size = 256; }},
      {"block_size -32", BS_STATUS_INVALID_VALUE, [](bsmm_params_t& p) { p.block_size = -32; }},
      {"feature_axis -1", BS_STATUS_INVALID_VALUE, [](bsmm_params_t& p) { p.feature_axis = -1; }},
      {"feature_axis 2", BS_STATUS_INVALID_VALUE, [](bsmm_params_t& p) { p.feature_axis = 2; }},
      {"dtype -1", BS_STATUS_INVALID_VALUE, [](bsmm_params_t& p) { p.dtype = -1; }},
      {"dtype 3", BS_STATUS_INVALID_VALUE, [](bsmm_params_t& p) { p.dtype = 3; }},
      {"math_mode -1", BS_STATUS_INVALID_VALUE, [](bsmm_params_t& p) { p.math_mode = -1; }},
      {"math_mode 2", BS_STATUS_INVALID_VALUE, [](bsmm_params_t& p) { p.math_mode = 2; }},
      {"num_threads -1", BS_STATUS_INVALID_VALUE, [](bsmm_params_t& p) { p.num_threads = -1; }},
      {"CPU device 1", BS_STATUS_INVALID_VALUE, [](bsmm_params_t& p) { p.device = 1; }},
      {"CPU device -1", BS_STATUS_INVALID_VALUE, [](bsmm_params_t& p) { p.device = -1; }},
      {"CUDA num_threads 2", BS_STATUS_INVALID_VALUE,
       [](bsmm_params_t& p) {
         p.backend = BS_BACKEND_CUDA;
         p.num_threads = 2;
       }},
      {"CUDA device -1", BS_STATUS_INVALID_VALUE,
       [](bsmm_params_t& p) {
         p.backend = BS_BACKEND_CUDA;
         p.device = -1;
       }},
  };
  for (const Bad& c : cases) {
    bsmm_params_t p = default_params();
    c.mutate(p);
    expect_create_fails(c.want, p, l, c.what);
  }
}

TEST(BsmmBadInput, CreateBadDimensions) {
  const bsmm_params_t p = default_params(128);
  const Layout one = full_layout(1, 1);  // only one byte: the library must refuse before reading more
  bsmm_plan_t plan = sentinel_plan();
  const int64_t rp_one[] = {0, 1}, ci_one[] = {0};
  for (auto [CB, KB] : {std::pair<int64_t, int64_t>{0, 1}, {1, 0}, {-1, 1}, {1, -5}, {INT64_MIN, 1}}) {
    EXPECT_BS_FAIL(BS_STATUS_INVALID_VALUE, "bsmm_create", bsmm_create(&plan, &p, one.mask.data(), CB, KB))
        << CB << "x" << KB;
    EXPECT_BS_FAIL(BS_STATUS_INVALID_VALUE, "bsmm_create_bsr", bsmm_create_bsr(&plan, &p, CB, KB, rp_one, ci_one))
        << CB << "x" << KB;
  }
  // C = CB*b, K = KB*b or CB*KB*b*b beyond int64.
  for (auto [CB, KB] : {std::pair<int64_t, int64_t>{INT64_MAX / 64, 1}, {1, INT64_MAX / 100}, {int64_t{1} << 26,
                                                                                                int64_t{1} << 26},
                        {int64_t{1} << 40, int64_t{1} << 40}}) {
    EXPECT_BS_FAIL(BS_STATUS_OVERFLOW, "bsmm_create", bsmm_create(&plan, &p, one.mask.data(), CB, KB))
        << CB << "x" << KB;
    EXPECT_BS_FAIL(BS_STATUS_OVERFLOW, "bsmm_create_bsr", bsmm_create_bsr(&plan, &p, CB, KB, rp_one, ci_one))
        << CB << "x" << KB;
  }
  EXPECT_EQ(plan, sentinel_plan());
}

TEST(BsmmBadInput, CreateBadDenseLayout) {
  const bsmm_params_t p = default_params();
  auto rng = test_rng();
  Layout empty = full_layout(3, 4);
  std::fill(empty.mask.begin(), empty.mask.end(), uint8_t{0});
  expect_create_fails(BS_STATUS_INVALID_LAYOUT, p, empty, "no block");
  for (uint8_t v : {uint8_t{2}, uint8_t{255}}) {
    Layout l = random_layout(3, 4, 0.5, rng);
    l.mask[7] = v;
    expect_create_fails(BS_STATUS_INVALID_LAYOUT, p, l, "value " + std::to_string(v));
  }
}

TEST(BsmmBadInput, CreateMalformedBsr) {
  const bsmm_params_t p = default_params();
  struct Bad {
    const char* what;
    std::vector<int64_t> row_ptr, col_idx;
  };
  // CB = 3, KB = 4 throughout.
  const Bad cases[] = {
      {"row_ptr[0] = 1", {1, 2, 3, 4}, {0, 1, 2, 3}},
      {"row_ptr[0] = -1", {-1, 1, 2, 3}, {0, 1, 2, 3}},
      {"row_ptr decreasing", {0, 2, 1, 3}, {0, 1, 2}},
      {"no block", {0, 0, 0, 0}, {0}},  // col_idx not NULL, but holds no entry
      {"row_ptr[CB] > CB*KB", {0, 4, 8, 13}, std::vector<int64_t>(13, 0)},
      {"column -1", {0, 1, 2, 3}, {0, -1, 2}},
      {"column = KB", {0, 1, 2, 3}, {0, 4, 2}},
      {"unsorted row", {0, 3, 3, 3}, {0, 2, 1}},
      {"duplicate in a row", {0, 1, 3, 3}, {0, 2, 2}},
  };
  for (const Bad& c : cases) {
    bsmm_plan_t plan = sentinel_plan();
    EXPECT_BS_FAIL(BS_STATUS_INVALID_LAYOUT, "bsmm_create_bsr",
                   bsmm_create_bsr(&plan, &p, 3, 4, c.row_ptr.data(), c.col_idx.data()))
        << c.what;
    EXPECT_EQ(plan, sentinel_plan()) << c.what;
  }
}

// A CUDA plan where the backend cannot run: BS_STATUS_BACKEND_UNAVAILABLE in a build without CUDA
// or on a machine without a GPU; a device ordinal past the last GPU is an invalid value.
TEST(BsmmBadInput, CreateUnavailableCudaBackend) {
  bsmm_params_t p = default_params();
  p.backend = BS_BACKEND_CUDA;
  int32_t count = -1;
  ASSERT_EQ(bs_get_device_count(BS_BACKEND_CUDA, &count), BS_STATUS_SUCCESS);
  if (count == 0) {
    expect_create_fails(BS_STATUS_BACKEND_UNAVAILABLE, p, full_layout(2, 2), "CUDA without a GPU");
  } else {
    p.device = count;
    expect_create_fails(BS_STATUS_INVALID_VALUE, p, full_layout(2, 2), "device past the last GPU");
  }
}

TEST(BsmmBadInput, DestroyNullIsANoOp) { EXPECT_BS_OK(bsmm_destroy(nullptr)); }

class BsmmBadQueries : public ::testing::Test {
 protected:
  void SetUp() override {
    auto rng = test_rng();
    layout_ = random_layout(3, 4, 0.5, rng);
    PlanSetup s;
    s.block_size = 8;
    plan_ = make_plan(s, layout_);
    ASSERT_TRUE(plan_);
  }
  Layout layout_;
  Plan plan_;
};

TEST_F(BsmmBadQueries, GetAttr) {
  int64_t v = -7;
  EXPECT_BS_FAIL(BS_STATUS_NULL_POINTER, "bsmm_get_attr", bsmm_get_attr(nullptr, BSMM_ATTR_C, &v));
  EXPECT_BS_FAIL(BS_STATUS_NULL_POINTER, "bsmm_get_attr", bsmm_get_attr(plan_.get(), BSMM_ATTR_C, nullptr));
  for (int a : {-1, 12, 1000, INT32_MAX})
    EXPECT_BS_FAIL(BS_STATUS_INVALID_VALUE, "bsmm_get_attr", bsmm_get_attr(plan_.get(), static_cast<bsmm_attr_t>(a), &v))
        << "attr " << a;
  EXPECT_EQ(v, -7);
}

TEST_F(BsmmBadQueries, Shapes) {
  int64_t s3[3] = {-7, -7, -7}, s2[2] = {-7, -7};
  EXPECT_BS_FAIL(BS_STATUS_NULL_POINTER, "bsmm_get_weight_shape", bsmm_get_weight_shape(nullptr, s3));
  EXPECT_BS_FAIL(BS_STATUS_NULL_POINTER, "bsmm_get_weight_shape", bsmm_get_weight_shape(plan_.get(), nullptr));
  using ShapeFn = bs_status_t (*)(const_bsmm_plan_t, int64_t, int64_t*);
  for (auto [fn, name] : {std::pair<ShapeFn, const char*>{bsmm_get_input_shape, "bsmm_get_input_shape"},
                          {bsmm_get_output_shape, "bsmm_get_output_shape"}}) {
    EXPECT_BS_FAIL(BS_STATUS_NULL_POINTER, name, fn(nullptr, 4, s2));
    EXPECT_BS_FAIL(BS_STATUS_NULL_POINTER, name, fn(plan_.get(), 4, nullptr));
    EXPECT_BS_FAIL(BS_STATUS_INVALID_VALUE, name, fn(plan_.get(), -1, s2));
    EXPECT_BS_FAIL(BS_STATUS_INVALID_VALUE, name, fn(plan_.get(), INT64_MIN, s2));
    EXPECT_BS_FAIL(BS_STATUS_OVERFLOW, name, fn(plan_.get(), INT64_MAX / 8, s2));
  }
  for (int64_t v : s3) EXPECT_EQ(v, -7);
  for (int64_t v : s2) EXPECT_EQ(v, -7);
}

TEST_F(BsmmBadQueries, BlockCoord) {
  int64_t c = -7, k = -7;
  EXPECT_BS_FAIL(BS_STATUS_NULL_POINTER, "bsmm_block_coord", bsmm_block_coord(nullptr, 0, &c, &k));
  EXPECT_BS_FAIL(BS_STATUS_NULL_POINTER, "bsmm_block_coord", bsmm_block_coord(plan_.get(), 0, nullptr, &k));
  EXPECT_BS_FAIL(BS_STATUS_NULL_POINTER, "bsmm_block_coord", bsmm_block_coord(plan_.get(), 0, &c, nullptr));
  for (int64_t block : {int64_t{-1}, layout_.nnz(), layout_.nnz() + 100, INT64_MIN, INT64_MAX})
    EXPECT_BS_FAIL(BS_STATUS_INVALID_VALUE, "bsmm_block_coord", bsmm_block_coord(plan_.get(), block, &c, &k))
        << "block " << block;
  EXPECT_EQ(c, -7);
  EXPECT_EQ(k, -7);
}

TEST_F(BsmmBadQueries, GetLayout) {
  std::vector<uint8_t> buf(layout_.mask.size(), 0xcd);
  EXPECT_BS_FAIL(BS_STATUS_NULL_POINTER, "bsmm_get_layout", bsmm_get_layout(nullptr, buf.data(), 12));
  EXPECT_BS_FAIL(BS_STATUS_NULL_POINTER, "bsmm_get_layout", bsmm_get_layout(plan_.get(), nullptr, 12));
  for (int64_t len : {int64_t{11}, int64_t{0}, int64_t{-1}, INT64_MIN})
    EXPECT_BS_FAIL(BS_STATUS_SHAPE_MISMATCH, "bsmm_get_layout", bsmm_get_layout(plan_.get(), buf.data(), len))
        << "layout_len " << len;
  for (uint8_t v : buf) EXPECT_EQ(v, 0xcd);
}

TEST_F(BsmmBadQueries, GetWorkspaceSize) {
  size_t bytes = 777;
  EXPECT_BS_FAIL(BS_STATUS_NULL_POINTER, "bsmm_get_workspace_size",
                 bsmm_get_workspace_size(nullptr, BSMM_OP_FPROP, 4, &bytes));
  EXPECT_BS_FAIL(BS_STATUS_NULL_POINTER, "bsmm_get_workspace_size",
                 bsmm_get_workspace_size(plan_.get(), BSMM_OP_FPROP, 4, nullptr));
  for (int op : {-1, 6, INT32_MAX})
    EXPECT_BS_FAIL(BS_STATUS_INVALID_VALUE, "bsmm_get_workspace_size",
                   bsmm_get_workspace_size(plan_.get(), static_cast<bsmm_op_t>(op), 4, &bytes))
        << "op " << op;
  EXPECT_BS_FAIL(BS_STATUS_INVALID_VALUE, "bsmm_get_workspace_size",
                 bsmm_get_workspace_size(plan_.get(), BSMM_OP_UPDAT, -1, &bytes));
  EXPECT_EQ(bytes, 777u);
}

}  // namespace
}  // namespace bs_test
