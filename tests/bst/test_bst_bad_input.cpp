// Bad input on every bst function: the documented status, a message, and nothing written.
#include <blocksparse/bs_core.h>
#include <blocksparse/bst.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "common/buffer.hpp"
#include "common/host_tensor.hpp"

namespace bs_test {
namespace {

size_t last_error_len() {
  char buf[512];
  size_t n = 0;
  EXPECT_EQ(bs_get_last_error(buf, sizeof buf, &n), BS_STATUS_SUCCESS);
  return n;
}

bst_params_t params() {
  bst_params_t p;
  EXPECT_EQ(BST_PARAMS_INIT(&p), BS_STATUS_SUCCESS);
  p.block_size = 8;
  p.heads = 2;
  p.head_dim = 8;
  p.num_threads = 1;
  return p;
}

const std::vector<uint8_t> kLayout = {1, 0, 1, 1, 0, 1, 0, 0};  // (2, 2, 2)

bs_status_t create(bst_plan_t* plan, const bst_params_t& p, const std::vector<uint8_t>& layout = kLayout,
                   int64_t lh = 2, int64_t QB = 2, int64_t KB = 2) {
  return bst_create(plan, &p, layout.data(), lh, QB, KB, nullptr);
}

TEST(BstBadInput, ParamsInit) {
  EXPECT_EQ(bst_params_init(nullptr, sizeof(bst_params_t)), BS_STATUS_NULL_POINTER);
  bst_params_t p;
  EXPECT_EQ(bst_params_init(&p, 4), BS_STATUS_STRUCT_SIZE_MISMATCH);
  EXPECT_EQ(bst_params_init(&p, sizeof(p) + 8), BS_STATUS_STRUCT_SIZE_MISMATCH);
}

TEST(BstBadInput, Create) {
  bst_plan_t plan = nullptr;
  const bst_params_t good = params();
  EXPECT_EQ(bst_create(nullptr, &good, kLayout.data(), 2, 2, 2, nullptr), BS_STATUS_NULL_POINTER);
  EXPECT_EQ(bst_create(&plan, nullptr, kLayout.data(), 2, 2, 2, nullptr), BS_STATUS_NULL_POINTER);
  EXPECT_EQ(bst_create(&plan, &good, nullptr, 2, 2, 2, nullptr), BS_STATUS_NULL_POINTER);
  auto with = [&](auto edit, bs_status_t want) {
    bst_params_t p = good;
    edit(p);
    EXPECT_EQ(create(&plan, p), want);
    EXPECT_EQ(plan, nullptr);
    EXPECT_GT(last_error_len(), 0u);
  };
  with([](bst_params_t& p) { p.struct_size = 3; }, BS_STATUS_STRUCT_SIZE_MISMATCH);
  with([](bst_params_t& p) { p.backend = 7; }, BS_STATUS_INVALID_VALUE);
  with([](bst_params_t& p) { p.block_size = 24; }, BS_STATUS_INVALID_VALUE);
  with([](bst_params_t& p) { p.heads = 0; }, BS_STATUS_INVALID_VALUE);
  with([](bst_params_t& p) { p.head_dim = 12; }, BS_STATUS_INVALID_VALUE);
  with([](bst_params_t& p) { p.head_dim = 264; }, BS_STATUS_INVALID_VALUE);
  with([](bst_params_t& p) { p.dtype = 99; }, BS_STATUS_INVALID_VALUE);
  with([](bst_params_t& p) { p.format = 2; }, BS_STATUS_INVALID_VALUE);
  with([](bst_params_t& p) { p.causal = 2; }, BS_STATUS_INVALID_VALUE);
  with([](bst_params_t& p) { p.autoregress_at_key = 4; }, BS_STATUS_INVALID_VALUE);  // without causal
  with([](bst_params_t& p) { p.causal = 1; p.autoregress_at_key = 17; }, BS_STATUS_INVALID_VALUE);  // > Sk
  with([](bst_params_t& p) { p.num_threads = -1; }, BS_STATUS_INVALID_VALUE);
  with([](bst_params_t& p) { p.device = 1; }, BS_STATUS_INVALID_VALUE);
  EXPECT_EQ(create(&plan, good, kLayout, 3), BS_STATUS_INVALID_VALUE);  // layout_heads
  EXPECT_EQ(create(&plan, good, kLayout, 2, 0, 2), BS_STATUS_INVALID_VALUE);
  EXPECT_EQ(create(&plan, good, kLayout, 2, 2, 0), BS_STATUS_INVALID_VALUE);
  EXPECT_EQ(create(&plan, good, kLayout, 1, std::numeric_limits<int64_t>::max() / 4, 2), BS_STATUS_OVERFLOW);
  EXPECT_EQ(create(&plan, good, {1, 2, 0, 0, 0, 0, 0, 0}), BS_STATUS_INVALID_LAYOUT);
  EXPECT_EQ(create(&plan, good, std::vector<uint8_t>(8, 0)), BS_STATUS_INVALID_LAYOUT);
  with([](bst_params_t& p) { p.backend = BS_BACKEND_CUDA; }, BS_STATUS_INVALID_VALUE);  // num_threads != 0
  // No CUDA backend for bst yet: unavailable without CUDA, not supported with it.
  {
    bst_params_t p = good;
    p.backend = BS_BACKEND_CUDA;
    p.num_threads = 0;
    p.dtype = BS_DTYPE_F16;
    const bs_status_t st = create(&plan, p);
    EXPECT_TRUE(st == BS_STATUS_NOT_SUPPORTED || st == BS_STATUS_BACKEND_UNAVAILABLE) << st;
    EXPECT_EQ(plan, nullptr);
  }
  EXPECT_EQ(plan, nullptr);
}

TEST(BstBadInput, CreateKvBlocks) {
  bst_plan_t plan = nullptr;
  const bst_params_t p = params();
  const std::vector<int32_t> num = {1, 2, 1, 0}, idx = {0, 9, 1, 0, 1, 9, 9, 9};
  EXPECT_EQ(bst_create_kv_blocks(&plan, &p, 2, 2, 2, num.data(), idx.data(), 2, nullptr), BS_STATUS_SUCCESS);
  std::vector<uint8_t> dense(8);
  ASSERT_EQ(bst_get_layout(plan, dense.data(), 8), BS_STATUS_SUCCESS);
  EXPECT_EQ(dense, (std::vector<uint8_t>{1, 0, 1, 1, 0, 1, 0, 0}));
  ASSERT_EQ(bst_destroy(plan), BS_STATUS_SUCCESS);
  plan = nullptr;
  EXPECT_EQ(bst_create_kv_blocks(&plan, &p, 2, 2, 2, nullptr, idx.data(), 2, nullptr), BS_STATUS_NULL_POINTER);
  EXPECT_EQ(bst_create_kv_blocks(&plan, &p, 2, 2, 2, num.data(), nullptr, 2, nullptr), BS_STATUS_NULL_POINTER);
  EXPECT_EQ(bst_create_kv_blocks(&plan, &p, 2, 2, 2, num.data(), idx.data(), 0, nullptr), BS_STATUS_INVALID_VALUE);
  const std::vector<int32_t> big = {3, 0, 0, 0}, neg = {-1, 0, 0, 0};
  EXPECT_EQ(bst_create_kv_blocks(&plan, &p, 2, 2, 2, big.data(), idx.data(), 2, nullptr), BS_STATUS_INVALID_LAYOUT);
  EXPECT_EQ(bst_create_kv_blocks(&plan, &p, 2, 2, 2, neg.data(), idx.data(), 2, nullptr), BS_STATUS_INVALID_LAYOUT);
  const std::vector<int32_t> out_of_range = {2, 0, 0, 0}, rep = {0, 0, 0, 0};
  EXPECT_EQ(bst_create_kv_blocks(&plan, &p, 2, 2, 2, out_of_range.data(), idx.data(), 2, nullptr),
            BS_STATUS_INVALID_LAYOUT);  // index 9
  EXPECT_EQ(bst_create_kv_blocks(&plan, &p, 2, 2, 2, out_of_range.data(), rep.data(), 2, nullptr),
            BS_STATUS_INVALID_LAYOUT);  // repeat
  EXPECT_EQ(plan, nullptr);
}

class BstBadExecute : public ::testing::Test {
 protected:
  void SetUp() override {
    const bst_params_t p = params();
    ASSERT_EQ(create(&plan_, p), BS_STATUS_SUCCESS);
    ASSERT_EQ(bst_get_attr(plan_, BST_ATTR_SCORE_BLOCKS, &blocks_), BS_STATUS_SUCCESS);
    ASSERT_EQ(blocks_, 4);
  }
  void TearDown() override { EXPECT_EQ(bst_destroy(plan_), BS_STATUS_SUCCESS); }
  bst_plan_t plan_ = nullptr;
  int64_t blocks_ = 0;
};

TEST_F(BstBadExecute, Queries) {
  int64_t v = 0, shape[4];
  int32_t nd = 0;
  size_t bytes = 0;
  EXPECT_EQ(bst_destroy(nullptr), BS_STATUS_SUCCESS);
  EXPECT_EQ(bst_get_attr(nullptr, BST_ATTR_HEADS, &v), BS_STATUS_NULL_POINTER);
  EXPECT_EQ(bst_get_attr(plan_, BST_ATTR_HEADS, nullptr), BS_STATUS_NULL_POINTER);
  EXPECT_EQ(bst_get_attr(plan_, static_cast<bst_attr_t>(99), &v), BS_STATUS_INVALID_VALUE);
  EXPECT_EQ(bst_get_shape(plan_, BST_TENSOR_QUERY, -1, shape, &nd), BS_STATUS_INVALID_VALUE);
  EXPECT_EQ(bst_get_shape(plan_, static_cast<bst_tensor_t>(9), 1, shape, &nd), BS_STATUS_INVALID_VALUE);
  EXPECT_EQ(bst_get_shape(plan_, BST_TENSOR_QUERY, 1, nullptr, &nd), BS_STATUS_NULL_POINTER);
  EXPECT_EQ(bst_get_shape(plan_, BST_TENSOR_QUERY, std::numeric_limits<int64_t>::max() / 2, shape, &nd),
            BS_STATUS_OVERFLOW);
  ASSERT_EQ(bst_get_shape(plan_, BST_TENSOR_SCORES, 3, shape, &nd), BS_STATUS_SUCCESS);
  EXPECT_TRUE(nd == 4 && shape[0] == 3 && shape[1] == 4 && shape[2] == 8 && shape[3] == 8);
  int64_t h, i, j;
  EXPECT_EQ(bst_block_coord(plan_, 4, &h, &i, &j), BS_STATUS_INVALID_VALUE);
  EXPECT_EQ(bst_block_coord(plan_, -1, &h, &i, &j), BS_STATUS_INVALID_VALUE);
  EXPECT_EQ(bst_block_coord(plan_, 0, nullptr, &i, &j), BS_STATUS_NULL_POINTER);
  std::vector<uint8_t> l(8, 7);
  EXPECT_EQ(bst_get_layout(plan_, l.data(), 7), BS_STATUS_SHAPE_MISMATCH);
  EXPECT_EQ(l, std::vector<uint8_t>(8, 7));
  EXPECT_EQ(bst_get_layout(plan_, nullptr, 8), BS_STATUS_NULL_POINTER);
  EXPECT_EQ(bst_get_workspace_size(plan_, static_cast<bst_op_t>(7), 1, &bytes), BS_STATUS_INVALID_VALUE);
  EXPECT_EQ(bst_get_workspace_size(plan_, BST_OP_SDD, -1, &bytes), BS_STATUS_INVALID_VALUE);
  EXPECT_EQ(bst_get_workspace_size(plan_, BST_OP_SDD, 1, nullptr), BS_STATUS_NULL_POINTER);
}

TEST_F(BstBadExecute, ExecuteWritesNothing) {
  const bs_backend_t cpu = BS_BACKEND_CPU;
  const int64_t nq = 16 * 2 * 8, ns = blocks_ * 64, nl = 2 * 16;
  std::mt19937_64 rng(3);
  const HostTensor q = HostTensor::random(BS_DTYPE_F32, nq, rng);
  TestBuffer a(cpu, q), b(cpu, q), c(cpu, q), d(cpu, q), e(cpu, q);
  TestBuffer s(cpu, HostTensor::random(BS_DTYPE_F32, ns, rng)), lse(cpu, HostTensor::random(BS_DTYPE_F32, nl, rng));
  TestBuffer out(cpu, q.bytes().size()), out2(cpu, q.bytes().size()), out3(cpu, q.bytes().size());
  TestBuffer sout(cpu, ns * 4), mis(cpu, q.bytes().size(), 2);
  size_t ws_bytes = 0;
  ASSERT_EQ(bst_get_workspace_size(plan_, BST_OP_ATTENTION_BPROP, 1, &ws_bytes), BS_STATUS_SUCCESS);
  ASSERT_GT(ws_bytes, 0u);
  TestBuffer ws(cpu, ws_bytes);
  const auto before = std::vector<std::vector<uint8_t>>{out.snapshot(), out2.snapshot(), out3.snapshot(), sout.snapshot()};
  const float nan = std::nanf("");
  const float inf = std::numeric_limits<float>::infinity();
  void* W = ws.data();
  const size_t WB = ws_bytes;
  // Each call must fail with the status given.
  EXPECT_EQ(bst_sdd(nullptr, 1, a.data(), b.data(), sout.data(), W, WB, nullptr), BS_STATUS_NULL_POINTER);
  EXPECT_EQ(bst_sdd(plan_, -1, a.data(), b.data(), sout.data(), W, WB, nullptr), BS_STATUS_INVALID_VALUE);
  EXPECT_EQ(bst_sdd(plan_, 1, nullptr, b.data(), sout.data(), W, WB, nullptr), BS_STATUS_NULL_POINTER);
  EXPECT_EQ(bst_sdd(plan_, 1, a.data(), b.data(), nullptr, W, WB, nullptr), BS_STATUS_NULL_POINTER);
  EXPECT_EQ(bst_sdd(plan_, 1, mis.data(), b.data(), sout.data(), W, WB, nullptr), BS_STATUS_MISALIGNED_POINTER);
  EXPECT_EQ(bst_sdd(plan_, 1, a.data(), b.data(), sout.data(), W, 1, nullptr), BS_STATUS_WORKSPACE_TOO_SMALL);
  EXPECT_EQ(bst_sdd(plan_, 1, a.data(), b.data(), sout.data(), nullptr, WB, nullptr), BS_STATUS_NULL_POINTER);
  EXPECT_EQ(bst_sdd(plan_, std::numeric_limits<int64_t>::max() / 8, a.data(), b.data(), sout.data(), W, WB, nullptr),
            BS_STATUS_OVERFLOW);
  EXPECT_EQ(bst_softmax(plan_, 1, s.data(), nan, sout.data(), W, WB, nullptr), BS_STATUS_INVALID_VALUE);
  EXPECT_EQ(bst_softmax(plan_, 1, s.data(), 1.0f, nullptr, W, WB, nullptr), BS_STATUS_NULL_POINTER);
  EXPECT_EQ(bst_softmax(plan_, 1, sout.data(), 1.0f, static_cast<char*>(sout.data()) + 4, W, WB, nullptr),
            BS_STATUS_INVALID_VALUE);  // partial overlap
  EXPECT_EQ(bst_softmax_grad(plan_, 1, s.data(), nullptr, 1.0f, sout.data(), W, WB, nullptr), BS_STATUS_NULL_POINTER);
  EXPECT_EQ(bst_softmax_grad(plan_, 1, s.data(), sout.data(), inf, sout.data(), W, WB, nullptr), BS_STATUS_INVALID_VALUE);
  EXPECT_EQ(bst_softmax_grad(plan_, 1, sout.data(), s.data(), 1.0f, sout.data(), W, WB, nullptr), BS_STATUS_INVALID_VALUE);
  EXPECT_EQ(bst_dsd(plan_, 1, s.data(), b.data(), nullptr, W, WB, nullptr), BS_STATUS_NULL_POINTER);
  EXPECT_EQ(bst_dsd(plan_, 1, s.data(), out.data(), out.data(), W, WB, nullptr), BS_STATUS_INVALID_VALUE);
  EXPECT_EQ(bst_dsd(plan_, 1, s.data(), b.data(), out.data(), W, 0, nullptr), BS_STATUS_WORKSPACE_TOO_SMALL);
  EXPECT_EQ(bst_dsd_t(plan_, 1, nullptr, a.data(), out.data(), W, WB, nullptr), BS_STATUS_NULL_POINTER);
  EXPECT_EQ(bst_dsd_t(plan_, 1, s.data(), a.data(), mis.data(), W, WB, nullptr), BS_STATUS_MISALIGNED_POINTER);
  EXPECT_EQ(bst_attention_fprop(plan_, 1, a.data(), b.data(), c.data(), 1.0f, 0.0f, 0, 0, out.data(), out2.f32(), W, WB,
                                nullptr),
            BS_STATUS_INVALID_VALUE);  // keep_prob 0
  EXPECT_EQ(bst_attention_fprop(plan_, 1, a.data(), b.data(), c.data(), 1.0f, 1.5f, 0, 0, out.data(), out2.f32(), W, WB,
                                nullptr),
            BS_STATUS_INVALID_VALUE);
  EXPECT_EQ(bst_attention_fprop(plan_, 1, a.data(), b.data(), c.data(), nan, 1.0f, 0, 0, out.data(), out2.f32(), W, WB,
                                nullptr),
            BS_STATUS_INVALID_VALUE);
  EXPECT_EQ(bst_attention_fprop(plan_, 1, a.data(), nullptr, c.data(), 1.0f, 1.0f, 0, 0, out.data(), out2.f32(), W, WB,
                                nullptr),
            BS_STATUS_NULL_POINTER);
  EXPECT_EQ(bst_attention_fprop(plan_, 1, a.data(), b.data(), c.data(), 1.0f, 1.0f, 0, 0, out.data(),
                                static_cast<float*>(out.data()), W, WB, nullptr),
            BS_STATUS_INVALID_VALUE);  // lse overlaps o
  EXPECT_EQ(bst_attention_fprop(plan_, 1, a.data(), b.data(), c.data(), 1.0f, 1.0f, 0, 0, out.data(), out2.f32(), W, 8,
                                nullptr),
            BS_STATUS_WORKSPACE_TOO_SMALL);
  EXPECT_EQ(bst_attention_bprop(plan_, 1, a.data(), b.data(), c.data(), d.data(), e.data(), nullptr, 1.0f, 1.0f, 0, 0,
                                out.data(), out2.data(), out3.data(), W, WB, nullptr),
            BS_STATUS_NULL_POINTER);  // lse
  EXPECT_EQ(bst_attention_bprop(plan_, 1, a.data(), b.data(), c.data(), d.data(), e.data(), lse.f32(), 1.0f, 1.0f, 0, 0,
                                out.data(), out.data(), out3.data(), W, WB, nullptr),
            BS_STATUS_INVALID_VALUE);  // dq == dk
  EXPECT_EQ(bst_attention_bprop(plan_, 1, a.data(), b.data(), c.data(), d.data(), e.data(), lse.f32(), 1.0f, 1.0f, 0, 0,
                                out.data(), out2.data(), out3.data(), W, WB - 1, nullptr),
            BS_STATUS_WORKSPACE_TOO_SMALL);
  EXPECT_EQ(bst_attention_bprop(plan_, 1, a.data(), b.data(), c.data(), d.data(), e.data(), lse.f32(), 1.0f, -1.0f, 0,
                                0, out.data(), out2.data(), out3.data(), W, WB, nullptr),
            BS_STATUS_INVALID_VALUE);
  EXPECT_GT(last_error_len(), 0u);
  EXPECT_EQ(out.snapshot(), before[0]);
  EXPECT_EQ(out2.snapshot(), before[1]);
  EXPECT_EQ(out3.snapshot(), before[2]);
  EXPECT_EQ(sout.snapshot(), before[3]);
  // batch 0 is a no-op that accepts NULL pointers.
  EXPECT_EQ(bst_sdd(plan_, 0, nullptr, nullptr, nullptr, nullptr, 0, nullptr), BS_STATUS_SUCCESS);
  EXPECT_EQ(bst_attention_fprop(plan_, 0, nullptr, nullptr, nullptr, 1.0f, 1.0f, 0, 0, nullptr, nullptr, nullptr, 0,
                                nullptr),
            BS_STATUS_SUCCESS);
}

}  // namespace
}  // namespace bs_test
