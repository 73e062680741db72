#include <blocksparse/blocksparse.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "common/seed.hpp"
#include "common/status_check.hpp"

namespace {

struct Blocks {
  std::vector<int64_t> c_ptr{0, 2, 3}, c_idx{0, 2, 1}, k_ptr{0, 1, 3}, k_idx{1, 0, 1};
};

bsconv_params_t params_1d() {
  bsconv_params_t p;
  BSCONV_PARAMS_INIT(&p);
  p.filter[2] = 3;
  p.input[2] = 9;
  p.stride[2] = 2;
  return p;
}

bs_status_t create(bsconv_plan_t* plan, const bsconv_params_t& p, const Blocks& b) {
  return bsconv_create(plan, &p, static_cast<int64_t>(b.c_ptr.size()) - 1, b.c_ptr.data(), b.c_idx.data(),
                       b.k_ptr.data(), b.k_idx.data());
}

TEST(BsconvBadInput, Create) {
  bsconv_plan_t plan = nullptr;
  const bsconv_params_t p = params_1d();
  Blocks b;
  EXPECT_BS_FAIL(BS_STATUS_NULL_POINTER, "bsconv_create", bsconv_create(nullptr, &p, 2, b.c_ptr.data(), b.c_idx.data(), b.k_ptr.data(), b.k_idx.data()));
  EXPECT_BS_FAIL(BS_STATUS_NULL_POINTER, "bsconv_create", bsconv_create(&plan, nullptr, 2, b.c_ptr.data(), b.c_idx.data(), b.k_ptr.data(), b.k_idx.data()));
  EXPECT_BS_FAIL(BS_STATUS_NULL_POINTER, "bsconv_create", bsconv_create(&plan, &p, 2, nullptr, b.c_idx.data(), b.k_ptr.data(), b.k_idx.data()));
  EXPECT_BS_FAIL(BS_STATUS_INVALID_VALUE, "bsconv_create", bsconv_create(&plan, &p, 0, b.c_ptr.data(), b.c_idx.data(), b.k_ptr.data(), b.k_idx.data()));
  Blocks dup;
  dup.c_idx = {0, 0, 1};
  EXPECT_BS_FAIL(BS_STATUS_INVALID_LAYOUT, "bsconv_create", create(&plan, p, dup));
  Blocks empty;
  empty.k_ptr = {0, 0, 3};
  EXPECT_BS_FAIL(BS_STATUS_INVALID_LAYOUT, "bsconv_create", create(&plan, p, empty));
  bsconv_params_t q = p;
  q.C = 2;  // channel 2 is out of range
  EXPECT_BS_FAIL(BS_STATUS_INVALID_LAYOUT, "bsconv_create", create(&plan, q, b));
  q = p;
  q.padding = BSCONV_PADDING_VALID;
  q.filter[2] = 12;  // larger than the input
  EXPECT_BS_FAIL(BS_STATUS_INVALID_VALUE, "bsconv_create", create(&plan, q, b));
  q = p;
  q.output[0] = q.output[1] = 1;
  q.output[2] = 7;  // the convolution gives 5
  EXPECT_BS_FAIL(BS_STATUS_INVALID_VALUE, "bsconv_create", create(&plan, q, b));
  q = p;
  q.input[0] = q.input[1] = q.input[2] = int64_t{1} << 40;
  EXPECT_BS_FAIL(BS_STATUS_OVERFLOW, "bsconv_create", create(&plan, q, b));
  q = p;
  q.layout = 7;
  EXPECT_BS_FAIL(BS_STATUS_INVALID_VALUE, "bsconv_create", create(&plan, q, b));
  q = p;
  q.struct_size = 3;
  EXPECT_BS_FAIL(BS_STATUS_STRUCT_SIZE_MISMATCH, "bsconv_create", create(&plan, q, b));
  q = p;
  q.backend = BS_BACKEND_CUDA;
  const bs_status_t s = create(&plan, q, b);
  EXPECT_TRUE(s == BS_STATUS_NOT_SUPPORTED) << bs_status_name(s);
  EXPECT_EQ(plan, nullptr);
  const uint8_t bad_layout[2] = {0, 2};
  EXPECT_BS_FAIL(BS_STATUS_INVALID_LAYOUT, "bsconv_create_uniform", bsconv_create_uniform(&plan, &p, bad_layout, 1, 2, 4));
  const uint8_t none[2] = {0, 0};
  EXPECT_BS_FAIL(BS_STATUS_INVALID_LAYOUT, "bsconv_create_uniform", bsconv_create_uniform(&plan, &p, none, 1, 2, 4));
  EXPECT_BS_FAIL(BS_STATUS_INVALID_VALUE, "bsconv_create_uniform", bsconv_create_uniform(&plan, &p, none, 1, 2, 0));
  EXPECT_EQ(plan, nullptr);
  EXPECT_BS_OK(bsconv_destroy(nullptr));
  EXPECT_BS_FAIL(BS_STATUS_STRUCT_SIZE_MISMATCH, "bsconv_params_init", bsconv_params_init(&q, 4));
}

// 1-D, stride 2, SAME, two overlapping blocks: fprop against a float64 loop; queries; bad execute.
TEST(BsconvBadInput, FpropAndExecute) {
  bsconv_plan_t plan = nullptr;
  const bsconv_params_t p = params_1d();
  Blocks b;
  ASSERT_TRUE(bs_test::succeeded(create(&plan, p, b)));
  int64_t fsize = 0, in[5], out[5], off = 0, shape[5];
  EXPECT_BS_OK(bsconv_get_attr(plan, BSCONV_ATTR_FILTER_SIZE, &fsize));
  EXPECT_EQ(fsize, (2 * 1 + 1 * 2) * 3);
  EXPECT_BS_OK(bsconv_get_input_shape(plan, 2, in));
  EXPECT_BS_OK(bsconv_get_output_shape(plan, 2, out));
  EXPECT_EQ(out[4], 5);  // floor((9 + 2 - 3) / 2) + 1
  EXPECT_BS_OK(bsconv_get_block(plan, 1, &off, shape));
  EXPECT_EQ(off, 6);
  EXPECT_EQ(shape[0], 2);
  EXPECT_BS_FAIL(BS_STATUS_INVALID_VALUE, "bsconv_get_block", bsconv_get_block(plan, 2, &off, shape));
  EXPECT_BS_FAIL(BS_STATUS_INVALID_VALUE, "bsconv_get_input_shape", bsconv_get_input_shape(plan, -1, in));
  EXPECT_BS_FAIL(BS_STATUS_NULL_POINTER, "bsconv_get_attr", bsconv_get_attr(plan, BSCONV_ATTR_C, nullptr));
  const int64_t N = 2, C = 3, K = 2, W = 9, Q = 5;
  auto rng = bs_test::test_rng();
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> x(N * C * W), f(fsize), y(N * K * Q, std::numeric_limits<float>::quiet_NaN());
  for (float& v : x) v = u(rng);
  for (float& v : f) v = u(rng);
  // Reference: block 0 = c{0,2} -> k{1}, block 1 = c{1} -> k{0,1}; pad = 1.
  std::vector<double> ref(N * K * Q, 0.0);
  const int64_t bc[2][2] = {{0, 2}, {1, -1}}, bk[2][2] = {{1, -1}, {0, 1}}, nc[2] = {2, 1}, nk[2] = {1, 2}, bo[2] = {0, 6};
  for (int64_t n = 0; n < N; ++n)
    for (int blk = 0; blk < 2; ++blk)
      for (int64_t i = 0; i < nk[blk]; ++i)
        for (int64_t j = 0; j < nc[blk]; ++j)
          for (int64_t q = 0; q < Q; ++q)
            for (int64_t s = 0; s < 3; ++s) {
              const int64_t w = q * 2 - 1 + s;
              if (w < 0 || w >= W) continue;
              ref[(n * K + bk[blk][i]) * Q + q] +=
                  double(f[bo[blk] + (i * nc[blk] + j) * 3 + s]) * x[(n * C + bc[blk][j]) * W + w];
            }
  EXPECT_BS_OK(bsconv_fprop(plan, N, x.data(), f.data(), y.data(), 1.0f, 0.0f, nullptr, 0, nullptr));
  double num = 0, den = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    ASSERT_TRUE(std::isfinite(y[i])) << i;
    num += (y[i] - ref[i]) * (y[i] - ref[i]);
    den += ref[i] * ref[i];
  }
  EXPECT_LE(std::sqrt(num / den), 1e-5);
  const std::vector<float> before = y;
  EXPECT_BS_FAIL(BS_STATUS_NULL_POINTER, "bsconv_fprop", bsconv_fprop(plan, N, nullptr, f.data(), y.data(), 1.0f, 0.0f, nullptr, 0, nullptr));
  EXPECT_BS_FAIL(BS_STATUS_INVALID_VALUE, "bsconv_fprop", bsconv_fprop(plan, N, x.data(), f.data(), y.data(), NAN, 0.0f, nullptr, 0, nullptr));
  EXPECT_BS_FAIL(BS_STATUS_OVERFLOW, "bsconv_bprop", bsconv_bprop(plan, int64_t{1} << 62, y.data(), f.data(), x.data(), 1.0f, 0.0f, nullptr, 0, nullptr));
  EXPECT_BS_FAIL(BS_STATUS_MISALIGNED_POINTER, "bsconv_updat", bsconv_updat(plan, N, x.data(), y.data(), reinterpret_cast<char*>(f.data()) + 1, 1.0f, 0.0f, nullptr, 0, nullptr));
  EXPECT_BS_FAIL(BS_STATUS_NULL_POINTER, "bsconv_edge_bias_fprop", bsconv_edge_bias_fprop(plan, N, y.data(), nullptr, nullptr, y.data(), nullptr, 0, nullptr));
  EXPECT_BS_FAIL(BS_STATUS_NULL_POINTER, "bsconv_edge_bias_bprop", bsconv_edge_bias_bprop(plan, N, y.data(), y.data(), f.data(), y.data(), nullptr, f.data(), nullptr, 0, nullptr));
  EXPECT_BS_FAIL(BS_STATUS_INVALID_VALUE, "bsconv_l2_normalize", bsconv_l2_normalize(plan, f.data(), nullptr, y.data(), -1.0f, nullptr, 0, nullptr));
  EXPECT_BS_FAIL(BS_STATUS_INVALID_VALUE, "bsconv_l2_normalize_grad", bsconv_l2_normalize_grad(plan, f.data(), f.data(), nullptr, y.data(), f.data(), 0.0f, nullptr, 0, nullptr));
  size_t ws = 1;
  EXPECT_BS_FAIL(BS_STATUS_INVALID_VALUE, "bsconv_get_workspace_size", bsconv_get_workspace_size(plan, static_cast<bsconv_op_t>(42), 1, &ws));
  EXPECT_EQ(before.size(), y.size());
  for (size_t i = 0; i < y.size(); ++i) EXPECT_EQ(before[i], y[i]) << "written on failure at " << i;
  EXPECT_BS_OK(bsconv_destroy(plan));
}

}  // namespace
