// bs_batchnorm_* and bs_cwise_linear_* against float64 references.
#include "ops_test_util.hpp"

namespace opstest {
namespace {

class Norms : public OpsTest {};

struct Ncs {
  int64_t N, C, S;
  size_t n() const { return static_cast<size_t>(N * C * S); }
  size_t at(int64_t i, int64_t c, int64_t s) const { return static_cast<size_t>((i * C + c) * S + s); }
};

TEST_P(Norms, BatchnormTrainInferAndBackward) {
  for (const Ncs sh : {Ncs{4, 5, 33}, Ncs{65, 70, 1}, Ncs{1, 3, 1000}})
    for (bool affine : {true, false}) {
      SCOPED_TRACE(::testing::Message() << sh.N << "x" << sh.C << "x" << sh.S << " affine " << affine);
      const double eps = 1e-4;
      const auto x = rnd(sh.n(), 1.0, 3.0), dy = rnd(sh.n());
      const auto g = affine ? rnd_f32(sh.C, 0.5, 1.5) : std::vector<double>(sh.C, 1.0);
      const auto b = affine ? rnd_f32(sh.C) : std::vector<double>(sh.C, 0.0);
      const double M = static_cast<double>(sh.N * sh.S);
      std::vector<double> mean(sh.C, 0), var(sh.C, 0), y(sh.n()), dx(sh.n()), dxi(sh.n()), dg(sh.C, 0), db(sh.C, 0);
      for (int64_t c = 0; c < sh.C; ++c) {
        for (int64_t i = 0; i < sh.N; ++i)
          for (int64_t s = 0; s < sh.S; ++s) mean[c] += x[sh.at(i, c, s)] / M;
        for (int64_t i = 0; i < sh.N; ++i)
          for (int64_t s = 0; s < sh.S; ++s) var[c] += (x[sh.at(i, c, s)] - mean[c]) * (x[sh.at(i, c, s)] - mean[c]) / M;
        const double rstd = 1 / std::sqrt(var[c] + eps);
        for (int64_t i = 0; i < sh.N; ++i)
          for (int64_t s = 0; s < sh.S; ++s) {
            const size_t e = sh.at(i, c, s);
            const double xhat = (x[e] - mean[c]) * rstd;
            y[e] = g[c] * xhat + b[c];
            db[c] += dy[e];
            dg[c] += dy[e] * xhat;
          }
        for (int64_t i = 0; i < sh.N; ++i)
          for (int64_t s = 0; s < sh.S; ++s) {
            const size_t e = sh.at(i, c, s);
            const double xhat = (x[e] - mean[c]) * rstd;
            dx[e] = g[c] * rstd * (dy[e] - db[c] / M - xhat * dg[c] / M);
            dxi[e] = g[c] * rstd * dy[e];
          }
      }
      auto bx = in(x), bdy = in(dy), bg = in_f32(g), bb = in_f32(b);
      auto by = out(sh.n()), bm = out_f32(sh.C), bv = out_f32(sh.C), bdx = out(sh.n()), bdg = out_f32(sh.C),
           bdb = out_f32(sh.C);
      const float* gp = affine ? bg->f32() : nullptr;
      const float* bp = affine ? bb->f32() : nullptr;
      BS_OK(bs_batchnorm_fprop_train(be(), dt(), sh.N, sh.C, sh.S, bx->ptr(), gp, bp, eps, by->ptr(), bm->f32(),
                                     bv->f32(), nullptr));
      OPS_EXPECT_CLOSE(*by, dt(), y, 2 * tol(dt()));
      OPS_EXPECT_CLOSE(*bm, BS_DTYPE_F32, mean, 1e-5);
      OPS_EXPECT_CLOSE(*bv, BS_DTYPE_F32, var, 1e-4);
      BS_OK(bs_batchnorm_bprop(be(), dt(), 1, sh.N, sh.C, sh.S, bdy->ptr(), bx->ptr(), gp, bm->f32(), bv->f32(), eps,
                               bdx->ptr(), bdg->f32(), bdb->f32(), nullptr));
      OPS_EXPECT_CLOSE(*bdx, dt(), dx, dt() == BS_DTYPE_F32 ? 1e-4 : 2e-2);
      OPS_EXPECT_CLOSE(*bdg, BS_DTYPE_F32, dg, 1e-4);
      OPS_EXPECT_CLOSE(*bdb, BS_DTYPE_F32, db, 1e-5);
      // Inference with the float64 statistics given as fp32.
      auto bm64 = in_f32(mean), bv64 = in_f32(var), byi = out(sh.n()), bdxi = out(sh.n());
      BS_OK(bs_batchnorm_fprop_infer(be(), dt(), sh.N, sh.C, sh.S, bx->ptr(), gp, bp, bm64->f32(), bv64->f32(), eps,
                                     byi->ptr(), nullptr));
      OPS_EXPECT_CLOSE(*byi, dt(), y, 2 * tol(dt()));
      BS_OK(bs_batchnorm_bprop(be(), dt(), 0, sh.N, sh.C, sh.S, bdy->ptr(), bx->ptr(), gp, bm64->f32(), bv64->f32(),
                               eps, bdxi->ptr(), nullptr, nullptr, nullptr));
      OPS_EXPECT_CLOSE(*bdxi, dt(), dxi, 2 * tol(dt()));
    }
}

TEST_P(Norms, CwiseLinear) {
  const Ncs sh{6, 17, 45};
  for (int relu = 0; relu <= 1; ++relu)
    for (int bias_first = 0; bias_first <= 1; ++bias_first)
      for (int which = 0; which < 3; ++which) {  // a and b, only a, only b
        SCOPED_TRACE(::testing::Message() << "relu " << relu << " bias_first " << bias_first << " which " << which);
        const bool has_a = which != 2, has_b = which != 1;
        const auto x = rnd(sh.n()), dy = rnd(sh.n());
        const auto a = has_a ? rnd_f32(sh.C, 0.5, 2) : std::vector<double>(sh.C, 1.0);
        const auto b = has_b ? rnd_f32(sh.C) : std::vector<double>(sh.C, 0.0);
        std::vector<double> y(sh.n()), dx(sh.n()), da(sh.C, 0), db(sh.C, 0);
        for (int64_t i = 0; i < sh.N; ++i)
          for (int64_t c = 0; c < sh.C; ++c)
            for (int64_t s = 0; s < sh.S; ++s) {
              const size_t e = sh.at(i, c, s);
              const double pre = bias_first ? a[c] * (x[e] + b[c]) : a[c] * x[e] + b[c];
              y[e] = relu && pre < 0 ? 0 : pre;
              const double gg = relu && !(pre > 0) ? 0 : dy[e];
              dx[e] = a[c] * gg;
              da[c] += gg * (bias_first ? x[e] + b[c] : x[e]);
              db[c] += bias_first ? a[c] * gg : gg;
            }
        auto bx = in(x), bdy = in(dy), ba = in_f32(a), bb = in_f32(b);
        auto by = out(sh.n()), bdx = out(sh.n()), bda = out_f32(sh.C), bdb = out_f32(sh.C);
        const float* ap = has_a ? ba->f32() : nullptr;
        const float* bp = has_b ? bb->f32() : nullptr;
        BS_OK(bs_cwise_linear_fprop(be(), dt(), sh.N, sh.C, sh.S, bx->ptr(), ap, bp, relu, bias_first, by->ptr(),
                                    nullptr));
        OPS_EXPECT_CLOSE(*by, dt(), y, tol(dt()));
        BS_OK(bs_cwise_linear_bprop(be(), dt(), sh.N, sh.C, sh.S, bdy->ptr(), bx->ptr(), ap, bp, relu, bias_first,
                                    bdx->ptr(), bda->f32(), bdb->f32(), nullptr));
        OPS_EXPECT_CLOSE(*bdx, dt(), dx, tol(dt()));
        OPS_EXPECT_CLOSE(*bda, BS_DTYPE_F32, da, dt() == BS_DTYPE_F32 ? 1e-5 : 1e-2);
        OPS_EXPECT_CLOSE(*bdb, BS_DTYPE_F32, db, dt() == BS_DTYPE_F32 ? 1e-5 : 1e-2);
      }
}

OPS_INSTANTIATE(Norms);

}  // namespace
}  // namespace opstest
