// bs_lstm_gates_*, bs_split4, bs_concat4 against float64 references.
#include "ops_test_util.hpp"

namespace opstest {
namespace {

double sig(double x) { return 1 / (1 + std::exp(-x)); }

class Lstm : public OpsTest {};

TEST_P(Lstm, GatesForwardBackward) {
  for (const int64_t K : {int64_t{1}, int64_t{24}, int64_t{129}})
    for (bool with_bias : {true, false})
      for (bool with_dc : {true, false}) {
        SCOPED_TRACE(::testing::Message() << "K " << K << " bias " << with_bias << " dc_next " << with_dc);
        const int64_t N = 19;
        const double fb = 1.0;
        const auto c = rnd(N * K, -2, 2), h = rnd(N * 4 * K, -2, 2), dcn = rnd(N * K), dhn = rnd(N * K);
        const auto b = with_bias ? rnd_f32(4 * K) : std::vector<double>(4 * K, 0.0);
        std::vector<double> cn(N * K), hn(N * K), dc(N * K), dh(N * 4 * K), db(4 * K, 0);
        for (int64_t n = 0; n < N; ++n)
          for (int64_t k = 0; k < K; ++k) {
            const size_t e = n * K + k;
            auto g = [&](int j) { return h[n * 4 * K + j * K + k] + b[j * K + k]; };
            const double ig = sig(g(0)), ug = std::tanh(g(1)), fg = sig(g(2) + fb), og = sig(g(3));
            cn[e] = fg * c[e] + ig * ug;
            const double t = std::tanh(cn[e]);
            hn[e] = og * t;
            const double dct = (with_dc ? dcn[e] : 0) + dhn[e] * og * (1 - t * t);
            dc[e] = dct * fg;
            const double d[4] = {dct * ug * ig * (1 - ig), dct * ig * (1 - ug * ug), dct * c[e] * fg * (1 - fg),
                                 dhn[e] * t * og * (1 - og)};
            for (int j = 0; j < 4; ++j) dh[n * 4 * K + j * K + k] = d[j];
          }
        auto bc = in(c), bh = in(h), bb = in_f32(b), bdcn = in(dcn), bdhn = in(dhn);
        auto bcn = out(N * K), bhn = out(N * K), bdc = out(N * K), bdh = out(N * 4 * K), bdb = out_f32(4 * K);
        const float* bp = with_bias ? bb->f32() : nullptr;
        BS_OK(bs_lstm_gates_fprop(be(), dt(), N, K, bc->ptr(), bh->ptr(), bp, 1.0f, bcn->ptr(), bhn->ptr(), nullptr));
        OPS_EXPECT_CLOSE(*bcn, dt(), cn, tol(dt()));
        OPS_EXPECT_CLOSE(*bhn, dt(), hn, tol(dt()));
        BS_OK(bs_lstm_gates_bprop(be(), dt(), N, K, with_dc ? bdcn->ptr() : nullptr, bdhn->ptr(), bc->ptr(),
                                  bh->ptr(), bp, 1.0f, bdc->ptr(), bdh->ptr(), bdb->f32(), nullptr));
        OPS_EXPECT_CLOSE(*bdc, dt(), dc, tol(dt()));
        OPS_EXPECT_CLOSE(*bdh, dt(), dh, std::max(tol(dt()), 2e-5));
        // dbias sums the stored dh: compare with the sum of what the backend stored.
        const auto dh_got = bdh->values(dt());
        for (int64_t n = 0; n < N; ++n)
          for (int64_t j = 0; j < 4 * K; ++j) db[j] += dh_got[n * 4 * K + j];
        OPS_EXPECT_CLOSE(*bdb, BS_DTYPE_F32, db, 1e-5);
      }
}

TEST_P(Lstm, Split4Concat4) {
  const int64_t N = 7, K = 13;
  const auto x = rnd(N * 4 * K);
  auto bx = in(x);
  std::unique_ptr<Buf> parts[4];
  void* pp[4];
  const void* cp[4];
  for (int g = 0; g < 4; ++g) {
    parts[g] = out(N * K);
    pp[g] = parts[g]->ptr();
    cp[g] = pp[g];
  }
  BS_OK(bs_split4(be(), dt(), N, K, bx->ptr(), pp, nullptr));
  for (int g = 0; g < 4; ++g) {
    std::vector<double> ref(N * K);
    for (int64_t n = 0; n < N; ++n)
      for (int64_t k = 0; k < K; ++k) ref[n * K + k] = x[n * 4 * K + g * K + k];
    OPS_EXPECT_CLOSE(*parts[g], dt(), ref, 0.0);
  }
  auto by = out(N * 4 * K);
  BS_OK(bs_concat4(be(), dt(), N, K, cp, by->ptr(), nullptr));
  OPS_EXPECT_CLOSE(*by, dt(), x, 0.0);
}

OPS_INSTANTIATE(Lstm);

}  // namespace
}  // namespace opstest
