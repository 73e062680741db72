// Device placement with two GPUs: a plan made for device 1 runs there while the caller's current
// device is 0 (and leaves it 0), and a device pointer of the other GPU is refused with
// BS_STATUS_WRONG_DEVICE, with nothing written. Covers the plain element-wise functions (which run
// on the current device), a layernorm plan and a bsmm plan. Skipped, with the reason, without a CUDA
// build or with fewer than two GPUs.
#include <cmath>
#include <memory>
#include <vector>

#include "common/plan.hpp"
#include "common/reference.hpp"
#include "ops_test_util.hpp"

namespace opstest {
namespace {

#if defined(BS_TEST_CUDA)

// Makes `device` current for the scope (Buf allocates on the current device).
class OnDevice {
 public:
  explicit OnDevice(int device) {
    EXPECT_EQ(cudaGetDevice(&previous_), cudaSuccess);
    EXPECT_EQ(cudaSetDevice(device), cudaSuccess);
  }
  ~OnDevice() { cudaSetDevice(previous_); }
  OnDevice(const OnDevice&) = delete;
  OnDevice& operator=(const OnDevice&) = delete;

 private:
  int previous_ = 0;
};

// A buffer of `v` (dtype d) on `device`, or a poisoned one of n elements.
std::unique_ptr<Buf> on(int device, bs_dtype_t d, const std::vector<double>& v) {
  OnDevice g(device);
  return std::make_unique<Buf>(BS_BACKEND_CUDA, d, v);
}
std::unique_ptr<Buf> poisoned_on(int device, bs_dtype_t d, size_t n) {
  OnDevice g(device);
  return out_buf(BS_BACKEND_CUDA, d, n);
}

// Waits for device `device`'s work (downloads copy on the current device's stream, which does not
// order against another device's legacy stream).
void sync(int device) {
  OnDevice g(device);
  EXPECT_EQ(cudaDeviceSynchronize(), cudaSuccess);
}

int current_device() {
  int d = -1;
  EXPECT_EQ(cudaGetDevice(&d), cudaSuccess);
  return d;
}

class TwoGpus : public ::testing::Test {
 protected:
  void SetUp() override {
    int32_t count = 0;
    if (bs_get_device_count(BS_BACKEND_CUDA, &count) != BS_STATUS_SUCCESS || count < 2)
      GTEST_SKIP() << "needs two CUDA GPUs (" << count << " visible)";
    ASSERT_EQ(cudaSetDevice(0), cudaSuccess);
  }
};

TEST_F(TwoGpus, ElementwiseRefusesTheOtherGpusPointers) {
  const bs_dtype_t d = BS_DTYPE_F32;
  const std::vector<double> v = rand_vec(d, 1000);
  auto x0 = on(0, d, v), x1 = on(1, d, v);
  auto y0 = poisoned_on(0, d, v.size()), y1 = poisoned_on(1, d, v.size());
  // Current device 0: an input or an output on device 1 is refused.
  EXPECT_EQ(bs_ew_unary(BS_BACKEND_CUDA, BS_EW_EXP, d, 1000, x1->ptr(), 0, y0->ptr(), nullptr), BS_STATUS_WRONG_DEVICE);
  EXPECT_EQ(bs_ew_unary(BS_BACKEND_CUDA, BS_EW_EXP, d, 1000, x0->ptr(), 0, y1->ptr(), nullptr), BS_STATUS_WRONG_DEVICE);
  char msg[512];
  ASSERT_EQ(bs_get_last_error(msg, sizeof msg, nullptr), BS_STATUS_SUCCESS);
  EXPECT_NE(std::string(msg).find("device 1"), std::string::npos) << msg;
  sync(1);
  EXPECT_TRUE(y0->untouched());
  EXPECT_TRUE(y1->untouched());
  // Current device 1: its own pointers run, on device 1.
  {
    OnDevice g(1);
    ASSERT_EQ(bs_ew_unary(BS_BACKEND_CUDA, BS_EW_EXP, d, 1000, x1->ptr(), 0, y1->ptr(), nullptr), BS_STATUS_SUCCESS);
    EXPECT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  }
  std::vector<double> ref(v.size());
  for (size_t i = 0; i < v.size(); ++i) ref[i] = std::exp(v[i]);
  OPS_EXPECT_CLOSE(*y1, d, ref, tol(d));
}

TEST_F(TwoGpus, LayernormPlanOnDeviceOne) {
  const bs_dtype_t d = BS_DTYPE_F32;
  const int64_t N = 6, K = 96;
  layernorm_params_t p;
  LAYERNORM_PARAMS_INIT(&p);
  p.backend = BS_BACKEND_CUDA;
  p.device = 1;
  p.dtype = d;
  p.K = K;
  layernorm_plan_t plan = nullptr;
  ASSERT_EQ(layernorm_create(&plan, &p), BS_STATUS_SUCCESS);
  std::unique_ptr<layernorm_plan_s, decltype(&layernorm_destroy)> owner(plan, layernorm_destroy);
  EXPECT_EQ(current_device(), 0) << "layernorm_create changed the current device";
  size_t ws_bytes = 0;
  ASSERT_EQ(layernorm_get_workspace_size(plan, LAYERNORM_OP_FPROP, N, &ws_bytes), BS_STATUS_SUCCESS);

  const std::vector<double> xv = rand_vec(d, N * K, -2, 3), gv = rand_vec(d, K, 0.5, 1.5), bv = rand_vec(d, K);
  auto x1 = on(1, d, xv), g1 = on(1, d, gv), b1 = on(1, d, bv), x0 = on(0, d, xv);
  auto y1 = poisoned_on(1, d, N * K), mean1 = poisoned_on(1, d, N), rstd1 = poisoned_on(1, d, N);
  auto ws1 = poisoned_on(1, BS_DTYPE_F32, ws_bytes / 4 + 1);
  // x on device 0 for a device-1 plan: refused, nothing written.
  EXPECT_EQ(layernorm_fprop(plan, N, x0->ptr(), g1->f32(), b1->f32(), y1->ptr(), mean1->f32(), rstd1->f32(), ws1->ptr(),
                            ws_bytes, nullptr),
            BS_STATUS_WRONG_DEVICE);
  sync(1);
  EXPECT_TRUE(y1->untouched());
  EXPECT_TRUE(mean1->untouched());
  // Its own device's pointers: runs on device 1, from current device 0, which stays current.
  ASSERT_EQ(layernorm_fprop(plan, N, x1->ptr(), g1->f32(), b1->f32(), y1->ptr(), mean1->f32(), rstd1->f32(), ws1->ptr(),
                            ws_bytes, nullptr),
            BS_STATUS_SUCCESS);
  EXPECT_EQ(current_device(), 0) << "layernorm_fprop changed the current device";
  sync(1);
  std::vector<double> ref(N * K);
  for (int64_t n = 0; n < N; ++n) {
    double m = 0, var = 0;
    for (int64_t k = 0; k < K; ++k) m += xv[n * K + k];
    m /= K;
    for (int64_t k = 0; k < K; ++k) var += (xv[n * K + k] - m) * (xv[n * K + k] - m);
    const double rs = 1.0 / std::sqrt(var / K + p.epsilon);
    for (int64_t k = 0; k < K; ++k) ref[n * K + k] = (xv[n * K + k] - m) * rs * gv[k] + bv[k];
  }
  OPS_EXPECT_CLOSE(*y1, d, ref, tol(d));
}

TEST_F(TwoGpus, BsmmPlanOnDeviceOne) {
  const bs_dtype_t d = BS_DTYPE_F32;
  const int64_t N = 16;
  bs_test::RefGeometry g;
  g.layout = {2, 2, {1, 0, 1, 1}};  // blocks (0,0), (1,0), (1,1)
  g.b = 8;
  bsmm_params_t p;
  BSMM_PARAMS_INIT(&p);
  p.backend = BS_BACKEND_CUDA;
  p.device = 1;
  p.block_size = static_cast<int32_t>(g.b);
  p.dtype = d;
  bsmm_plan_t plan = nullptr;
  ASSERT_EQ(bsmm_create(&plan, &p, g.layout.mask.data(), g.layout.CB, g.layout.KB), BS_STATUS_SUCCESS) << bs_test::last_error();
  std::unique_ptr<bsmm_plan_s, decltype(&bsmm_destroy)> owner(plan, bsmm_destroy);
  EXPECT_EQ(current_device(), 0) << "bsmm_create changed the current device";
  size_t ws_bytes = 0;
  ASSERT_EQ(bsmm_get_workspace_size(plan, BSMM_OP_FPROP, N, &ws_bytes), BS_STATUS_SUCCESS);

  const std::vector<double> xv = rand_vec(d, N * g.C()), wv = rand_vec(d, g.weight_count());
  auto x1 = on(1, d, xv), w1 = on(1, d, wv), x0 = on(0, d, xv);
  auto y1 = poisoned_on(1, d, N * g.K()), ws1 = poisoned_on(1, BS_DTYPE_F32, ws_bytes / 4 + 1);
  EXPECT_EQ(bsmm_fprop(plan, N, x0->ptr(), w1->ptr(), y1->ptr(), 1.0f, 0.0f, nullptr, ws1->ptr(), ws_bytes, nullptr),
            BS_STATUS_WRONG_DEVICE);
  sync(1);
  EXPECT_TRUE(y1->untouched());
  ASSERT_EQ(bsmm_fprop(plan, N, x1->ptr(), w1->ptr(), y1->ptr(), 1.0f, 0.0f, nullptr, ws1->ptr(), ws_bytes, nullptr),
            BS_STATUS_SUCCESS);
  EXPECT_EQ(current_device(), 0) << "bsmm_fprop changed the current device";
  sync(1);
  const std::vector<double> ref = bs_test::ref_fprop(g, N, xv, wv, nullptr, 1.0, 0.0, {});
  OPS_EXPECT_CLOSE(*y1, d, ref, 1e-5);
}

#else

TEST(TwoGpus, NeedsCuda) { GTEST_SKIP() << "this build has no CUDA backend (configure with BS_ENABLE_CUDA)"; }

#endif

}  // namespace
}  // namespace opstest
