// bs_ew_*, bs_bias_act*, bs_float_cast, bs_add_n against float64 references, every dtype.
#include <functional>

#include "ops_test_util.hpp"

namespace opstest {
namespace {

const double kPi = 3.14159265358979323846;
double sig(double x) { return 1 / (1 + std::exp(-x)); }

double unary_ref(int op, double x, double a) {
  switch (op) {
    case BS_EW_NEGATIVE: return -x;
    case BS_EW_RECIPROCAL: return 1 / x;
    case BS_EW_SQUARE: return x * x;
    case BS_EW_SQRT: return std::sqrt(x);
    case BS_EW_EXP: return std::exp(x);
    case BS_EW_LOG: return std::log(x);
    case BS_EW_SIGMOID: return sig(x);
    case BS_EW_TANH: return std::tanh(x);
    case BS_EW_RELU: return x > 0 ? x : 0;
    case BS_EW_ELU: return x > 0 ? x : a * (std::exp(x) - 1);
    case BS_EW_GELU: return 0.5 * x * (1 + std::tanh(std::sqrt(2 / kPi) * (x + a * x * x * x)));
    default: return x * sig(a * x);
  }
}

// Derivative by central differences of the float64 function (independent of the closed forms).
double unary_deriv_ref(int op, double x, double a) {
  const double h = 1e-6 * std::max(1.0, std::fabs(x));
  return (unary_ref(op, x + h, a) - unary_ref(op, x - h, a)) / (2 * h);
}

// Inputs inside each op's domain, away from kinks (relu, elu at 0) so finite differences hold.
std::vector<double> unary_inputs(bs_dtype_t d, int op, size_t n) {
  switch (op) {
    case BS_EW_SQRT:
    case BS_EW_LOG: return rand_vec(d, n, 0.1, 4.0);
    case BS_EW_RECIPROCAL: return rand_signed_away(d, n, 0.25, 4.0);
    case BS_EW_RELU:
    case BS_EW_ELU: return rand_signed_away(d, n, 0.01, 3.0);
    default: return rand_vec(d, n, -3.0, 3.0);
  }
}

class Ew : public OpsTest {};

TEST_P(Ew, UnaryAndGrad) {
  const size_t n = 3001;  // odd: exercises the tails of vector loops
  for (int op = BS_EW_NEGATIVE; op <= BS_EW_SWISH; ++op) {
    SCOPED_TRACE(::testing::Message() << "op " << op);
    const float alpha = op == BS_EW_GELU ? 0.044715f : op == BS_EW_SWISH ? 1.702f : 0.7f;
    const auto x = unary_inputs(dt(), op, n), dy = rnd(n);
    std::vector<double> y(n), dx(n);
    for (size_t i = 0; i < n; ++i) {
      y[i] = unary_ref(op, x[i], alpha);
      dx[i] = dy[i] * unary_deriv_ref(op, x[i], alpha);
    }
    auto bx = in(x), bdy = in(dy), by = out(n), bdx = out(n);
    BS_OK(bs_ew_unary(be(), static_cast<bs_ew_unary_op_t>(op), dt(), n, bx->ptr(), alpha, by->ptr(), nullptr));
    OPS_EXPECT_CLOSE(*by, dt(), y, tol(dt()));
    BS_OK(bs_ew_unary_grad(be(), static_cast<bs_ew_unary_op_t>(op), dt(), n, bdy->ptr(), bx->ptr(), alpha,
                           bdx->ptr(), nullptr));
    OPS_EXPECT_CLOSE(*bdx, dt(), dx, std::max(tol(dt()), 1e-5));
    // In place: y may alias x.
    BS_OK(bs_ew_unary(be(), static_cast<bs_ew_unary_op_t>(op), dt(), n, bx->ptr(), alpha, bx->ptr(), nullptr));
    EXPECT_EQ(bx->download(), by->download());
  }
}

TEST_P(Ew, BinaryAndGrad) {
  const int64_t rows = 33, cols = 129;
  const size_t n = rows * cols;
  for (int vec = 0; vec <= 1; ++vec)
    for (int op = BS_EW_ADD; op <= BS_EW_MINIMUM; ++op) {
      SCOPED_TRACE(::testing::Message() << "op " << op << " vector " << vec);
      const size_t ny = vec ? cols : n;
      const auto x = rnd(n), dz = rnd(n);
      const auto y = op == BS_EW_DIVIDE ? rand_signed_away(dt(), ny, 0.5, 2.0) : rnd(ny);
      std::vector<double> z(n), dx(n), dy(ny, 0.0);
      for (size_t i = 0; i < n; ++i) {
        const double xv = x[i], yv = y[vec ? i % cols : i], g = dz[i];
        double dxv = g, dyv = g;
        switch (op) {
          case BS_EW_ADD: z[i] = xv + yv; break;
          case BS_EW_SUBTRACT: z[i] = xv - yv; dyv = -g; break;
          case BS_EW_MULTIPLY: z[i] = xv * yv; dxv = g * yv; dyv = g * xv; break;
          case BS_EW_DIVIDE: z[i] = xv / yv; dxv = g / yv; dyv = -g * xv / (yv * yv); break;
          case BS_EW_MAXIMUM: z[i] = std::max(xv, yv); dxv = xv >= yv ? g : 0; dyv = xv >= yv ? 0 : g; break;
          default: z[i] = std::min(xv, yv); dxv = xv <= yv ? g : 0; dyv = xv <= yv ? 0 : g; break;
        }
        dx[i] = dxv;
        dy[vec ? i % cols : i] += dyv;
      }
      auto bx = in(x), by = in(y), bdz = in(dz), bz = out(n), bdx = out(n), bdy = out(ny);
      const auto bop = static_cast<bs_ew_binary_op_t>(op);
      BS_OK(bs_ew_binary(be(), bop, dt(), rows, cols, bx->ptr(), by->ptr(), vec, bz->ptr(), nullptr));
      OPS_EXPECT_CLOSE(*bz, dt(), z, tol(dt()));
      BS_OK(bs_ew_binary_grad(be(), bop, dt(), rows, cols, bdz->ptr(), bx->ptr(), by->ptr(), vec, bdx->ptr(),
                              bdy->ptr(), nullptr));
      OPS_EXPECT_CLOSE(*bdx, dt(), dx, tol(dt()));
      OPS_EXPECT_CLOSE(*bdy, dt(), dy, vec ? 2 * tol(dt()) : tol(dt()));
    }
}

TEST_P(Ew, VectorGradWithNoRowsIsZero) {
  auto by = in(rnd(7)), bdy = out(7);
  BS_OK(bs_ew_binary_grad(be(), BS_EW_ADD, dt(), 0, 7, nullptr, nullptr, by->ptr(), 1, nullptr, bdy->ptr(), nullptr));
  OPS_EXPECT_CLOSE(*bdy, dt(), std::vector<double>(7, 0.0), 0.0);
}

TEST_P(Ew, BiasActAndGrad) {
  for (int axis = 0; axis <= 1; ++axis)
    for (int act = BS_ACT_NONE; act <= BS_ACT_FAST_GELU; ++act)
      for (bool with_bias : {true, false}) {
        SCOPED_TRACE(::testing::Message() << "axis " << axis << " act " << act << " bias " << with_bias);
        const int64_t N = 67, K = 96;
        const size_t n = N * K;
        const auto x = rnd(n, -2, 2), dy = rnd(n);
        const auto b = with_bias ? rnd_f32(K) : std::vector<double>(K, 0.0);
        std::vector<double> y(n), dx(n), db(K, 0.0);
        for (int64_t r = 0; r < N; ++r)
          for (int64_t k = 0; k < K; ++k) {
            const size_t i = axis == 1 ? r * K + k : k * N + r;
            const double z = x[i] + b[k];
            double f, d;
            switch (act) {
              case BS_ACT_RELU: f = z > 0 ? z : 0; d = z > 0 ? 1 : 0; break;
              case BS_ACT_GELU: f = unary_ref(BS_EW_GELU, z, 0.044715); d = unary_deriv_ref(BS_EW_GELU, z, 0.044715); break;
              case BS_ACT_FAST_GELU: f = unary_ref(BS_EW_SWISH, z, 1.702); d = unary_deriv_ref(BS_EW_SWISH, z, 1.702); break;
              default: f = z; d = 1; break;
            }
            y[i] = f;
            dx[i] = dy[i] * d;
            db[k] += dx[i];
          }
        auto bx = in(x), bdy = in(dy), bb = in_f32(b), by = out(n), bdx = out(n), bdb = out_f32(K);
        const float* bp = with_bias ? bb->f32() : nullptr;
        BS_OK(bs_bias_act(be(), static_cast<bs_act_t>(act), dt(), axis, N, K, bx->ptr(), bp, by->ptr(), nullptr));
        OPS_EXPECT_CLOSE(*by, dt(), y, tol(dt()));
        BS_OK(bs_bias_act_grad(be(), static_cast<bs_act_t>(act), dt(), axis, N, K, bdy->ptr(), bx->ptr(), bp,
                               bdx->ptr(), bdb->f32(), nullptr));
        OPS_EXPECT_CLOSE(*bdx, dt(), dx, std::max(tol(dt()), 1e-5));
        // The ReLU mask of 16-bit z = x + b may differ from float64 right at 0: small slack.
        OPS_EXPECT_CLOSE(*bdb, BS_DTYPE_F32, db, dt() == BS_DTYPE_F32 ? 1e-5 : 1e-2);
      }
}

TEST_P(Ew, FloatCastRoundsToNearestEven) {
  for (bs_dtype_t dst : {BS_DTYPE_F32, BS_DTYPE_F16, BS_DTYPE_BF16}) {
    SCOPED_TRACE(dtype_name(dst));
    // Random values over a wide range plus edge cases: ties, subnormals, overflow, inf, NaN.
    std::vector<double> x = rand_signed_away(dt(), 2000, 1e-9, 1e5);
    for (double v : std::initializer_list<double>{0.0, -0.0, 1.0, 1.0 + std::ldexp(1.0, -8), 1.0 + 3 * std::ldexp(1.0, -8),
                     1.0 + std::ldexp(1.0, -11), 1.0 + 3 * std::ldexp(1.0, -11), std::ldexp(1.0, -24),
                     std::ldexp(3.0, -26), 65504.0, 65520.0, 70000.0, 1e30, -1e30, INFINITY, -INFINITY, NAN,
                     std::ldexp(1.0, -130)})
      x.push_back(round_to(dt(), v));
    std::vector<double> ref(x.size());
    for (size_t i = 0; i < x.size(); ++i) ref[i] = round_to(dst, x[i]);
    auto bx = in(x);
    auto by = out_buf(be(), dst, x.size());
    BS_OK(bs_float_cast(be(), dt(), dst, x.size(), bx->ptr(), by->ptr(), nullptr));
    const auto got = by->values(dst);
    for (size_t i = 0; i < x.size(); ++i) {
      if (std::isnan(ref[i])) {
        EXPECT_TRUE(std::isnan(got[i])) << i;
      } else {
        EXPECT_EQ(got[i], ref[i]) << "x = " << x[i];
        EXPECT_EQ(std::signbit(got[i]), std::signbit(ref[i])) << "x = " << x[i];
      }
    }
    EXPECT_TRUE(by->guards_intact());
  }
}

TEST_P(Ew, AddN) {
  const size_t n = 1027;
  for (int32_t count : {1, 3, 64}) {
    std::vector<std::unique_ptr<Buf>> bufs;
    std::vector<const void*> ptrs;
    std::vector<double> ref(n, 0.0);
    for (int32_t j = 0; j < count; ++j) {
      const auto v = rnd(n);
      for (size_t i = 0; i < n; ++i) ref[i] += v[i];
      bufs.push_back(in(v));
      ptrs.push_back(bufs.back()->ptr());
    }
    auto by = out(n);
    BS_OK(bs_add_n(be(), dt(), n, count, ptrs.data(), by->ptr(), nullptr));
    OPS_EXPECT_CLOSE(*by, dt(), ref, tol(dt()) * (count > 8 ? 2 : 1));
  }
}

OPS_INSTANTIATE(Ew);

}  // namespace
}  // namespace opstest
