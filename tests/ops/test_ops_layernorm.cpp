// layernorm_*: forward and backward against a float64 reference, every dtype, both feature axes,
// segments, fused ReLU, optional gain/bias/statistics, determinism, N = 0 and N = 1.
#include "ops_test_util.hpp"

namespace opstest {
namespace {

struct LnCase {
  int32_t axis, segments, relu;
  int64_t N, K;
  bool gain, bias;
};

struct LnRef {
  std::vector<double> y, mean, rstd, dx, dgain, dbias;
  std::vector<double> z;  // pre-activations (before the ReLU)
};

// Element (n, k) of a tensor in the case's layout.
int64_t at(const LnCase& c, int64_t n, int64_t k) { return c.axis == 1 ? n * c.K + k : k * c.N + n; }

LnRef reference(const LnCase& c, const std::vector<double>& x, const std::vector<double>& g,
                const std::vector<double>& b, const std::vector<double>& dy, double eps) {
  const int64_t S = c.segments, Ks = c.K / S;
  LnRef r;
  r.y.assign(x.size(), 0);
  r.z.assign(x.size(), 0);
  r.dx.assign(x.size(), 0);
  r.mean.assign(S * c.N, 0);
  r.rstd.assign(S * c.N, 0);
  r.dgain.assign(c.K, 0);
  r.dbias.assign(c.K, 0);
  for (int64_t n = 0; n < c.N; ++n)
    for (int64_t s = 0; s < S; ++s) {
      double m = 0, v = 0;
      for (int64_t k = s * Ks; k < (s + 1) * Ks; ++k) m += x[at(c, n, k)];
      m /= Ks;
      for (int64_t k = s * Ks; k < (s + 1) * Ks; ++k) v += (x[at(c, n, k)] - m) * (x[at(c, n, k)] - m);
      const double rs = 1 / std::sqrt(v / Ks + eps);
      r.mean[s * c.N + n] = m;
      r.rstd[s * c.N + n] = rs;
      double su = 0, sux = 0;
      std::vector<double> u(Ks), xh(Ks);
      for (int64_t k = s * Ks; k < (s + 1) * Ks; ++k) {
        const double xhat = (x[at(c, n, k)] - m) * rs, z = xhat * g[k] + b[k];
        r.z[at(c, n, k)] = z;
        r.y[at(c, n, k)] = c.relu && z < 0 ? 0 : z;
        const double d = c.relu && !(z > 0) ? 0 : dy[at(c, n, k)];
        r.dgain[k] += d * xhat;
        r.dbias[k] += d;
        u[k - s * Ks] = d * g[k];
        xh[k - s * Ks] = xhat;
        su += d * g[k];
        sux += d * g[k] * xhat;
      }
      for (int64_t k = 0; k < Ks; ++k) r.dx[at(c, n, s * Ks + k)] = rs * (u[k] - su / Ks - xh[k] * sux / Ks);
    }
  return r;
}

class LayerNorm : public OpsTest {
 protected:
  layernorm_plan_t make(const LnCase& c, int32_t deterministic = 1) {
    layernorm_params_t p;
    EXPECT_EQ(LAYERNORM_PARAMS_INIT(&p), BS_STATUS_SUCCESS);
    p.backend = be();
    p.dtype = dt();
    p.feature_axis = c.axis;
    p.segments = c.segments;
    p.K = c.K;
    p.relu = c.relu;
    p.epsilon = 1e-5f;
    p.deterministic = deterministic;
    layernorm_plan_t plan = nullptr;
    EXPECT_EQ(layernorm_create(&plan, &p), BS_STATUS_SUCCESS);
    return plan;
  }

  void run_case(const LnCase& c) {
    SCOPED_TRACE(::testing::Message() << "axis " << c.axis << " S " << c.segments << " relu " << c.relu << " N "
                                      << c.N << " K " << c.K << " gain " << c.gain << " bias " << c.bias);
    layernorm_plan_t plan = make(c);
    ASSERT_NE(plan, nullptr);
    const size_t n = static_cast<size_t>(c.N * c.K), ns = static_cast<size_t>(c.N * c.segments);
    // A mean far from 0 checks the variance is not computed as E[x²]-E[x]² naively.
    auto dy = rnd(n);
    const auto g = c.gain ? rnd_f32(c.K, 0.5, 1.5) : std::vector<double>(c.K, 1.0);
    const auto b = c.bias ? rnd_f32(c.K, -0.5, 0.5) : std::vector<double>(c.K, 0.0);
    const auto x = rnd(n, 2.0, 4.0);
    LnRef r = reference(c, x, g, b, dy, 1e-5);
    if (c.relu) {
      // fp32 statistics may put a pre-activation within ~1e-6 of 0 on the other side of the ReLU
      // kink than float64 does; where |z| is that small the gradient must not depend on the side,
      // so dy is 0 there (about 0.1% of the elements).
      for (size_t i = 0; i < n; ++i)
        if (std::fabs(r.z[i]) < 1e-3) dy[i] = 0.0;
      r = reference(c, x, g, b, dy, 1e-5);
    }
    auto bx = in(x), bdy = in(dy), bg = in_f32(g), bb = in_f32(b);
    auto by = out(n), bdx = out(n), bm = out_f32(ns), brs = out_f32(ns), bdg = out_f32(c.K), bdb = out_f32(c.K);
    size_t wf = 0, wb = 0;
    BS_OK(layernorm_get_workspace_size(plan, LAYERNORM_OP_FPROP, c.N, &wf));
    BS_OK(layernorm_get_workspace_size(plan, LAYERNORM_OP_BPROP, c.N, &wb));
    Buf ws(be(), std::max(wf, wb));
    const float* gp = c.gain ? bg->f32() : nullptr;
    const float* bp = c.bias ? bb->f32() : nullptr;
    BS_OK(layernorm_fprop(plan, c.N, bx->ptr(), gp, bp, by->ptr(), bm->f32(), brs->f32(), ws.ptr(), wf, nullptr));
    OPS_EXPECT_CLOSE(*by, dt(), r.y, 4 * tol(dt()));
    OPS_EXPECT_CLOSE(*bm, BS_DTYPE_F32, r.mean, 1e-5);
    OPS_EXPECT_CLOSE(*brs, BS_DTYPE_F32, r.rstd, 1e-4);
    BS_OK(layernorm_bprop(plan, c.N, bdy->ptr(), bx->ptr(), gp, bp, bm->f32(), brs->f32(), bdx->ptr(), bdg->f32(),
                          bdb->f32(), ws.ptr(), wb, nullptr));
    // The backward runs on the rounded x, and for 16-bit types the ReLU mask of the rounded y may
    // differ from float64 at z ≈ 0: the bound for dx allows a few such flips.
    OPS_EXPECT_CLOSE(*bdx, dt(), r.dx, (dt() == BS_DTYPE_F32 ? 1e-4 : 2e-2));
    OPS_EXPECT_CLOSE(*bdg, BS_DTYPE_F32, r.dgain, dt() == BS_DTYPE_F32 ? 1e-4 : 1e-2);
    OPS_EXPECT_CLOSE(*bdb, BS_DTYPE_F32, r.dbias, dt() == BS_DTYPE_F32 ? 1e-5 : 1e-2);
    // Deterministic plan: a second backward gives bitwise the same parameter gradients.
    auto bdg2 = out_f32(c.K), bdb2 = out_f32(c.K), bdx2 = out(n);
    BS_OK(layernorm_bprop(plan, c.N, bdy->ptr(), bx->ptr(), gp, bp, bm->f32(), brs->f32(), bdx2->ptr(), bdg2->f32(),
                          bdb2->f32(), ws.ptr(), wb, nullptr));
    EXPECT_EQ(bdg->download(), bdg2->download());
    EXPECT_EQ(bdb->download(), bdb2->download());
    EXPECT_EQ(bdx->download(), bdx2->download());
    // Forward without saved statistics gives the same y; backward without dgain/dbias the same dx.
    auto by2 = out(n), bdx3 = out(n);
    BS_OK(layernorm_fprop(plan, c.N, bx->ptr(), gp, bp, by2->ptr(), nullptr, nullptr, ws.ptr(), wf, nullptr));
    EXPECT_EQ(by->download(), by2->download());
    BS_OK(layernorm_bprop(plan, c.N, bdy->ptr(), bx->ptr(), gp, bp, bm->f32(), brs->f32(), bdx3->ptr(), nullptr,
                          nullptr, ws.ptr(), wb, nullptr));
    EXPECT_EQ(bdx->download(), bdx3->download());
    BS_OK(layernorm_destroy(plan));
  }
};

TEST_P(LayerNorm, FeaturesLast) {
  for (int32_t relu : {0, 1})
    for (int32_t S : {1, 4}) run_case({1, S, relu, 37, 256, true, true});
  run_case({1, 1, 0, 1, 1000, true, false});   // N = 1, K not a multiple of the vector width
  run_case({1, 2, 0, 5, 6, false, true});      // tiny segments
  run_case({1, 1, 1, 64, 4096, true, true});   // the usual width
  run_case({1, 1, 0, 3, 20000, false, false}); // wider than one CUDA block holds in registers
  run_case({1, 1, 0, 3000, 1024, true, true});  // more rows than CUDA CTAs: rows and dgain/dbias partials loop
  run_case({1, 2, 1, 33, 80, false, true});     // CUDA register-row forward, one warp: segments of whole units, NULL gain
  run_case({1, 1, 0, 5, 16384, true, true});    // CUDA register-row forward, 16 or 32 warps
  run_case({1, 1, 1, 2, 32768, true, true});    // the widest rows of the register-row forward (32 warps)
  run_case({1, 1, 0, 2, 40000, true, true});    // wider: the CUDA CTA-per-row pipelined forward
}

TEST_P(LayerNorm, FeaturesFirst) {
  for (int32_t relu : {0, 1})
    for (int32_t S : {1, 4}) run_case({0, S, relu, 37, 256, true, true});
  run_case({0, 1, 0, 1, 100, true, false});
  run_case({0, 1, 0, 300, 64, false, true});
  run_case({0, 2, 1, 129, 6, true, true});
  run_case({0, 1, 1, 1040, 24, true, true});  // rows of a multiple of 32 bytes in 16-bit: AVX2 bf16 aligned sweeps
}

// CPU: every output, dgain/dbias included, is bitwise the same whatever the plan's thread count
// (every cross-task reduction is partitioned by the shape only). Shapes with vector tails,
// segments, and features-first row chunks (2 per segment at K = 200, 16 at K = 1000).
TEST_P(LayerNorm, CpuResultsIndependentOfThreadCount) {
  if (be() != BS_BACKEND_CPU) GTEST_SKIP() << "the thread count is a CPU plan parameter";
  for (const LnCase& c : {LnCase{1, 2, 1, 301, 200, true, true}, LnCase{0, 2, 1, 301, 200, true, true},
                          LnCase{0, 1, 0, 1000, 24, false, true}, LnCase{0, 1, 1, 37, 1000, true, false},
                          LnCase{0, 1, 0, 1040, 40, true, true}}) {  // panels of 1-3 threads start 32-byte aligned or not
    SCOPED_TRACE(::testing::Message() << "axis " << c.axis << " N " << c.N << " K " << c.K);
    const size_t n = static_cast<size_t>(c.N * c.K), ns = static_cast<size_t>(c.N * c.segments);
    auto bx = in(rnd(n, 2.0, 4.0)), bdy = in(rnd(n)), bg = in_f32(rnd_f32(c.K, 0.5, 1.5)), bb = in_f32(rnd_f32(c.K));
    const float* gp = c.gain ? bg->f32() : nullptr;
    const float* bp = c.bias ? bb->f32() : nullptr;
    std::vector<std::vector<uint8_t>> first;
    for (int32_t threads : {1, 2, 3}) {
      layernorm_params_t p;
      BS_OK(LAYERNORM_PARAMS_INIT(&p));
      p.dtype = dt();
      p.feature_axis = c.axis;
      p.segments = c.segments;
      p.K = c.K;
      p.relu = c.relu;
      p.num_threads = threads;
      layernorm_plan_t plan = nullptr;
      BS_OK(layernorm_create(&plan, &p));
      size_t wf = 0, wb = 0;
      BS_OK(layernorm_get_workspace_size(plan, LAYERNORM_OP_FPROP, c.N, &wf));
      BS_OK(layernorm_get_workspace_size(plan, LAYERNORM_OP_BPROP, c.N, &wb));
      Buf ws(be(), std::max(wf, wb));
      auto by = out(n), bdx = out(n), bm = out_f32(ns), brs = out_f32(ns), bdg = out_f32(c.K), bdb = out_f32(c.K);
      BS_OK(layernorm_fprop(plan, c.N, bx->ptr(), gp, bp, by->ptr(), bm->f32(), brs->f32(), ws.ptr(), wf, nullptr));
      BS_OK(layernorm_bprop(plan, c.N, bdy->ptr(), bx->ptr(), gp, bp, bm->f32(), brs->f32(), bdx->ptr(), bdg->f32(),
                            bdb->f32(), ws.ptr(), wb, nullptr));
      BS_OK(layernorm_destroy(plan));
      const std::vector<std::vector<uint8_t>> got{by->download(), bm->download(), brs->download(),
                                                  bdx->download(), bdg->download(), bdb->download()};
      if (first.empty())
        first = got;
      else
        for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i], first[i]) << "output " << i << ", " << threads << " threads";
    }
  }
}

// CPU, outputs larger than the last-level cache: y (features last) and dx (both axes) are written
// with non-temporal stores when the output and its rows are 16-byte aligned, with plain stores when
// the output is one element off. Both must give the same bits everywhere (dgain/dbias included),
// write every element and nothing outside. (The float64 checks above use small shapes, which take
// the plain stores.)
TEST_P(LayerNorm, CpuStreamingStoresSameBits) {
  if (be() != BS_BACKEND_CPU) GTEST_SKIP() << "non-temporal stores are a CPU kernel path";
  const size_t e = dsize(dt());
  const int64_t K = 128, N = static_cast<int64_t>((size_t{32} << 20) / e / K);  // 32 MiB outputs
  for (int32_t axis : {0, 1}) {
    SCOPED_TRACE(::testing::Message() << "axis " << axis);
    const LnCase c{axis, 1, 1, N, K, true, true};
    layernorm_plan_t plan = make(c);
    ASSERT_NE(plan, nullptr);
    const size_t n = static_cast<size_t>(N * K);
    auto bx = in(rnd(n, 2.0, 4.0)), bdy = in(rnd(n)), bg = in_f32(rnd_f32(K, 0.5, 1.5)), bb = in_f32(rnd_f32(K));
    auto bm = out_f32(N), brs = out_f32(N);
    size_t wf = 0, wb = 0;
    BS_OK(layernorm_get_workspace_size(plan, LAYERNORM_OP_FPROP, N, &wf));
    BS_OK(layernorm_get_workspace_size(plan, LAYERNORM_OP_BPROP, N, &wb));
    Buf ws(be(), std::max(wf, wb));
    std::vector<std::vector<uint8_t>> got[2];
    for (size_t off : {size_t{0}, e}) {
      Buf y(be(), n * e + off), dx(be(), n * e + off);
      auto bdg = out_f32(K), bdb = out_f32(K);
      void* py = static_cast<uint8_t*>(y.ptr()) + off;
      void* pdx = static_cast<uint8_t*>(dx.ptr()) + off;
      BS_OK(layernorm_fprop(plan, N, bx->ptr(), bg->f32(), bb->f32(), py, bm->f32(), brs->f32(), ws.ptr(), wf,
                            nullptr));
      BS_OK(layernorm_bprop(plan, N, bdy->ptr(), bx->ptr(), bg->f32(), bb->f32(), bm->f32(), brs->f32(), pdx,
                            bdg->f32(), bdb->f32(), ws.ptr(), wb, nullptr));
      std::vector<uint8_t> outs[2];
      for (int o = 0; o < 2; ++o) {
        const Buf& b = o == 0 ? y : dx;
        EXPECT_TRUE(b.guards_intact());
        const std::vector<uint8_t> all = b.download();
        outs[o].assign(all.begin() + static_cast<std::ptrdiff_t>(off), all.end());
        for (size_t i = 0; i < off; ++i) EXPECT_EQ(all[i], 0xFF) << "written before output " << o;
        size_t bad = 0;
        for (double v : decode(dt(), outs[o])) bad += !std::isfinite(v);
        EXPECT_EQ(bad, 0u) << "elements of output " << o << " not written (offset " << off << ")";
      }
      got[off ? 1 : 0] = {outs[0], outs[1], bdg->download(), bdb->download()};
    }
    EXPECT_TRUE(got[0][0] == got[1][0]) << "y differs between streaming and plain stores";
    EXPECT_TRUE(got[0][1] == got[1][1]) << "dx differs between streaming and plain stores";
    EXPECT_EQ(got[0][2], got[1][2]);
    EXPECT_EQ(got[0][3], got[1][3]);
    BS_OK(layernorm_destroy(plan));
  }
}

// CPU: the vector kernels' fp32 -> bf16/fp16 stores round to nearest even like a float64 reference,
// at ties, at the overflow threshold, for subnormal results and inputs, infinities and NaNs (bf16:
// the quieted NaN keeps its sign and top payload bits, as bs::to_bf16). With gain 0 every y is
// 0·xhat + bias = bias exactly, so the bias values reach the store unchanged. Both feature axes
// (different kernels), every value in a full vector (the scalar tails use the scalar conversion).
TEST_P(LayerNorm, CpuStoresRoundToNearestEven) {
  if (be() != BS_BACKEND_CPU) GTEST_SKIP() << "the vector rounding checked here is the CPU kernels'";
  constexpr int64_t K = 4096;
  std::vector<uint32_t> v = {
      0x00000001, 0x80000001, 0x00008000, 0x00018000, 0x00007fff, 0x00008001, 0x007fffff, 0x807f8000,  // subnormal
      0x3f808000, 0x3f818000, 0x3f807fff, 0x3f808001, 0xbf808000, 0xbf818000,                          // bf16 ties
      0x3f801000, 0x3f803000, 0x3f800fff, 0x3f801001, 0x33000000, 0x33000001, 0xb3800000, 0x38800000,  // fp16 ties/subnormal
      0x477fe000, 0x477ff000, 0x477fefff, 0xc77ff000, 0x7f7f7fff, 0x7f7f8000, 0x7f7fffff, 0xff7fffff,  // overflow
      0x7f800000, 0xff800000, 0x7fc00000, 0xffc00000, 0x7f800001, 0xffbfffff, 0x7fffffff, 0x7fa5a000,  // inf, nan
  };
  std::mt19937 gen(std::random_device{}());
  auto r32 = [&] { return static_cast<uint32_t>(gen()); };
  while (v.size() < 1024) v.push_back(r32());                                                         // any bits
  while (v.size() < 2048) v.push_back((r32() & 0xffff0000u) | (0x7fffu + r32() % 3));                // bf16 ties ±1
  while (v.size() < 3072) {                                                                          // fp16 range ties ±1
    const uint32_t exp = 0x67 + r32() % 40, man = (r32() & 0x7fe000u) | (0xfffu + r32() % 3);
    v.push_back((r32() & 0x80000000u) | exp << 23 | man);
  }
  while (v.size() < K) v.push_back((r32() & 0x807fffffu) | (0x7c + r32() % 6) << 23);                 // near 1
  for (auto& u : v)
    if ((u & 0x7fffffffu) == 0) u |= 1;  // not ±0: 0·xhat may be -0, and -0 + +0 is +0
  // Second round: only finite values of moderate size. The vector kernels may store bf16 with a
  // cheaper rounding that is exact for finite outputs and redo a sweep with the full one when an
  // output is NaN or Inf; every row of the first round has both, so that cheaper rounding is only
  // seen here (ties, subnormals).
  const std::vector<uint32_t> all = v;
  auto moderate = [](uint32_t u) { return (u & 0x7f800000u) < 0x5f800000u; };  // |f| < 2^64
  for (bool finite_only : {false, true}) {
    for (int32_t axis : {1, 0}) {
      SCOPED_TRACE(::testing::Message() << "axis " << axis << (finite_only ? ", finite values only" : ""));
      v = all;
      if (finite_only)
        for (size_t i = 0; i < v.size(); ++i)
          if (!moderate(v[i])) v[i] = (all[(i * 7919 + 1) % all.size()] & 0x807fffffu) | 0x3f800000u;
      std::vector<uint8_t> bias_bytes(K * 4);
      std::memcpy(bias_bytes.data(), v.data(), bias_bytes.size());
      Buf bb(be(), K * 4);
      bb.upload(bias_bytes);
      auto bg = in_f32(std::vector<double>(K, 0.0));
      const size_t e = dsize(dt());
      const int64_t N = axis == 1 ? 4 : 64;  // axis 0: rows of 64 (the cheaper bf16 rounding needs >= 64)
      const LnCase c{axis, 1, 0, N, K, true, true};
      layernorm_plan_t plan = make(c);
      ASSERT_NE(plan, nullptr);
      const size_t n = static_cast<size_t>(N * K);
      auto bx = in(rnd(n, 2.0, 4.0)), by = out(n);
      size_t wf = 0;
      BS_OK(layernorm_get_workspace_size(plan, LAYERNORM_OP_FPROP, N, &wf));
      Buf ws(be(), wf);
      BS_OK(layernorm_fprop(plan, N, bx->ptr(), bg->f32(), bb.f32(), by->ptr(), nullptr, nullptr, ws.ptr(), wf, nullptr));
      EXPECT_TRUE(by->guards_intact());
      const std::vector<uint8_t> y = by->download();
      size_t bad = 0;
      for (int64_t row = 0; row < N; ++row)
        for (int64_t k = 0; k < K; ++k) {
          const uint8_t* got = y.data() + static_cast<size_t>(at(c, row, k)) * e;
          const uint32_t u = v[static_cast<size_t>(k)];
          float f;
          std::memcpy(&f, &u, 4);
          uint8_t want[4] = {};
          bool ok;
          if (std::isnan(f)) {
            const double g = decode_one(dt(), got);
            ok = std::isnan(g) && (got[e - 1] & 0x80) == (u >> 31) << 7;  // a NaN, same sign
            if (dt() == BS_DTYPE_BF16) {
              const uint16_t qnan = static_cast<uint16_t>((u | 0x400000u) >> 16);
              ok = ok && std::memcmp(got, &qnan, 2) == 0;
            }
          } else {
            encode_one(dt(), round_to(dt(), static_cast<double>(f)), want);
            ok = std::memcmp(got, want, e) == 0;
          }
          if (!ok && bad++ < 10) {
            uint32_t gbits = 0;
            std::memcpy(&gbits, got, e);
            ADD_FAILURE() << "input bits 0x" << std::hex << u << ": stored 0x" << gbits << " (row " << std::dec << row
                          << ", feature " << k << ")";
          }
        }
      EXPECT_EQ(bad, 0u);
      BS_OK(layernorm_destroy(plan));
    }
  }
}

TEST_P(LayerNorm, ZeroBatchAndNonDeterministicMode) {
  const LnCase c{1, 1, 0, 0, 64, true, true};
  layernorm_plan_t plan = make(c);
  auto bdg = out_f32(64), bdb = out_f32(64);
  size_t wb = 0;
  BS_OK(layernorm_get_workspace_size(plan, LAYERNORM_OP_BPROP, 0, &wb));
  Buf ws(be(), wb);
  BS_OK(layernorm_fprop(plan, 0, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, 0, nullptr));
  BS_OK(layernorm_bprop(plan, 0, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, bdg->f32(),
                        bdb->f32(), ws.ptr(), wb, nullptr));
  OPS_EXPECT_CLOSE(*bdg, BS_DTYPE_F32, std::vector<double>(64, 0.0), 0.0);
  OPS_EXPECT_CLOSE(*bdb, BS_DTYPE_F32, std::vector<double>(64, 0.0), 0.0);
  BS_OK(layernorm_destroy(plan));

  // deterministic = 0 may use atomics on CUDA: still correct to fp32 rounding.
  const LnCase c2{1, 1, 0, 300, 512, true, true};
  plan = make(c2, 0);
  const auto x = rnd(300 * 512), dy = rnd(300 * 512), g = rnd_f32(512, 0.5, 1.5), b = rnd_f32(512);
  const LnRef r = reference(c2, x, g, b, dy, 1e-5);
  auto bx = in(x), bdy = in(dy), bg = in_f32(g), bb = in_f32(b), by = out(x.size()), bm = out_f32(300),
       brs = out_f32(300), bdx = out(x.size()), bdg2 = out_f32(512), bdb2 = out_f32(512);
  size_t wf = 0;
  BS_OK(layernorm_get_workspace_size(plan, LAYERNORM_OP_FPROP, 300, &wf));
  BS_OK(layernorm_get_workspace_size(plan, LAYERNORM_OP_BPROP, 300, &wb));
  Buf ws2(be(), std::max(wf, wb));
  BS_OK(layernorm_fprop(plan, 300, bx->ptr(), bg->f32(), bb->f32(), by->ptr(), bm->f32(), brs->f32(), ws2.ptr(), wf,
                        nullptr));
  BS_OK(layernorm_bprop(plan, 300, bdy->ptr(), bx->ptr(), bg->f32(), bb->f32(), bm->f32(), brs->f32(), bdx->ptr(),
                        bdg2->f32(), bdb2->f32(), ws2.ptr(), wb, nullptr));
  OPS_EXPECT_CLOSE(*bdg2, BS_DTYPE_F32, r.dgain, dt() == BS_DTYPE_F32 ? 1e-4 : 1e-2);
  OPS_EXPECT_CLOSE(*bdb2, BS_DTYPE_F32, r.dbias, dt() == BS_DTYPE_F32 ? 1e-5 : 1e-2);
  BS_OK(layernorm_destroy(plan));
}

// Workspace sizes are computed in checked arithmetic: a size that does not fit is
// BS_STATUS_OVERFLOW, never a wrapped (small) number. K = 2^56 in 2^24 segments: the CPU backend's
// features-last partials (64 parts of 2·K floats) would be 2^65 bytes.
TEST_P(LayerNorm, WorkspaceSizeOverflowIsReported) {
  for (const int32_t axis : {1, 0}) {
    layernorm_params_t p;
    BS_OK(LAYERNORM_PARAMS_INIT(&p));
    p.backend = be();
    p.dtype = dt();
    p.feature_axis = axis;
    p.K = int64_t{1} << 56;
    p.segments = 1 << 24;
    layernorm_plan_t plan = nullptr;
    BS_OK(layernorm_create(&plan, &p));
    for (const int64_t N : {int64_t{1}, int64_t{2}, int64_t{15}}) {
      size_t bytes = 12345;
      const bs_status_t st = layernorm_get_workspace_size(plan, LAYERNORM_OP_BPROP, N, &bytes);
      SCOPED_TRACE("feature_axis " + std::to_string(axis) + ", N " + std::to_string(N));
      if (be() == BS_BACKEND_CPU && axis == 1) {
        EXPECT_EQ(st, BS_STATUS_OVERFLOW);
        EXPECT_EQ(bytes, 12345u);  // untouched on failure
      } else if (st == BS_STATUS_SUCCESS && be() == BS_BACKEND_CPU) {
        EXPECT_GE(bytes, 8u * static_cast<size_t>(N));  // features first: 2 partial rows of N floats
      } else if (st != BS_STATUS_SUCCESS) {
        EXPECT_EQ(st, BS_STATUS_OVERFLOW);
      }
    }
    BS_OK(layernorm_destroy(plan));
  }
}

TEST_P(LayerNorm, BadInputWritesNothing) {
  layernorm_params_t p;
  BS_OK(LAYERNORM_PARAMS_INIT(&p));
  p.backend = be();
  p.dtype = dt();
  layernorm_plan_t plan = nullptr;
  EXPECT_EQ(layernorm_create(&plan, &p), BS_STATUS_INVALID_VALUE);  // K unset
  p.K = 12;
  p.segments = 5;
  EXPECT_EQ(layernorm_create(&plan, &p), BS_STATUS_INVALID_VALUE);
  p.segments = 3;
  p.epsilon = -1;
  EXPECT_EQ(layernorm_create(&plan, &p), BS_STATUS_INVALID_VALUE);
  p.epsilon = NAN;
  EXPECT_EQ(layernorm_create(&plan, &p), BS_STATUS_INVALID_VALUE);
  p.epsilon = 1e-5f;
  p.feature_axis = 2;
  EXPECT_EQ(layernorm_create(&plan, &p), BS_STATUS_INVALID_VALUE);
  p.feature_axis = 1;
  p.relu = 2;
  EXPECT_EQ(layernorm_create(&plan, &p), BS_STATUS_INVALID_VALUE);
  p.relu = 0;
  p.dtype = 9;
  EXPECT_EQ(layernorm_create(&plan, &p), BS_STATUS_INVALID_VALUE);
  p.dtype = dt();
  p.struct_size = 3;
  EXPECT_EQ(layernorm_create(&plan, &p), BS_STATUS_STRUCT_SIZE_MISMATCH);
  EXPECT_EQ(layernorm_params_init(&p, 3), BS_STATUS_STRUCT_SIZE_MISMATCH);
  EXPECT_EQ(layernorm_params_init(nullptr, sizeof p), BS_STATUS_NULL_POINTER);
  BS_OK(LAYERNORM_PARAMS_INIT(&p));
  p.backend = be();
  p.dtype = dt();
  p.K = 12;
  p.segments = 3;
  EXPECT_EQ(layernorm_create(nullptr, &p), BS_STATUS_NULL_POINTER);
  EXPECT_EQ(layernorm_create(&plan, nullptr), BS_STATUS_NULL_POINTER);
  EXPECT_EQ(plan, nullptr);
  BS_OK(layernorm_create(&plan, &p));
  BS_OK(layernorm_destroy(nullptr));

  const int64_t N = 8;
  auto bx = in(rnd(N * 12)), bm = out_f32(3 * N), brs = out_f32(3 * N), by = out(N * 12), bdx = out(N * 12),
       bdg = out_f32(12);
  size_t wf = 0, wb = 0;
  BS_OK(layernorm_get_workspace_size(plan, LAYERNORM_OP_FPROP, N, &wf));
  BS_OK(layernorm_get_workspace_size(plan, LAYERNORM_OP_BPROP, N, &wb));
  EXPECT_EQ(layernorm_get_workspace_size(plan, static_cast<layernorm_op_t>(7), N, &wb), BS_STATUS_INVALID_VALUE);
  EXPECT_EQ(layernorm_get_workspace_size(plan, LAYERNORM_OP_BPROP, -1, &wb), BS_STATUS_INVALID_VALUE);
  EXPECT_EQ(layernorm_get_workspace_size(nullptr, LAYERNORM_OP_BPROP, N, &wb), BS_STATUS_NULL_POINTER);
  EXPECT_EQ(layernorm_get_workspace_size(plan, LAYERNORM_OP_BPROP, INT64_MAX / 4, &wb), BS_STATUS_OVERFLOW);
  Buf ws(be(), std::max<size_t>(std::max(wf, wb), 16));
  void* y = by->ptr();
  float *m = bm->f32(), *rs = brs->f32();
  EXPECT_EQ(layernorm_fprop(nullptr, N, bx->ptr(), nullptr, nullptr, y, m, rs, ws.ptr(), wf, nullptr),
            BS_STATUS_NULL_POINTER);
  EXPECT_EQ(layernorm_fprop(plan, N, nullptr, nullptr, nullptr, y, m, rs, ws.ptr(), wf, nullptr),
            BS_STATUS_NULL_POINTER);
  EXPECT_EQ(layernorm_fprop(plan, N, bx->ptr(), nullptr, nullptr, y, m, nullptr, ws.ptr(), wf, nullptr),
            BS_STATUS_NULL_POINTER);
  EXPECT_EQ(layernorm_fprop(plan, -3, bx->ptr(), nullptr, nullptr, y, m, rs, ws.ptr(), wf, nullptr),
            BS_STATUS_INVALID_VALUE);
  EXPECT_EQ(layernorm_fprop(plan, INT64_MAX / 2, bx->ptr(), nullptr, nullptr, y, m, rs, ws.ptr(), wf, nullptr),
            BS_STATUS_OVERFLOW);
  EXPECT_EQ(layernorm_fprop(plan, N, static_cast<char*>(bx->ptr()) + 1, nullptr, nullptr, y, m, rs, ws.ptr(), wf,
                            nullptr),
            BS_STATUS_MISALIGNED_POINTER);
  EXPECT_EQ(layernorm_bprop(plan, N, bx->ptr(), bx->ptr(), nullptr, nullptr, nullptr, rs, bdx->ptr(), bdg->f32(),
                            nullptr, ws.ptr(), wb, nullptr),
            BS_STATUS_NULL_POINTER);
  if (wb > 0) {
    EXPECT_EQ(layernorm_bprop(plan, N, bx->ptr(), bx->ptr(), nullptr, nullptr, m, rs, bdx->ptr(), bdg->f32(), nullptr,
                              ws.ptr(), wb - 1, nullptr),
              BS_STATUS_WORKSPACE_TOO_SMALL);
  }
  if (be() == BS_BACKEND_CUDA) {  // host memory given to a CUDA plan
    std::vector<uint8_t> host(N * 12 * 4);
    EXPECT_EQ(layernorm_fprop(plan, N, host.data(), nullptr, nullptr, y, m, rs, ws.ptr(), wf, nullptr),
              BS_STATUS_WRONG_BACKEND);
  }
  EXPECT_TRUE(by->untouched());
  EXPECT_TRUE(bm->untouched());
  EXPECT_TRUE(brs->untouched());
  EXPECT_TRUE(bdx->untouched());
  EXPECT_TRUE(bdg->untouched());
  char msg[256];
  BS_OK(bs_get_last_error(msg, sizeof msg, nullptr));
  EXPECT_NE(std::string(msg).find("layernorm_"), std::string::npos) << msg;
  BS_OK(layernorm_destroy(plan));
}

OPS_INSTANTIATE(LayerNorm);

}  // namespace
}  // namespace opstest
