// Bad input to the execute functions (fprop, bprop, updat, identity_init, l2_normalize and its
// gradient), on every backend: each pointer NULL, negative and overflowing N, non-finite scalars,
// n_pairs < 1, too small a workspace, misaligned pointers, and (CUDA plans) host pointers. Each
// case starts from a call that succeeds and changes one argument; it must return the exact status
// with a message naming the function, and leave every output and the workspace byte-identical.
#include <gtest/gtest.h>

#include <climits>
#include <cmath>
#include <functional>
#include <limits>

#include "common/op_run.hpp"
#include "common/params.hpp"
#include "common/seed.hpp"
#include "common/status_check.hpp"

namespace bs_test {
namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();

// Every argument of every execute function; each op reads the fields it takes.
struct Args {
  const_bsmm_plan_t plan = nullptr;
  int64_t N = 0;
  int32_t n_pairs = 2;
  const void* in = nullptr;    // x (fprop), dy (bprop, l2 grad), w (l2)
  const void* w = nullptr;     // w (fprop, bprop, l2 grad)
  void* out = nullptr;         // y, dx, dw (updat, l2 grad), w (identity), y (l2)
  std::vector<const void*> xs, dys;  // updat
  const void* const* xs_ptr = nullptr;
  const void* const* dys_ptr = nullptr;
  float alpha = 1.0f, beta = 0.5f, scale = 1.0f, epsilon = 1e-6f;
  const float* gate = nullptr;  // gate (products) or gain (l2 ops)
  float* dgain = nullptr;
  void* ws = nullptr;
  size_t ws_bytes = 0;
};

bs_status_t call(bsmm_op_t op, const Args& a) {
  switch (op) {
    case BSMM_OP_FPROP:
      return bsmm_fprop(a.plan, a.N, a.in, a.w, a.out, a.alpha, a.beta, a.gate, a.ws, a.ws_bytes, nullptr);
    case BSMM_OP_BPROP:
      return bsmm_bprop(a.plan, a.N, a.in, a.w, a.out, a.alpha, a.beta, a.gate, a.ws, a.ws_bytes, nullptr);
    case BSMM_OP_UPDAT:
      return bsmm_updat(a.plan, a.N, a.n_pairs, a.xs_ptr, a.dys_ptr, a.out, a.alpha, a.beta, a.gate, a.ws,
                        a.ws_bytes, nullptr);
    case BSMM_OP_IDENTITY_INIT: return bsmm_identity_init(a.plan, a.out, a.scale, nullptr);
    case BSMM_OP_L2_NORMALIZE:
      return bsmm_l2_normalize(a.plan, a.in, a.gate, a.out, a.epsilon, a.ws, a.ws_bytes, nullptr);
    case BSMM_OP_L2_NORMALIZE_GRAD:
      return bsmm_l2_normalize_grad(a.plan, a.in, a.w, a.gate, a.out, a.dgain, a.epsilon, a.ws, a.ws_bytes, nullptr);
    default: return BS_STATUS_INTERNAL_ERROR;
  }
}

const char* function_name(bsmm_op_t op) {
  switch (op) {
    case BSMM_OP_FPROP: return "bsmm_fprop";
    case BSMM_OP_BPROP: return "bsmm_bprop";
    case BSMM_OP_UPDAT: return "bsmm_updat";
    case BSMM_OP_IDENTITY_INIT: return "bsmm_identity_init";
    case BSMM_OP_L2_NORMALIZE: return "bsmm_l2_normalize";
    default: return "bsmm_l2_normalize_grad";
  }
}

struct Bad {
  std::string what;
  bs_status_t want;
  std::function<void(Args&)> mutate;
};

class BsmmBadExecute : public ::testing::TestWithParam<bs_backend_t> {
 protected:
  void SetUp() override {
    BS_SKIP_UNLESS_AVAILABLE(GetParam());
    auto rng = test_rng();
    setup_.backend = GetParam();
    setup_.dtype = BS_DTYPE_F16;  // 2-byte elements: an odd address is misaligned on every backend
    setup_.block_size = 8;
    layout_ = random_layout(3, 4, 0.5, rng);
    plan_ = make_plan(setup_, layout_);
    ASSERT_TRUE(plan_);
    const RefGeometry g = setup_.geometry(layout_);
    // Every tensor buffer is large enough for any role: activations, weights, gains.
    const int64_t wc = g.weight_count(), n = std::max(kN * std::max(g.C(), g.K()), wc);
    for (int i = 0; i < 2; ++i) {
      act_.emplace_back(GetParam(), HostTensor::random(setup_.dtype, n, rng));
      act_.emplace_back(GetParam(), HostTensor::random(setup_.dtype, n, rng));
    }
    w_ = TestBuffer(GetParam(), HostTensor::random(setup_.dtype, wc, rng));
    out_ = TestBuffer(GetParam(), HostTensor::random(setup_.dtype, n, rng));
    gate_ = TestBuffer(GetParam(), HostTensor::random(BS_DTYPE_F32, std::max(g.K(), layout_.nnz()), rng, 0.5f, 1.5f));
    dgain_ = TestBuffer(GetParam(), HostTensor::random(BS_DTYPE_F32, g.K(), rng));
    size_t ws = 0;
    for (int op = BSMM_OP_FPROP; op <= BSMM_OP_IDENTITY_INIT; ++op) {
      size_t b = 0;
      ASSERT_EQ(bsmm_get_workspace_size(plan_.get(), static_cast<bsmm_op_t>(op), kN, &b), BS_STATUS_SUCCESS);
      ws = std::max(ws, b);
    }
    ws_ = TestBuffer(GetParam(), HostTensor::random(BS_DTYPE_F16, static_cast<int64_t>(ws / 2 + 1), rng));
    // Misaligned by one byte, and host memory (a wrong backend for CUDA plans).
    odd_ = TestBuffer(GetParam(), out_.bytes(), 1);
    host_ = TestBuffer(BS_BACKEND_CPU, out_.bytes());
  }

  Args valid(bsmm_op_t op) const {
    Args a;
    a.plan = plan_.get();
    a.N = kN;
    a.in = act_[0].data();
    a.w = op == BSMM_OP_L2_NORMALIZE_GRAD ? act_[1].data() : w_.data();
    a.out = out_.data();
    a.xs = {act_[0].data(), act_[1].data()};
    a.dys = {act_[2].data(), act_[3].data()};
    a.gate = gate_.f32();
    a.dgain = op == BSMM_OP_L2_NORMALIZE_GRAD ? dgain_.f32() : nullptr;
    a.ws = ws_.data();
    a.ws_bytes = workspace_need(op);
    return a;
  }

  size_t workspace_need(bsmm_op_t op) const {
    size_t b = 0;
    EXPECT_EQ(bsmm_get_workspace_size(plan_.get(), op, kN, &b), BS_STATUS_SUCCESS);
    return b;
  }

  // Runs the valid call (it must succeed), then every bad case; after each, no output changed.
  void run(bsmm_op_t op, const std::vector<Bad>& cases) {
    Args a = valid(op);
    a.xs_ptr = a.xs.data();
    a.dys_ptr = a.dys.data();
    ASSERT_EQ(call(op, a), BS_STATUS_SUCCESS) << "the valid call failed: " << last_error();
    const Untouched outputs({&out_, &dgain_, &ws_, &odd_, &host_, &w_, &gate_, &act_[0], &act_[1], &act_[2], &act_[3]});
    for (const Bad& c : cases) {
      Args b = valid(op);
      c.mutate(b);
      if (b.xs_ptr == nullptr && !b.xs.empty()) b.xs_ptr = b.xs.data();
      if (b.dys_ptr == nullptr && !b.dys.empty()) b.dys_ptr = b.dys.data();
      EXPECT_BS_FAIL(c.want, function_name(op), call(op, b)) << c.what;
      EXPECT_TRUE(outputs.unchanged()) << function_name(op) << ", " << c.what << ": an output was written";
    }
  }

  // Cases every op with a workspace shares.
  std::vector<Bad> workspace_cases(bsmm_op_t op) {
    std::vector<Bad> v;
    const size_t need = workspace_need(op);
    if (need > 0) {
      v.push_back({"workspace_bytes one short", BS_STATUS_WORKSPACE_TOO_SMALL, [need](Args& a) { a.ws_bytes = need - 1; }});
      v.push_back({"workspace_bytes 0", BS_STATUS_WORKSPACE_TOO_SMALL, [](Args& a) { a.ws_bytes = 0; }});
      v.push_back({"workspace NULL", BS_STATUS_NULL_POINTER, [](Args& a) { a.ws = nullptr; }});
      v.push_back({"workspace misaligned", BS_STATUS_MISALIGNED_POINTER, [this](Args& a) { a.ws = odd_.data(); }});
      if (GetParam() == BS_BACKEND_CUDA)
        v.push_back({"workspace in host memory", BS_STATUS_WRONG_BACKEND, [this](Args& a) { a.ws = host_.data(); }});
    }  // a backend that needs no workspace for `op` accepts NULL with 0 bytes (the positive cases)
    return v;
  }

  static constexpr int64_t kN = 5;
  PlanSetup setup_;
  Layout layout_;
  Plan plan_;
  std::vector<TestBuffer> act_;  // x0, dy0 ... sized for both activations
  TestBuffer w_, out_, gate_, dgain_, ws_, odd_, host_;
};

std::vector<Bad> scalar_cases() {
  return {
      {"alpha NaN", BS_STATUS_INVALID_VALUE, [](Args& a) { a.alpha = kNaN; }},
      {"alpha inf", BS_STATUS_INVALID_VALUE, [](Args& a) { a.alpha = kInf; }},
      {"beta NaN", BS_STATUS_INVALID_VALUE, [](Args& a) { a.beta = kNaN; }},
      {"beta -inf", BS_STATUS_INVALID_VALUE, [](Args& a) { a.beta = -kInf; }},
      {"N -1", BS_STATUS_INVALID_VALUE, [](Args& a) { a.N = -1; }},
      {"N INT64_MIN", BS_STATUS_INVALID_VALUE, [](Args& a) { a.N = INT64_MIN; }},
      {"N*features overflows", BS_STATUS_OVERFLOW, [](Args& a) { a.N = INT64_MAX / 16; }},
      {"N*features*elem bytes overflows", BS_STATUS_OVERFLOW, [](Args& a) { a.N = INT64_MAX / 48; }},
      {"plan NULL", BS_STATUS_NULL_POINTER, [](Args& a) { a.plan = nullptr; }},
  };
}

void append(std::vector<Bad>& to, const std::vector<Bad>& from) { to.insert(to.end(), from.begin(), from.end()); }

TEST_P(BsmmBadExecute, FpropAndBprop) {
  for (bsmm_op_t op : {BSMM_OP_FPROP, BSMM_OP_BPROP}) {
    const bool cuda = GetParam() == BS_BACKEND_CUDA;
    std::vector<Bad> cases = {
        {"input NULL", BS_STATUS_NULL_POINTER, [](Args& a) { a.in = nullptr; }},
        {"w NULL", BS_STATUS_NULL_POINTER, [](Args& a) { a.w = nullptr; }},
        {"output NULL", BS_STATUS_NULL_POINTER, [](Args& a) { a.out = nullptr; }},
        {"input misaligned", BS_STATUS_MISALIGNED_POINTER, [this](Args& a) { a.in = odd_.data(); }},
        {"w misaligned", BS_STATUS_MISALIGNED_POINTER, [this](Args& a) { a.w = odd_.data(); }},
        {"output misaligned", BS_STATUS_MISALIGNED_POINTER, [this](Args& a) { a.out = odd_.data(); }},
        {"gate misaligned", BS_STATUS_MISALIGNED_POINTER, [this](Args& a) { a.gate = static_cast<const float*>(odd_.data()); }},
    };
    if (cuda) {
      cases.push_back({"input in host memory", BS_STATUS_WRONG_BACKEND, [this](Args& a) { a.in = host_.data(); }});
      cases.push_back({"w in host memory", BS_STATUS_WRONG_BACKEND, [this](Args& a) { a.w = host_.data(); }});
      cases.push_back({"output in host memory", BS_STATUS_WRONG_BACKEND, [this](Args& a) { a.out = host_.data(); }});
      cases.push_back({"gate in host memory", BS_STATUS_WRONG_BACKEND, [this](Args& a) { a.gate = host_.f32(); }});
    }
    append(cases, scalar_cases());
    append(cases, workspace_cases(op));
    run(op, cases);
  }
}

TEST_P(BsmmBadExecute, Updat) {
  std::vector<Bad> cases = {
      {"x array NULL", BS_STATUS_NULL_POINTER, [](Args& a) { a.xs.clear(); }},
      {"dy array NULL", BS_STATUS_NULL_POINTER, [](Args& a) { a.dys.clear(); }},
      {"x[1] NULL", BS_STATUS_NULL_POINTER, [](Args& a) { a.xs[1] = nullptr; }},
      {"dy[1] NULL", BS_STATUS_NULL_POINTER, [](Args& a) { a.dys[1] = nullptr; }},
      {"dw NULL", BS_STATUS_NULL_POINTER, [](Args& a) { a.out = nullptr; }},
      {"n_pairs 0", BS_STATUS_INVALID_VALUE, [](Args& a) { a.n_pairs = 0; }},
      {"n_pairs -1", BS_STATUS_INVALID_VALUE, [](Args& a) { a.n_pairs = -1; }},
      {"x[1] misaligned", BS_STATUS_MISALIGNED_POINTER, [this](Args& a) { a.xs[1] = odd_.data(); }},
      {"dy[0] misaligned", BS_STATUS_MISALIGNED_POINTER, [this](Args& a) { a.dys[0] = odd_.data(); }},
      {"dw misaligned", BS_STATUS_MISALIGNED_POINTER, [this](Args& a) { a.out = odd_.data(); }},
      {"gate misaligned", BS_STATUS_MISALIGNED_POINTER, [this](Args& a) { a.gate = static_cast<const float*>(odd_.data()); }},
  };
  if (GetParam() == BS_BACKEND_CUDA) {
    cases.push_back({"x[0] in host memory", BS_STATUS_WRONG_BACKEND, [this](Args& a) { a.xs[0] = host_.data(); }});
    cases.push_back({"dy[1] in host memory", BS_STATUS_WRONG_BACKEND, [this](Args& a) { a.dys[1] = host_.data(); }});
    cases.push_back({"dw in host memory", BS_STATUS_WRONG_BACKEND, [this](Args& a) { a.out = host_.data(); }});
    cases.push_back({"gate in host memory", BS_STATUS_WRONG_BACKEND, [this](Args& a) { a.gate = host_.f32(); }});
  }
  append(cases, scalar_cases());
  append(cases, workspace_cases(BSMM_OP_UPDAT));
  run(BSMM_OP_UPDAT, cases);
}

TEST_P(BsmmBadExecute, IdentityInit) {
  std::vector<Bad> cases = {
      {"plan NULL", BS_STATUS_NULL_POINTER, [](Args& a) { a.plan = nullptr; }},
      {"w NULL", BS_STATUS_NULL_POINTER, [](Args& a) { a.out = nullptr; }},
      {"scale NaN", BS_STATUS_INVALID_VALUE, [](Args& a) { a.scale = kNaN; }},
      {"scale -inf", BS_STATUS_INVALID_VALUE, [](Args& a) { a.scale = -kInf; }},
      {"w misaligned", BS_STATUS_MISALIGNED_POINTER, [this](Args& a) { a.out = odd_.data(); }},
  };
  if (GetParam() == BS_BACKEND_CUDA)
    cases.push_back({"w in host memory", BS_STATUS_WRONG_BACKEND, [this](Args& a) { a.out = host_.data(); }});
  run(BSMM_OP_IDENTITY_INIT, cases);
}

std::vector<Bad> epsilon_cases() {
  return {
      {"epsilon NaN", BS_STATUS_INVALID_VALUE, [](Args& a) { a.epsilon = kNaN; }},
      {"epsilon inf", BS_STATUS_INVALID_VALUE, [](Args& a) { a.epsilon = kInf; }},
      {"epsilon -1", BS_STATUS_INVALID_VALUE, [](Args& a) { a.epsilon = -1.0f; }},
      {"plan NULL", BS_STATUS_NULL_POINTER, [](Args& a) { a.plan = nullptr; }},
  };
}

TEST_P(BsmmBadExecute, L2Normalize) {
  std::vector<Bad> cases = {
      {"w NULL", BS_STATUS_NULL_POINTER, [](Args& a) { a.in = nullptr; }},
      {"y NULL", BS_STATUS_NULL_POINTER, [](Args& a) { a.out = nullptr; }},
      {"w misaligned", BS_STATUS_MISALIGNED_POINTER, [this](Args& a) { a.in = odd_.data(); }},
      {"y misaligned", BS_STATUS_MISALIGNED_POINTER, [this](Args& a) { a.out = odd_.data(); }},
      {"gain misaligned", BS_STATUS_MISALIGNED_POINTER, [this](Args& a) { a.gate = static_cast<const float*>(odd_.data()); }},
  };
  if (GetParam() == BS_BACKEND_CUDA) {
    cases.push_back({"w in host memory", BS_STATUS_WRONG_BACKEND, [this](Args& a) { a.in = host_.data(); }});
    cases.push_back({"gain in host memory", BS_STATUS_WRONG_BACKEND, [this](Args& a) { a.gate = host_.f32(); }});
  }
  append(cases, epsilon_cases());
  append(cases, workspace_cases(BSMM_OP_L2_NORMALIZE));
  run(BSMM_OP_L2_NORMALIZE, cases);
}

TEST_P(BsmmBadExecute, L2NormalizeGrad) {
  std::vector<Bad> cases = {
      {"dy NULL", BS_STATUS_NULL_POINTER, [](Args& a) { a.in = nullptr; }},
      {"w NULL", BS_STATUS_NULL_POINTER, [](Args& a) { a.w = nullptr; }},
      {"dw NULL", BS_STATUS_NULL_POINTER, [](Args& a) { a.out = nullptr; }},
      {"gain without dgain", BS_STATUS_NULL_POINTER, [](Args& a) { a.dgain = nullptr; }},
      {"dgain without gain", BS_STATUS_INVALID_VALUE, [](Args& a) { a.gate = nullptr; }},
      {"dy misaligned", BS_STATUS_MISALIGNED_POINTER, [this](Args& a) { a.in = odd_.data(); }},
      {"w misaligned", BS_STATUS_MISALIGNED_POINTER, [this](Args& a) { a.w = odd_.data(); }},
      {"dw misaligned", BS_STATUS_MISALIGNED_POINTER, [this](Args& a) { a.out = odd_.data(); }},
      {"gain misaligned", BS_STATUS_MISALIGNED_POINTER, [this](Args& a) { a.gate = static_cast<const float*>(odd_.data()); }},
      {"dgain misaligned", BS_STATUS_MISALIGNED_POINTER, [this](Args& a) { a.dgain = static_cast<float*>(odd_.data()); }},
  };
  if (GetParam() == BS_BACKEND_CUDA) {
    cases.push_back({"dy in host memory", BS_STATUS_WRONG_BACKEND, [this](Args& a) { a.in = host_.data(); }});
    cases.push_back({"dw in host memory", BS_STATUS_WRONG_BACKEND, [this](Args& a) { a.out = host_.data(); }});
    cases.push_back({"dgain in host memory", BS_STATUS_WRONG_BACKEND, [this](Args& a) { a.dgain = host_.f32(); }});
  }
  append(cases, epsilon_cases());
  append(cases, workspace_cases(BSMM_OP_L2_NORMALIZE_GRAD));
  run(BSMM_OP_L2_NORMALIZE_GRAD, cases);
}

// Pointers must be aligned to their element size (bsmm.h): 4 bytes for fp32 tensors and for the
// fp32 gates, gains and gain gradients of every plan. An address 2 bytes past a 16-byte boundary is
// aligned for fp16 only, so this holds on every backend.
TEST_P(BsmmBadExecute, Fp32DataNeedsFourByteAlignment) {
  auto rng = test_rng();
  PlanSetup s = setup_;
  s.dtype = BS_DTYPE_F32;
  const Plan plan = make_plan(s, layout_);
  ASSERT_TRUE(plan);
  const RefGeometry g = s.geometry(layout_);
  const int64_t n = std::max(kN * std::max(g.C(), g.K()), g.weight_count());
  TestBuffer a(GetParam(), HostTensor::random(BS_DTYPE_F32, n, rng)), b(GetParam(), HostTensor::random(BS_DTYPE_F32, n, rng));
  TestBuffer out(GetParam(), HostTensor::random(BS_DTYPE_F32, n, rng)), two(GetParam(), out.bytes(), 2);
  TestBuffer ws = make_workspace(plan.get(), GetParam(), BSMM_OP_FPROP, kN);
  size_t l2_bytes = 0;
  ASSERT_EQ(bsmm_get_workspace_size(plan.get(), BSMM_OP_L2_NORMALIZE_GRAD, 0, &l2_bytes), BS_STATUS_SUCCESS);
  TestBuffer l2ws(GetParam(), l2_bytes);
  const Untouched untouched({&a, &b, &out, &two, &ws});
  const bsmm_plan_t p = plan.get();
  void* const odd = two.data();
  const auto* odd_f = static_cast<const float*>(odd);
  EXPECT_BS_FAIL(BS_STATUS_MISALIGNED_POINTER, "bsmm_fprop",
                 bsmm_fprop(p, kN, odd, b.data(), out.data(), 1, 0, nullptr, ws.data(), ws.bytes(), nullptr));
  EXPECT_BS_FAIL(BS_STATUS_MISALIGNED_POINTER, "bsmm_fprop",
                 bsmm_fprop(p, kN, a.data(), odd, out.data(), 1, 0, nullptr, ws.data(), ws.bytes(), nullptr));
  EXPECT_BS_FAIL(BS_STATUS_MISALIGNED_POINTER, "bsmm_bprop",
                 bsmm_bprop(p, kN, a.data(), b.data(), odd, 1, 0, nullptr, ws.data(), ws.bytes(), nullptr));
  EXPECT_BS_FAIL(BS_STATUS_MISALIGNED_POINTER, "bsmm_bprop",
                 bsmm_bprop(p, kN, a.data(), b.data(), out.data(), 1, 0, odd_f, ws.data(), ws.bytes(), nullptr));
  const void* xs[] = {a.data(), odd};
  const void* dys[] = {b.data(), b.data()};
  size_t updat_bytes = 0;
  ASSERT_EQ(bsmm_get_workspace_size(p, BSMM_OP_UPDAT, kN, &updat_bytes), BS_STATUS_SUCCESS);
  TestBuffer uws(GetParam(), updat_bytes);
  EXPECT_BS_FAIL(BS_STATUS_MISALIGNED_POINTER, "bsmm_updat",
                 bsmm_updat(p, kN, 2, xs, dys, out.data(), 1, 0, nullptr, uws.data(), uws.bytes(), nullptr));
  EXPECT_BS_FAIL(BS_STATUS_MISALIGNED_POINTER, "bsmm_updat",
                 bsmm_updat(p, kN, 1, dys, xs, odd, 1, 0, nullptr, uws.data(), uws.bytes(), nullptr));
  EXPECT_BS_FAIL(BS_STATUS_MISALIGNED_POINTER, "bsmm_identity_init", bsmm_identity_init(p, odd, 1.0f, nullptr));
  EXPECT_BS_FAIL(BS_STATUS_MISALIGNED_POINTER, "bsmm_l2_normalize_grad",
                 bsmm_l2_normalize_grad(p, a.data(), b.data(), out.f32(), odd, static_cast<float*>(odd), 0.0f,
                                        l2ws.data(), l2ws.bytes(), nullptr));
  EXPECT_TRUE(untouched.unchanged());
  // fp16 plans: their tensors may sit 2 bytes off, but gates and gains are fp32.
  EXPECT_BS_FAIL(BS_STATUS_MISALIGNED_POINTER, "bsmm_l2_normalize",
                 bsmm_l2_normalize(plan_.get(), w_.data(), odd_f, out_.data(), 0.0f, l2ws.data(), l2ws.bytes(), nullptr));
  EXPECT_TRUE(untouched.unchanged());
}

INSTANTIATE_TEST_SUITE_P(Backend, BsmmBadExecute, all_backends(), backend_param_name);

}  // namespace
}  // namespace bs_test
