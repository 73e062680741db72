// Every optimizer function with bad input: the documented status, a message, and nothing written.
#include <cstdint>
#include <functional>

#include "optim_test_util.hpp"

namespace optimtest {
namespace {

struct BadCall {
  const char* what;
  bs_status_t expected;
  std::function<bs_status_t()> call;
};

TEST(OptimBadInput, CreateAndQueries) {
  bs_optim_params_t prm;
  ASSERT_EQ(BS_OPTIM_PARAMS_INIT(&prm), BS_STATUS_SUCCESS);
  int64_t rows[2] = {2, 3}, cols[2] = {8, 8}, blocks[2] = {16, 0}, bad_blocks[2] = {12, 0}, huge[2] = {INT64_MAX / 2, 3};
  int32_t dts[2] = {BS_DTYPE_F32, BS_DTYPE_BF16}, bad_dts[2] = {BS_DTYPE_F32, 9};
  bs_optim_plan_t plan = nullptr;
  bs_optim_params_t bad_be = prm, bad_dev = prm, bad_thr = prm, bad_size = prm, cuda = prm;
  bad_be.backend = 5;
  bad_dev.device = 1;
  bad_thr.num_threads = -1;
  bad_size.struct_size = 3;
  cuda.backend = BS_BACKEND_CUDA;
  const std::vector<BadCall> calls = {
      {"init null", BS_STATUS_NULL_POINTER, [&] { return bs_optim_params_init(nullptr, sizeof(prm)); }},
      {"init size", BS_STATUS_STRUCT_SIZE_MISMATCH, [&] { return bs_optim_params_init(&prm, 2); }},
      {"adam init size", BS_STATUS_STRUCT_SIZE_MISMATCH, [&] { bs_adam_hparams_t h; return bs_adam_hparams_init(&h, 4); }},
      {"adafactor init null", BS_STATUS_NULL_POINTER, [&] { return bs_adafactor_hparams_init(nullptr, sizeof(bs_adafactor_hparams_t)); }},
      {"null plan out", BS_STATUS_NULL_POINTER, [&] { return bs_optim_create(nullptr, &prm, 2, rows, cols, dts, nullptr); }},
      {"null params", BS_STATUS_NULL_POINTER, [&] { return bs_optim_create(&plan, nullptr, 2, rows, cols, dts, nullptr); }},
      {"params size", BS_STATUS_STRUCT_SIZE_MISMATCH, [&] { return bs_optim_create(&plan, &bad_size, 2, rows, cols, dts, nullptr); }},
      {"bad backend", BS_STATUS_INVALID_VALUE, [&] { return bs_optim_create(&plan, &bad_be, 2, rows, cols, dts, nullptr); }},
      {"cpu device 1", BS_STATUS_INVALID_VALUE, [&] { return bs_optim_create(&plan, &bad_dev, 2, rows, cols, dts, nullptr); }},
      {"threads -1", BS_STATUS_INVALID_VALUE, [&] { return bs_optim_create(&plan, &bad_thr, 2, rows, cols, dts, nullptr); }},
      {"no tensors", BS_STATUS_INVALID_VALUE, [&] { return bs_optim_create(&plan, &prm, 0, rows, cols, dts, nullptr); }},
      {"null rows", BS_STATUS_NULL_POINTER, [&] { return bs_optim_create(&plan, &prm, 2, nullptr, cols, dts, nullptr); }},
      {"null dtypes", BS_STATUS_NULL_POINTER, [&] { return bs_optim_create(&plan, &prm, 2, rows, cols, nullptr, nullptr); }},
      {"bad dtype", BS_STATUS_INVALID_VALUE, [&] { return bs_optim_create(&plan, &prm, 2, rows, cols, bad_dts, nullptr); }},
      {"zero size", BS_STATUS_INVALID_VALUE, [&] { int64_t z[2] = {0, 3}; return bs_optim_create(&plan, &prm, 2, z, cols, dts, nullptr); }},
      {"overflow", BS_STATUS_OVERFLOW, [&] { return bs_optim_create(&plan, &prm, 2, huge, cols, dts, nullptr); }},
      {"bad block", BS_STATUS_INVALID_VALUE, [&] { return bs_optim_create(&plan, &prm, 2, rows, cols, dts, bad_blocks); }},
#if defined(BS_TEST_CUDA)
      {"cuda not implemented", BS_STATUS_NOT_SUPPORTED, [&] { return bs_optim_create(&plan, &cuda, 2, rows, cols, dts, nullptr); }},
#else
      {"cuda not built", BS_STATUS_BACKEND_UNAVAILABLE, [&] { return bs_optim_create(&plan, &cuda, 2, rows, cols, dts, nullptr); }},
#endif
  };
  for (const BadCall& c : calls) {
    EXPECT_EQ(c.call(), c.expected) << c.what;
    EXPECT_EQ(plan, nullptr) << c.what << ": plan written on failure";
    char msg[512];
    size_t len = 0;
    bs_get_last_error(msg, sizeof(msg), &len);
    EXPECT_GT(len, 1u) << c.what << ": no message";
  }
  ASSERT_EQ(bs_optim_create(&plan, &prm, 2, rows, cols, dts, blocks), BS_STATUS_SUCCESS);
  int64_t v = 0;
  size_t bytes = 0;
  EXPECT_EQ(bs_optim_get_attr(plan, BS_OPTIM_ATTR_NUMEL, &v), BS_STATUS_SUCCESS);
  EXPECT_EQ(v, 40);
  EXPECT_EQ(bs_optim_get_attr(plan, BS_OPTIM_ATTR_N_TENSORS, &v), BS_STATUS_SUCCESS);
  EXPECT_EQ(v, 2);
  EXPECT_EQ(bs_optim_get_attr(plan, BS_OPTIM_ATTR_LAUNCHES, &v), BS_STATUS_SUCCESS);
  EXPECT_EQ(v, 2);  // fp32 blocked and bf16 plain: two groups
  EXPECT_EQ(bs_optim_get_attr(nullptr, BS_OPTIM_ATTR_NUMEL, &v), BS_STATUS_NULL_POINTER);
  EXPECT_EQ(bs_optim_get_attr(plan, static_cast<bs_optim_attr_t>(99), &v), BS_STATUS_INVALID_VALUE);
  EXPECT_EQ(bs_optim_get_attr(plan, BS_OPTIM_ATTR_NUMEL, nullptr), BS_STATUS_NULL_POINTER);
  EXPECT_EQ(bs_optim_get_workspace_size(plan, static_cast<bs_optim_op_t>(-1), &bytes), BS_STATUS_INVALID_VALUE);
  EXPECT_EQ(bs_optim_get_workspace_size(plan, BS_OPTIM_OP_ADAM, nullptr), BS_STATUS_NULL_POINTER);
  EXPECT_EQ(bs_optim_get_workspace_size(plan, BS_OPTIM_OP_ADAM, &bytes), BS_STATUS_SUCCESS);
  EXPECT_EQ(bytes, 0u);
  EXPECT_EQ(bs_optim_destroy(plan), BS_STATUS_SUCCESS);
  EXPECT_EQ(bs_optim_destroy(nullptr), BS_STATUS_SUCCESS);
}

TEST(OptimBadInput, Execute) {
  const bs_dtype_t d = BS_DTYPE_BF16;
  TensorList t(d, shapes());
  auto P = TensorList::ptrs<void*>(t.P);
  auto G = TensorList::ptrs<const void*>(t.G);
  auto M = TensorList::ptrs<float*>(t.M);
  auto V = TensorList::ptrs<float*>(t.V);
  auto gates = t.block_ptrs(t.Gate);
  std::vector<const float*> gates_on_plain = gates;
  gates_on_plain[0] = t.Gate[1]->f32();  // tensor 0 has no blocks
  std::vector<void*> P_null = P, P_mis = P;
  P_null[2] = nullptr;
  P_mis[3] = static_cast<char*>(P[3]) + 1;
  std::vector<float*> M_mis = M;
  M_mis[1] = reinterpret_cast<float*>(reinterpret_cast<char*>(M[1]) + 2);
  bs_adam_hparams_t h;
  ASSERT_EQ(BS_ADAM_HPARAMS_INIT(&h), BS_STATUS_SUCCESS);
  auto adam_with = [&](auto edit) {
    bs_adam_hparams_t x = h;
    edit(x);
    return bs_optim_adam(t.plan, &x, P.data(), G.data(), M.data(), V.data(), nullptr, nullptr, nullptr, nullptr, 0, nullptr);
  };
  bs_adafactor_hparams_t af;
  ASSERT_EQ(BS_ADAFACTOR_HPARAMS_INIT(&af), BS_STATUS_SUCCESS);
  size_t af_ws = 0, gn_ws = 0;
  ASSERT_EQ(bs_optim_get_workspace_size(t.plan, BS_OPTIM_OP_ADAFACTOR, &af_ws), BS_STATUS_SUCCESS);
  ASSERT_EQ(bs_optim_get_workspace_size(t.plan, BS_OPTIM_OP_GLOBAL_NORM, &gn_ws), BS_STATUS_SUCCESS);
  Buf ws(BS_BACKEND_CPU, af_ws + gn_ws + 64), out(BS_BACKEND_CPU, 8);
  std::vector<float*> R, C;
  for (size_t i = 0; i < t.sh.size(); ++i) {
    R.push_back(t.sh[i].rows >= 2 ? t.M[i]->f32() : nullptr);
    C.push_back(t.V[i]->f32());
  }
  std::vector<float*> R_bad = R;
  R_bad[2] = t.M[2]->f32();  // tensor 2 has rows = 1
  bs_grad_filter_t bad_filter{NAN, 0, 0, 0}, bad_flag{1, 0, 2, 0};
  float* n0 = out.f32();
  float* n1 = out.f32() + 1;
  const std::vector<BadCall> calls = {
      {"adam null plan", BS_STATUS_NULL_POINTER, [&] { return bs_optim_adam(nullptr, &h, P.data(), G.data(), M.data(), V.data(), nullptr, nullptr, nullptr, nullptr, 0, nullptr); }},
      {"adam null hp", BS_STATUS_NULL_POINTER, [&] { return bs_optim_adam(t.plan, nullptr, P.data(), G.data(), M.data(), V.data(), nullptr, nullptr, nullptr, nullptr, 0, nullptr); }},
      {"adam hp size", BS_STATUS_STRUCT_SIZE_MISMATCH, [&] { return adam_with([](bs_adam_hparams_t& x) { x.struct_size = 8; }); }},
      {"adam bad mode", BS_STATUS_INVALID_VALUE, [&] { return adam_with([](bs_adam_hparams_t& x) { x.mode = 3; }); }},
      {"adam nan lr", BS_STATUS_INVALID_VALUE, [&] { return adam_with([](bs_adam_hparams_t& x) { x.lr = NAN; }); }},
      {"adam beta1 1", BS_STATUS_INVALID_VALUE, [&] { return adam_with([](bs_adam_hparams_t& x) { x.beta1 = 1.0f; }); }},
      {"adam beta2 < 0", BS_STATUS_INVALID_VALUE, [&] { return adam_with([](bs_adam_hparams_t& x) { x.beta2 = -0.1f; }); }},
      {"adam eps 0", BS_STATUS_INVALID_VALUE, [&] { return adam_with([](bs_adam_hparams_t& x) { x.epsilon = 0; }); }},
      {"adam negative decay", BS_STATUS_INVALID_VALUE, [&] { return adam_with([](bs_adam_hparams_t& x) { x.weight_decay = -1; }); }},
      {"adam step 0", BS_STATUS_INVALID_VALUE, [&] { return adam_with([](bs_adam_hparams_t& x) { x.step = 0; }); }},
      {"adam bias flag", BS_STATUS_INVALID_VALUE, [&] { return adam_with([](bs_adam_hparams_t& x) { x.bias_correction = 2; }); }},
      {"adam eps mode", BS_STATUS_INVALID_VALUE, [&] { return adam_with([](bs_adam_hparams_t& x) { x.eps_mode = 7; }); }},
      {"adam clip sigma inf", BS_STATUS_INVALID_VALUE, [&] { return adam_with([](bs_adam_hparams_t& x) { x.clip_sigma = INFINITY; }); }},
      {"adam filter scale", BS_STATUS_INVALID_VALUE, [&] { return adam_with([](bs_adam_hparams_t& x) { x.filter.grad_scale = INFINITY; }); }},
      {"adam filter flag", BS_STATUS_INVALID_VALUE, [&] { return adam_with([](bs_adam_hparams_t& x) { x.filter.zero_nans = 5; }); }},
      {"adam null list", BS_STATUS_NULL_POINTER, [&] { return bs_optim_adam(t.plan, &h, P.data(), nullptr, M.data(), V.data(), nullptr, nullptr, nullptr, nullptr, 0, nullptr); }},
      {"adam null tensor", BS_STATUS_NULL_POINTER, [&] { return bs_optim_adam(t.plan, &h, P_null.data(), G.data(), M.data(), V.data(), nullptr, nullptr, nullptr, nullptr, 0, nullptr); }},
      {"adam misaligned param", BS_STATUS_MISALIGNED_POINTER, [&] { return bs_optim_adam(t.plan, &h, P_mis.data(), G.data(), M.data(), V.data(), nullptr, nullptr, nullptr, nullptr, 0, nullptr); }},
      {"adam misaligned m", BS_STATUS_MISALIGNED_POINTER, [&] { return bs_optim_adam(t.plan, &h, P.data(), G.data(), M_mis.data(), V.data(), nullptr, nullptr, nullptr, nullptr, 0, nullptr); }},
      {"adam gate on plain tensor", BS_STATUS_INVALID_VALUE, [&] { return bs_optim_adam(t.plan, &h, P.data(), G.data(), M.data(), V.data(), gates_on_plain.data(), nullptr, nullptr, nullptr, 0, nullptr); }},
      {"adam misaligned norm_scale", BS_STATUS_MISALIGNED_POINTER, [&] { return bs_optim_adam(t.plan, &h, P.data(), G.data(), M.data(), V.data(), nullptr, nullptr, reinterpret_cast<float*>(reinterpret_cast<char*>(n0) + 1), nullptr, 0, nullptr); }},
      {"ema decay > 1", BS_STATUS_INVALID_VALUE, [&] { return bs_optim_ema(t.plan, 1.5f, M.data(), G.data(), nullptr, nullptr); }},
      {"ema nan decay", BS_STATUS_INVALID_VALUE, [&] { return bs_optim_ema(t.plan, NAN, M.data(), G.data(), nullptr, nullptr); }},
      {"ema null", BS_STATUS_NULL_POINTER, [&] { return bs_optim_ema(t.plan, 0.9f, nullptr, G.data(), nullptr, nullptr); }},
      {"ema gate on plain", BS_STATUS_INVALID_VALUE, [&] { return bs_optim_ema(t.plan, 0.9f, M.data(), G.data(), gates_on_plain.data(), nullptr); }},
      {"norm clip 0", BS_STATUS_INVALID_VALUE, [&] { return bs_optim_global_norm(t.plan, G.data(), nullptr, 0.0f, n0, n1, ws.ptr(), gn_ws, nullptr); }},
      {"norm clip nan", BS_STATUS_INVALID_VALUE, [&] { return bs_optim_global_norm(t.plan, G.data(), nullptr, NAN, n0, n1, ws.ptr(), gn_ws, nullptr); }},
      {"norm no outputs", BS_STATUS_NULL_POINTER, [&] { return bs_optim_global_norm(t.plan, G.data(), nullptr, 1.0f, nullptr, nullptr, ws.ptr(), gn_ws, nullptr); }},
      {"norm small workspace", BS_STATUS_WORKSPACE_TOO_SMALL, [&] { return bs_optim_global_norm(t.plan, G.data(), nullptr, 1.0f, n0, n1, ws.ptr(), gn_ws - 1, nullptr); }},
      {"norm null workspace", BS_STATUS_NULL_POINTER, [&] { return bs_optim_global_norm(t.plan, G.data(), nullptr, 1.0f, n0, n1, nullptr, gn_ws, nullptr); }},
      {"norm bad filter", BS_STATUS_INVALID_VALUE, [&] { return bs_optim_global_norm(t.plan, G.data(), &bad_filter, 1.0f, n0, n1, ws.ptr(), gn_ws, nullptr); }},
      {"norm bad filter flag", BS_STATUS_INVALID_VALUE, [&] { return bs_optim_global_norm(t.plan, G.data(), &bad_flag, 1.0f, n0, n1, ws.ptr(), gn_ws, nullptr); }},
      {"norm misaligned out", BS_STATUS_MISALIGNED_POINTER, [&] { return bs_optim_global_norm(t.plan, G.data(), nullptr, 1.0f, reinterpret_cast<float*>(reinterpret_cast<char*>(n0) + 2), n1, ws.ptr(), gn_ws, nullptr); }},
      {"adafactor decay 1", BS_STATUS_INVALID_VALUE, [&] { bs_adafactor_hparams_t x = af; x.decay = 1; return bs_optim_adafactor(t.plan, &x, P.data(), G.data(), R.data(), C.data(), nullptr, ws.ptr(), af_ws, nullptr); }},
      {"adafactor clip 0", BS_STATUS_INVALID_VALUE, [&] { bs_adafactor_hparams_t x = af; x.clip_thresh = 0; return bs_optim_adafactor(t.plan, &x, P.data(), G.data(), R.data(), C.data(), nullptr, ws.ptr(), af_ws, nullptr); }},
      {"adafactor row_var on 1-D", BS_STATUS_INVALID_VALUE, [&] { return bs_optim_adafactor(t.plan, &af, P.data(), G.data(), R_bad.data(), C.data(), nullptr, ws.ptr(), af_ws, nullptr); }},
      {"adafactor small workspace", BS_STATUS_WORKSPACE_TOO_SMALL, [&] { return bs_optim_adafactor(t.plan, &af, P.data(), G.data(), R.data(), C.data(), nullptr, ws.ptr(), af_ws - 8, nullptr); }},
      {"adafactor null col_var", BS_STATUS_NULL_POINTER, [&] { return bs_optim_adafactor(t.plan, &af, P.data(), G.data(), R.data(), nullptr, nullptr, ws.ptr(), af_ws, nullptr); }},
  };
  std::vector<std::vector<uint8_t>> before;
  auto snapshot = [&] {
    std::vector<std::vector<uint8_t>> s;
    for (auto* list : {&t.P, &t.M, &t.V})
      for (const auto& b : *list) s.push_back(b->all());
    s.push_back(out.all());
    return s;
  };
  before = snapshot();
  for (const BadCall& c : calls) {
    EXPECT_EQ(c.call(), c.expected) << c.what;
    char msg[512];
    size_t len = 0;
    bs_get_last_error(msg, sizeof(msg), &len);
    EXPECT_GT(len, 1u) << c.what << ": no message";
    EXPECT_TRUE(snapshot() == before) << c.what << ": wrote on failure";
  }
}

}  // namespace
}  // namespace optimtest
