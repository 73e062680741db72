// One plan of each family shared by 8 threads, each running the family's execute functions on its
// own outputs and workspace; every thread's results must equal a single-threaded run bitwise
// (plans are immutable and CPU results deterministic for a given num_threads). Built with
// ThreadSanitizer (BS_TSAN=ON), which fails the test on any data race inside the library,
// including its OpenMP regions (libomp's Archer tool).
#include <blocksparse/blocksparse.h>
#include <gtest/gtest.h>

#include <cstring>
#include <functional>
#include <thread>
#include <vector>

namespace {

constexpr int kThreads = 8;

std::vector<float> values(size_t n, uint32_t seed) {
  std::vector<float> v(n);
  for (auto& x : v) {
    seed = seed * 1664525u + 1013904223u;
    x = static_cast<float>(seed >> 8) / 8388608.0f - 1.0f;
  }
  return v;
}

// Runs `run(out)` once alone, then on kThreads threads at once; all outputs bitwise equal.
void expect_shared_equal(size_t out_count, const std::function<bs_status_t(std::vector<float>&)>& run) {
  std::vector<float> alone(out_count, -1.0f);
  ASSERT_EQ(run(alone), BS_STATUS_SUCCESS);
  std::vector<std::vector<float>> outs(kThreads, std::vector<float>(out_count, -2.0f));
  std::vector<bs_status_t> status(kThreads, BS_STATUS_INTERNAL_ERROR);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) threads.emplace_back([&, t] { status[t] = run(outs[t]); });
  for (auto& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_EQ(status[t], BS_STATUS_SUCCESS) << "thread " << t;
    EXPECT_EQ(std::memcmp(outs[t].data(), alone.data(), out_count * sizeof(float)), 0) << "thread " << t;
  }
}

TEST(PlanSharing, Bsmm) {
  const int64_t CB = 4, KB = 3, b = 16, N = 24;
  const uint8_t layout[CB * KB] = {1, 0, 1, 0, 1, 1, 1, 1, 0, 0, 0, 1};
  bsmm_params_t p;
  BSMM_PARAMS_INIT(&p);
  p.block_size = b;
  p.num_threads = 2;
  bsmm_plan_t plan = nullptr;
  ASSERT_EQ(bsmm_create(&plan, &p, layout, CB, KB), BS_STATUS_SUCCESS);
  int64_t nnz = 0;
  ASSERT_EQ(bsmm_get_attr(plan, BSMM_ATTR_NNZ_BLOCKS, &nnz), BS_STATUS_SUCCESS);
  const size_t nx = N * CB * b, ny = N * KB * b, nw = static_cast<size_t>(nnz * b * b);
  const auto x = values(nx, 1), dy = values(ny, 2), w = values(nw, 3);
  for (bsmm_op_t op : {BSMM_OP_FPROP, BSMM_OP_BPROP, BSMM_OP_UPDAT}) {
    size_t ws_bytes = 0;
    ASSERT_EQ(bsmm_get_workspace_size(plan, op, N, &ws_bytes), BS_STATUS_SUCCESS);
    const size_t n_out = op == BSMM_OP_FPROP ? ny : op == BSMM_OP_BPROP ? nx : nw;
    expect_shared_equal(n_out, [&](std::vector<float>& out) {
      std::vector<unsigned char> ws(ws_bytes + 1);
      const void* xs[1] = {x.data()};
      const void* dys[1] = {dy.data()};
      switch (op) {
        case BSMM_OP_FPROP: return bsmm_fprop(plan, N, x.data(), w.data(), out.data(), 1.0f, 0.0f, nullptr, ws.data(), ws_bytes, nullptr);
        case BSMM_OP_BPROP: return bsmm_bprop(plan, N, dy.data(), w.data(), out.data(), 1.0f, 0.0f, nullptr, ws.data(), ws_bytes, nullptr);
        default: return bsmm_updat(plan, N, 1, xs, dys, out.data(), 1.0f, 0.0f, nullptr, ws.data(), ws_bytes, nullptr);
      }
    });
  }
  EXPECT_EQ(bsmm_destroy(plan), BS_STATUS_SUCCESS);
}

TEST(PlanSharing, Layernorm) {
  const int64_t K = 96, N = 20;
  layernorm_params_t p;
  LAYERNORM_PARAMS_INIT(&p);
  p.K = K;
  p.segments = 2;
  p.relu = 1;
  p.num_threads = 2;
  for (int32_t axis : {0, 1}) {
    p.feature_axis = axis;
    layernorm_plan_t plan = nullptr;
    ASSERT_EQ(layernorm_create(&plan, &p), BS_STATUS_SUCCESS);
    const auto x = values(N * K, 4), dy = values(N * K, 5), gain = values(K, 6), bias = values(K, 7);
    size_t fw = 0, bw = 0;
    ASSERT_EQ(layernorm_get_workspace_size(plan, LAYERNORM_OP_FPROP, N, &fw), BS_STATUS_SUCCESS);
    ASSERT_EQ(layernorm_get_workspace_size(plan, LAYERNORM_OP_BPROP, N, &bw), BS_STATUS_SUCCESS);
    // Output: y, mean, rstd, dx, dgain, dbias in one vector.
    const size_t NK = N * K, S2 = 2 * N;
    expect_shared_equal(2 * NK + 2 * S2 + 2 * K, [&](std::vector<float>& out) {
      std::vector<unsigned char> ws(std::max(fw, bw) + 1);
      float* y = out.data();
      float* mean = y + NK;
      float* rstd = mean + S2;
      float* dx = rstd + S2;
      float* dgain = dx + NK;
      float* dbias = dgain + K;
      bs_status_t st = layernorm_fprop(plan, N, x.data(), gain.data(), bias.data(), y, mean, rstd, ws.data(), fw, nullptr);
      if (st != BS_STATUS_SUCCESS) return st;
      return layernorm_bprop(plan, N, dy.data(), x.data(), gain.data(), bias.data(), mean, rstd, dx, dgain, dbias,
                             ws.data(), bw, nullptr);
    });
    EXPECT_EQ(layernorm_destroy(plan), BS_STATUS_SUCCESS);
  }
}

TEST(PlanSharing, SparseProj) {
  const int64_t nhidden = 40, nproj = 9, N = 33;
  const int64_t lut[nproj] = {3, 39, 0, 17, 8, 22, 5, 31, 12};
  bs_sparse_proj_params_t p;
  BS_SPARSE_PROJ_PARAMS_INIT(&p);
  p.nhidden = nhidden;
  p.nproj = nproj;
  bs_sparse_proj_plan_t plan = nullptr;
  ASSERT_EQ(bs_sparse_proj_create(&plan, &p, lut), BS_STATUS_SUCCESS);
  const auto xh = values(N * nhidden, 8), xp = values(N * nproj, 9);
  const size_t nh = N * nhidden, np = N * nproj;
  expect_shared_equal(np + 2 * nh, [&](std::vector<float>& out) {
    bs_status_t st = bs_sparse_proj_gather(plan, N, xh.data(), out.data(), nullptr);
    if (st == BS_STATUS_SUCCESS) st = bs_sparse_proj_scatter_add(plan, N, xh.data(), xp.data(), out.data() + np, nullptr);
    if (st == BS_STATUS_SUCCESS) st = bs_sparse_proj_scatter_mul(plan, N, xh.data(), xp.data(), out.data() + np + nh, nullptr);
    return st;
  });
  EXPECT_EQ(bs_sparse_proj_destroy(plan), BS_STATUS_SUCCESS);
}

// The stateless ops share nothing but the library's OpenMP pool: run one element-wise op from 8 threads.
TEST(PlanSharing, EwBiasAct) {
  const int64_t N = 64, C = 48;
  const auto x = values(N * C, 10), bias = values(C, 11);
  expect_shared_equal(N * C, [&](std::vector<float>& out) {
    return bs_bias_act(BS_BACKEND_CPU, BS_ACT_RELU, BS_DTYPE_F32, 1, N, C, x.data(), bias.data(), out.data(), nullptr);
  });
}

}  // namespace
