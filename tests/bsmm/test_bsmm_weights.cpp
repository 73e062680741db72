// The weight helpers: identity init (the c % KB == k % CB rule, and x·W = scale·x on a square
// layout with its diagonal), l2_normalize and its gradient with and without gain, with epsilon
// clamping and in place; and the documented gradient formula against a float64 finite difference.
#include <gtest/gtest.h>

#include <cmath>

#include "common/op_run.hpp"
#include "common/params.hpp"
#include "common/seed.hpp"
#include "common/status_check.hpp"

namespace bs_test {
namespace {

class BsmmWeights : public ::testing::TestWithParam<bs_backend_t> {
 protected:
  void SetUp() override { BS_SKIP_UNLESS_AVAILABLE(GetParam()); }
  PlanSetup setup(bs_dtype_t dtype, int32_t b, int32_t axis = 1) const {
    PlanSetup s;
    s.backend = GetParam();
    s.dtype = dtype;
    s.block_size = b;
    s.feature_axis = axis;
    return s;
  }
  std::mt19937_64 rng_ = test_rng();
};

constexpr bs_dtype_t kDtypes[] = {BS_DTYPE_F32, BS_DTYPE_F16, BS_DTYPE_BF16};

TEST_P(BsmmWeights, IdentityInitFollowsTheBlockRule) {
  OpCase c;
  c.op = BSMM_OP_IDENTITY_INIT;
  for (bs_dtype_t dt : kDtypes)
    for (float scale : {1.0f, -0.375f, 3.0f}) {
      c.scale = scale;
      check_op(setup(dt, 8), full_layout(3, 5), c, rng_);    // c % 5 == k % 3
      check_op(setup(dt, 16), full_layout(5, 2), c, rng_);   // c % 2 == k % 5
      check_op(setup(dt, 32), random_layout(4, 4, 0.5, rng_), c, rng_);
    }
  c.scale = 0.5f;
  check_op(setup(BS_DTYPE_BF16, 128), random_layout(2, 2, 0.7, rng_), c, rng_);
}

// On a square layout holding its diagonal, identity init makes fprop return scale·x exactly.
TEST_P(BsmmWeights, IdentityInitGivesScaledInput) {
  for (bs_dtype_t dt : kDtypes)
    for (int32_t axis : {0, 1}) {
      const PlanSetup s = setup(dt, 16, axis);
      Layout layout = random_layout(4, 4, 0.4, rng_);
      for (int64_t i = 0; i < 4; ++i) layout.mask[static_cast<size_t>(i * 4 + i)] = 1;
      const Plan plan = make_plan(s, layout);
      ASSERT_TRUE(plan);
      const RefGeometry g = s.geometry(layout);
      const int64_t N = 13;
      const HostTensor x = HostTensor::random(dt, N * g.C(), rng_);
      TestBuffer xb(s.backend, x), wb(s.backend, HostTensor::poison(dt, g.weight_count())),
          yb(s.backend, HostTensor::poison(dt, N * g.K()));
      TestBuffer ws = make_workspace(plan.get(), s.backend, BSMM_OP_FPROP, N);
      const float scale = 2.0f;  // a power of two: scale·x is exact in every dtype
      EXPECT_BS_OK(bsmm_identity_init(plan.get(), wb.data(), scale, nullptr));
      EXPECT_BS_OK(bsmm_fprop(plan.get(), N, xb.data(), wb.data(), yb.data(), 1.0f, 0.0f, nullptr, ws.data(),
                              ws.bytes(), nullptr));
      HostTensor want(dt, N * g.K());
      for (int64_t i = 0; i < want.count(); ++i) want.set(i, static_cast<float>(scale * x.at(i)));
      EXPECT_TRUE(bitwise_equal("y", yb.download(), want.bytes())) << s.str() << ", " << layout.str();
      EXPECT_TRUE(wb.guards_intact());
      EXPECT_TRUE(yb.guards_intact());
    }
}

TEST_P(BsmmWeights, L2Normalize) {
  Layout layout = random_layout(3, 4, 0.6, rng_);
  for (int64_t c = 0; c < 3; ++c) layout.mask[static_cast<size_t>(c * 4 + 1)] = 0;  // an empty block column
  layout.mask[0] = 1;
  for (bsmm_op_t op : {BSMM_OP_L2_NORMALIZE, BSMM_OP_L2_NORMALIZE_GRAD})
    for (bs_dtype_t dt : kDtypes)
      for (int variant = 0; variant < 8; ++variant) {
        OpCase c;
        c.op = op;
        c.gain = variant & 1;
        c.clamp_some = variant & 2;
        c.in_place = variant & 4;
        check_op(setup(dt, 16), layout, c, rng_);
      }
}

TEST_P(BsmmWeights, L2NormalizeLargeBlocks) {
  for (bsmm_op_t op : {BSMM_OP_L2_NORMALIZE, BSMM_OP_L2_NORMALIZE_GRAD})
    for (int32_t b : {8, 128}) {
      OpCase c;
      c.op = op;
      c.gain = true;
      check_op(setup(BS_DTYPE_F32, b), random_layout(2, 3, 0.6, rng_), c, rng_);
      check_op(setup(BS_DTYPE_BF16, b), full_layout(2, 2), c, rng_);
    }
}

INSTANTIATE_TEST_SUITE_P(Backend, BsmmWeights, all_backends(), backend_param_name);

// The reference gradient (written from bsmm.h's formula) against central differences of the
// reference l2_normalize, in float64: checks the documented formula itself, with and without gain
// and with clamped features (epsilon above their squared norm).
TEST(BsmmL2Reference, GradientMatchesFiniteDifference) {
  auto rng = test_rng();
  RefGeometry g{random_layout(3, 3, 0.6, rng), 4, 1};
  const int64_t count = g.weight_count();
  std::uniform_real_distribution<double> u(-1.0, 1.0), pos(0.5, 1.5);
  Vec w(static_cast<size_t>(count)), dy(w.size()), gain(static_cast<size_t>(g.K()));
  for (double& v : w) v = u(rng);
  for (double& v : dy) v = u(rng);
  for (double& v : gain) v = pos(rng);
  const Vec sumsq = ref_column_sumsq(g, w);
  // epsilon between the smallest and the largest squared norm (of non-empty features): some clamp.
  double lo = 1e300, hi = 0.0;
  for (int64_t j = 0; j < g.K(); ++j)
    if (!g.layout.col_empty(j / g.b)) {
      lo = std::min(lo, sumsq[static_cast<size_t>(j)]);
      hi = std::max(hi, sumsq[static_cast<size_t>(j)]);
    }
  for (double epsilon : {0.0, (lo + hi) / 2}) {
    for (const Vec* gp : {static_cast<const Vec*>(nullptr), static_cast<const Vec*>(&gain)}) {
      auto loss = [&](const Vec& wv, const Vec* gv) {
        const Vec y = ref_l2_normalize(g, wv, gv, epsilon);
        double s = 0.0;
        for (size_t i = 0; i < y.size(); ++i) s += dy[i] * y[i];
        return s;
      };
      const L2Grad grad = ref_l2_normalize_grad(g, dy, w, gp, epsilon);
      const double h = 1e-6;
      double max_err = 0.0;
      for (size_t e = 0; e < w.size(); ++e) {
        Vec wp = w, wm = w;
        wp[e] += h;
        wm[e] -= h;
        const double fd = (loss(wp, gp) - loss(wm, gp)) / (2 * h);
        max_err = std::max(max_err, std::fabs(fd - grad.dw[e]));
      }
      for (size_t j = 0; gp && j < gain.size(); ++j) {
        Vec gpl = gain, gmi = gain;
        gpl[j] += h;
        gmi[j] -= h;
        const double fd = (loss(w, &gpl) - loss(w, &gmi)) / (2 * h);
        max_err = std::max(max_err, std::fabs(fd - grad.dgain[j]));
      }
      EXPECT_LT(max_err, 1e-7) << "epsilon " << epsilon << (gp ? " with gain" : "") << ", layout " << g.layout.str();
    }
  }
}

}  // namespace
}  // namespace bs_test
