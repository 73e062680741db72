// bs_sparse_proj_*: gather, scatter, scatter_add, scatter_mul and their gradients, both feature
// axes, against float64 references; bad index maps.
#include <algorithm>
#include <numeric>

#include "ops_test_util.hpp"

namespace opstest {
namespace {

class SparseProj : public OpsTest {};

TEST_P(SparseProj, AllOpsBothAxes) {
  const int64_t H = 50, P = 17, N = 33;
  for (int32_t axis = 0; axis <= 1; ++axis) {
    SCOPED_TRACE(::testing::Message() << "feature_axis " << axis);
    std::vector<int64_t> lut(H);
    std::iota(lut.begin(), lut.end(), 0);
    std::shuffle(lut.begin(), lut.end(), rng());
    lut.resize(P);
    bs_sparse_proj_params_t p;
    BS_OK(BS_SPARSE_PROJ_PARAMS_INIT(&p));
    p.backend = be();
    p.dtype = dt();
    p.feature_axis = axis;
    p.nhidden = H;
    p.nproj = P;
    bs_sparse_proj_plan_t plan = nullptr;
    BS_OK(bs_sparse_proj_create(&plan, &p, lut.data()));
    auto at = [&](int64_t f, int64_t n, int64_t F) { return static_cast<size_t>(axis == 0 ? f * N + n : n * F + f); };
    const auto xh = rnd(H * N), yp = rnd(P * N), dzh = rnd(H * N);
    std::vector<double> gather(P * N), scatter(H * N, 0.0), sadd = xh, smul = xh, dx_mul = dzh, dy_mul(P * N);
    for (int64_t j = 0; j < P; ++j)
      for (int64_t n = 0; n < N; ++n) {
        const size_t hp = at(lut[j], n, H), pp = at(j, n, P);
        gather[pp] = xh[hp];
        scatter[hp] = yp[pp];
        sadd[hp] += yp[pp];
        smul[hp] *= yp[pp];
        dx_mul[hp] = dzh[hp] * yp[pp];
        dy_mul[pp] = dzh[hp] * xh[hp];
      }
    auto bx = in(xh), by = in(yp), bdz = in(dzh);
    auto o1 = out(P * N), o2 = out(H * N), o3 = out(H * N), o4 = out(H * N), o5 = out(H * N), o6 = out(P * N),
         o7 = out(H * N), o8 = out(P * N);
    BS_OK(bs_sparse_proj_gather(plan, N, bx->ptr(), o1->ptr(), nullptr));
    OPS_EXPECT_CLOSE(*o1, dt(), gather, 0.0);
    BS_OK(bs_sparse_proj_scatter(plan, N, by->ptr(), o2->ptr(), nullptr));
    OPS_EXPECT_CLOSE(*o2, dt(), scatter, 0.0);
    BS_OK(bs_sparse_proj_scatter_add(plan, N, bx->ptr(), by->ptr(), o3->ptr(), nullptr));
    OPS_EXPECT_CLOSE(*o3, dt(), sadd, tol(dt()));
    BS_OK(bs_sparse_proj_scatter_mul(plan, N, bx->ptr(), by->ptr(), o4->ptr(), nullptr));
    OPS_EXPECT_CLOSE(*o4, dt(), smul, tol(dt()));
    BS_OK(bs_sparse_proj_scatter_mul_grad(plan, N, bdz->ptr(), bx->ptr(), by->ptr(), o5->ptr(), o6->ptr(), nullptr));
    OPS_EXPECT_CLOSE(*o5, dt(), dx_mul, tol(dt()));
    OPS_EXPECT_CLOSE(*o6, dt(), dy_mul, tol(dt()));
    BS_OK(bs_sparse_proj_scatter_add_grad(plan, N, bdz->ptr(), o7->ptr(), o8->ptr(), nullptr));
    OPS_EXPECT_CLOSE(*o7, dt(), dzh, 0.0);
    std::vector<double> dz_gather(P * N);
    for (int64_t j = 0; j < P; ++j)
      for (int64_t n = 0; n < N; ++n) dz_gather[at(j, n, P)] = dzh[at(lut[j], n, H)];
    OPS_EXPECT_CLOSE(*o8, dt(), dz_gather, 0.0);
    // In place: z aliases x.
    BS_OK(bs_sparse_proj_scatter_add(plan, N, bx->ptr(), by->ptr(), bx->ptr(), nullptr));
    EXPECT_EQ(bx->download(), o3->download());
    BS_OK(bs_sparse_proj_destroy(plan));
  }
}

TEST_P(SparseProj, BadMapsAndCalls) {
  bs_sparse_proj_params_t p;
  BS_OK(BS_SPARSE_PROJ_PARAMS_INIT(&p));
  p.backend = be();
  p.dtype = dt();
  p.nhidden = 8;
  p.nproj = 3;
  bs_sparse_proj_plan_t plan = nullptr;
  const int64_t dup[3] = {1, 5, 1}, out_of_range[3] = {0, 8, 2}, negative[3] = {0, -1, 2}, good[3] = {7, 0, 3};
  EXPECT_EQ(bs_sparse_proj_create(&plan, &p, dup), BS_STATUS_INVALID_VALUE);
  EXPECT_EQ(bs_sparse_proj_create(&plan, &p, out_of_range), BS_STATUS_INVALID_VALUE);
  EXPECT_EQ(bs_sparse_proj_create(&plan, &p, negative), BS_STATUS_INVALID_VALUE);
  EXPECT_EQ(bs_sparse_proj_create(&plan, &p, nullptr), BS_STATUS_NULL_POINTER);
  p.nproj = 9;
  EXPECT_EQ(bs_sparse_proj_create(&plan, &p, good), BS_STATUS_INVALID_VALUE);
  p.nproj = 3;
  p.feature_axis = 3;
  EXPECT_EQ(bs_sparse_proj_create(&plan, &p, good), BS_STATUS_INVALID_VALUE);
  p.feature_axis = 0;
  p.struct_size = 2;
  EXPECT_EQ(bs_sparse_proj_create(&plan, &p, good), BS_STATUS_STRUCT_SIZE_MISMATCH);
  EXPECT_EQ(plan, nullptr);
  BS_OK(BS_SPARSE_PROJ_PARAMS_INIT(&p));
  p.backend = be();
  p.dtype = dt();
  p.nhidden = 8;
  p.nproj = 3;
  BS_OK(bs_sparse_proj_create(&plan, &p, good));
  auto x = in(rnd(8 * 4)), y = out(3 * 4), z = out(8 * 4);
  EXPECT_EQ(bs_sparse_proj_gather(nullptr, 4, x->ptr(), y->ptr(), nullptr), BS_STATUS_NULL_POINTER);
  EXPECT_EQ(bs_sparse_proj_gather(plan, 4, nullptr, y->ptr(), nullptr), BS_STATUS_NULL_POINTER);
  EXPECT_EQ(bs_sparse_proj_gather(plan, -1, x->ptr(), y->ptr(), nullptr), BS_STATUS_INVALID_VALUE);
  EXPECT_EQ(bs_sparse_proj_gather(plan, INT64_MAX / 4, x->ptr(), y->ptr(), nullptr), BS_STATUS_OVERFLOW);
  EXPECT_EQ(bs_sparse_proj_gather(plan, 4, static_cast<char*>(x->ptr()) + 1, y->ptr(), nullptr),
            BS_STATUS_MISALIGNED_POINTER);
  EXPECT_EQ(bs_sparse_proj_scatter(plan, 4, y->ptr(), nullptr, nullptr), BS_STATUS_NULL_POINTER);
  EXPECT_EQ(bs_sparse_proj_scatter_add(plan, 4, x->ptr(), nullptr, z->ptr(), nullptr), BS_STATUS_NULL_POINTER);
  EXPECT_EQ(bs_sparse_proj_scatter_mul(plan, 4, x->ptr(), y->ptr(), nullptr, nullptr), BS_STATUS_NULL_POINTER);
  EXPECT_EQ(bs_sparse_proj_scatter_add_grad(plan, 4, nullptr, z->ptr(), y->ptr(), nullptr), BS_STATUS_NULL_POINTER);
  EXPECT_EQ(bs_sparse_proj_scatter_mul_grad(plan, 4, x->ptr(), nullptr, y->ptr(), z->ptr(), nullptr, nullptr),
            BS_STATUS_NULL_POINTER);
  EXPECT_TRUE(y->untouched());
  EXPECT_TRUE(z->untouched());
  BS_OK(bs_sparse_proj_destroy(plan));
  BS_OK(bs_sparse_proj_destroy(nullptr));
}

OPS_INSTANTIATE(SparseProj);

}  // namespace
}  // namespace opstest
