// Determinism (bsmm.h: "the same inputs give bitwise the same outputs"): the same call twice, CPU
// plans with 1 and 2 threads, and one plan used concurrently from several threads, for every op.
#include <gtest/gtest.h>

#include <thread>

#include "common/op_run.hpp"
#include "common/params.hpp"
#include "common/seed.hpp"

namespace bs_test {
namespace {

constexpr bsmm_op_t kOps[] = {BSMM_OP_FPROP, BSMM_OP_BPROP, BSMM_OP_UPDAT, BSMM_OP_L2_NORMALIZE,
                              BSMM_OP_L2_NORMALIZE_GRAD, BSMM_OP_IDENTITY_INIT};

OpCase case_for(bsmm_op_t op) {
  OpCase c;
  c.op = op;
  c.N = 131;  // several row tiles, so threads share the work
  c.n_pairs = 2;
  c.beta = 0.5f;
  c.gates = Gates::kRandom;
  c.gain = true;
  return c;
}

void expect_same(const Outputs& a, const Outputs& b, const std::string& what) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(bitwise_equal("output " + std::to_string(i), a[i].bytes(), b[i].bytes())) << what;
}

class BsmmDeterminism : public ::testing::TestWithParam<bs_backend_t> {
 protected:
  void SetUp() override { BS_SKIP_UNLESS_AVAILABLE(GetParam()); }
  PlanSetup setup(bs_dtype_t dt) const {
    PlanSetup s;
    s.backend = GetParam();
    s.dtype = dt;
    s.block_size = 16;
    return s;
  }
  std::mt19937_64 rng_ = test_rng();
};

TEST_P(BsmmDeterminism, SameCallTwiceIsBitwiseEqual) {
  const Layout layout = skewed_layout(6, 5, 1, rng_);
  for (bs_dtype_t dt : {BS_DTYPE_F32, BS_DTYPE_BF16}) {
    const PlanSetup s = setup(dt);
    const Plan plan = make_plan(s, layout);
    ASSERT_TRUE(plan);
    for (bsmm_op_t op : kOps) {
      const OpRun run(s, layout, case_for(op), rng_);
      const Outputs first = run.execute(plan.get());
      run.check(first);
      expect_same(first, run.execute(plan.get()), run.str());
    }
  }
}

// One plan, several threads at once, each with its own outputs and workspace.
TEST_P(BsmmDeterminism, ConcurrentCallsOnOnePlan) {
  const Layout layout = random_layout(5, 5, 0.5, rng_);
  const PlanSetup s = setup(BS_DTYPE_F32);
  const Plan plan = make_plan(s, layout);
  ASSERT_TRUE(plan);
  for (bsmm_op_t op : kOps) {
    const OpRun run(s, layout, case_for(op), rng_);
    const Outputs expected = run.execute(plan.get());
    run.check(expected);
    constexpr int kThreads = 4;
    std::vector<Outputs> got(kThreads);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t)
      threads.emplace_back([&, t] {
        for (int rep = 0; rep < 3; ++rep) got[static_cast<size_t>(t)] = run.execute(plan.get());
      });
    for (std::thread& t : threads) t.join();
    for (const Outputs& o : got) expect_same(expected, o, run.str() + " (concurrent)");
  }
}

INSTANTIATE_TEST_SUITE_P(Backend, BsmmDeterminism, all_backends(), backend_param_name);

// CPU plans: the thread count does not change a single bit (each output tile has one owner).
TEST(BsmmDeterminismCpu, OneAndTwoThreadsAreBitwiseEqual) {
  auto rng = test_rng();
  const Layout layout = skewed_layout(7, 6, 2, rng);
  for (bs_dtype_t dt : {BS_DTYPE_F32, BS_DTYPE_F16}) {
    PlanSetup one;
    one.dtype = dt;
    one.block_size = 8;
    one.num_threads = 1;
    PlanSetup two = one;
    two.num_threads = 2;
    const Plan p1 = make_plan(one, layout), p2 = make_plan(two, layout);
    ASSERT_TRUE(p1 && p2);
    for (bsmm_op_t op : kOps) {
      const OpRun run(one, layout, case_for(op), rng);
      const Outputs a = run.execute(p1.get());
      run.check(a);
      expect_same(a, run.execute(p2.get()), run.str() + " (1 vs 2 threads)");
    }
  }
}

// More threads than cores and than row tiles: the split of N into tiles must leave no tile past N
// (a GPU machine's 16 threads once made an empty tile with a negative row count).
TEST(BsmmDeterminismCpu, ManyThreadsMatchOneThread) {
  auto rng = test_rng();
  const Layout layout = skewed_layout(6, 5, 1, rng);
  PlanSetup one;
  one.block_size = 16;
  one.num_threads = 1;
  PlanSetup many = one;
  many.num_threads = 16;
  const Plan p1 = make_plan(one, layout), p16 = make_plan(many, layout);
  ASSERT_TRUE(p1 && p16);
  for (int64_t N : {1, 37, 131}) {
    for (bsmm_op_t op : kOps) {
      OpCase c = case_for(op);
      if (op == BSMM_OP_FPROP || op == BSMM_OP_BPROP || op == BSMM_OP_UPDAT) c.N = N;
      const OpRun run(one, layout, c, rng);
      const Outputs a = run.execute(p16.get());
      run.check(a);
      expect_same(a, run.execute(p1.get()), run.str() + " (16 vs 1 threads)");
    }
  }
}

}  // namespace
}  // namespace bs_test
