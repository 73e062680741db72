// Every plain op with bad input: the documented status, a message naming the function, and no
// output byte written. (layernorm and sparse_proj plans have their own bad-input tests.)
#include <functional>

#include "ops_test_util.hpp"

namespace opstest {
namespace {

struct BadCall {
  const char* what;
  bs_status_t expected;
  std::function<bs_status_t()> call;
};

class BadInput : public OpsTest {};

TEST_P(BadInput, EveryPlainFunction) {
  const bs_backend_t b = be();
  const bs_dtype_t d = dt();
  const int64_t n = 64;
  auto x = in(rnd(4 * n, 0.5, 1)), x2 = in(rnd(4 * n, 0.5, 1)), vf = in_f32(rnd_f32(4 * n, 0.5, 1));
  auto o = out(4 * n), o2 = out(4 * n), of = out_f32(4 * n), of2 = out_f32(4 * n);
  void* X = x->ptr();
  void* X2 = x2->ptr();
  float* V = vf->f32();
  void* O = o->ptr();
  void* O2 = o2->ptr();
  float* F = of->f32();
  float* F2 = of2->f32();
  void* mis = static_cast<char*>(X) + 1;
  const auto bad_dt = static_cast<bs_dtype_t>(7);
  const auto bad_be = static_cast<bs_backend_t>(4);
  const void* xs[2] = {X, nullptr};
  void* parts[4] = {O, O2, nullptr, nullptr};
  const void* cparts[4] = {X, X2, nullptr, X};
  auto* M = reinterpret_cast<uint32_t*>(F);
  const std::vector<BadCall> calls = {
      {"binary null x", BS_STATUS_NULL_POINTER, [&] { return bs_ew_binary(b, BS_EW_ADD, d, 2, n, nullptr, X, 0, O, nullptr); }},
      {"binary bad op", BS_STATUS_INVALID_VALUE, [&] { return bs_ew_binary(b, static_cast<bs_ew_binary_op_t>(6), d, 2, n, X, X, 0, O, nullptr); }},
      {"binary bad dtype", BS_STATUS_INVALID_VALUE, [&] { return bs_ew_binary(b, BS_EW_ADD, bad_dt, 2, n, X, X, 0, O, nullptr); }},
      {"binary bad backend", BS_STATUS_INVALID_VALUE, [&] { return bs_ew_binary(bad_be, BS_EW_ADD, d, 2, n, X, X, 0, O, nullptr); }},
      {"binary negative rows", BS_STATUS_INVALID_VALUE, [&] { return bs_ew_binary(b, BS_EW_ADD, d, -2, n, X, X, 0, O, nullptr); }},
      {"binary overflow", BS_STATUS_OVERFLOW, [&] { return bs_ew_binary(b, BS_EW_ADD, d, INT64_MAX / 2, 4, X, X, 0, O, nullptr); }},
      {"binary flag", BS_STATUS_INVALID_VALUE, [&] { return bs_ew_binary(b, BS_EW_ADD, d, 2, n, X, X, 2, O, nullptr); }},
      {"binary misaligned", BS_STATUS_MISALIGNED_POINTER, [&] { return bs_ew_binary(b, BS_EW_ADD, d, 2, n, mis, X, 0, O, nullptr); }},
      {"binary_grad null dz", BS_STATUS_NULL_POINTER, [&] { return bs_ew_binary_grad(b, BS_EW_MULTIPLY, d, 2, n, nullptr, X, X, 0, O, O2, nullptr); }},
      {"binary_grad null y", BS_STATUS_NULL_POINTER, [&] { return bs_ew_binary_grad(b, BS_EW_MULTIPLY, d, 2, n, X, X, nullptr, 1, O, O2, nullptr); }},
      {"unary null y", BS_STATUS_NULL_POINTER, [&] { return bs_ew_unary(b, BS_EW_EXP, d, n, X, 0, nullptr, nullptr); }},
      {"unary bad op", BS_STATUS_INVALID_VALUE, [&] { return bs_ew_unary(b, static_cast<bs_ew_unary_op_t>(12), d, n, X, 0, O, nullptr); }},
      {"unary nan alpha", BS_STATUS_INVALID_VALUE, [&] { return bs_ew_unary(b, BS_EW_ELU, d, n, X, NAN, O, nullptr); }},
      {"unary negative n", BS_STATUS_INVALID_VALUE, [&] { return bs_ew_unary(b, BS_EW_EXP, d, -1, X, 0, O, nullptr); }},
      {"unary_grad null dy", BS_STATUS_NULL_POINTER, [&] { return bs_ew_unary_grad(b, BS_EW_EXP, d, n, nullptr, X, 0, O, nullptr); }},
      {"bias_act bad act", BS_STATUS_INVALID_VALUE, [&] { return bs_bias_act(b, static_cast<bs_act_t>(4), d, 1, 2, n, X, V, O, nullptr); }},
      {"bias_act bad axis", BS_STATUS_INVALID_VALUE, [&] { return bs_bias_act(b, BS_ACT_RELU, d, 2, 2, n, X, V, O, nullptr); }},
      {"bias_act misaligned bias", BS_STATUS_MISALIGNED_POINTER, [&] { return bs_bias_act(b, BS_ACT_RELU, d, 1, 2, n, X, reinterpret_cast<float*>(mis), O, nullptr); }},
      {"bias_act_grad null dx", BS_STATUS_NULL_POINTER, [&] { return bs_bias_act_grad(b, BS_ACT_RELU, d, 1, 2, n, X, X, V, nullptr, F, nullptr); }},
      {"float_cast bad dst", BS_STATUS_INVALID_VALUE, [&] { return bs_float_cast(b, d, bad_dt, n, X, O, nullptr); }},
      {"float_cast alias", BS_STATUS_INVALID_VALUE, [&] { return bs_float_cast(b, BS_DTYPE_F32, BS_DTYPE_F16, n, F, F, nullptr); }},
      {"float_cast null", BS_STATUS_NULL_POINTER, [&] { return bs_float_cast(b, d, d, n, nullptr, O, nullptr); }},
      {"add_n count 0", BS_STATUS_INVALID_VALUE, [&] { return bs_add_n(b, d, n, 0, xs, O, nullptr); }},
      {"add_n count 65", BS_STATUS_INVALID_VALUE, [&] { return bs_add_n(b, d, n, 65, xs, O, nullptr); }},
      {"add_n null input", BS_STATUS_NULL_POINTER, [&] { return bs_add_n(b, d, n, 2, xs, O, nullptr); }},
      {"add_n null list", BS_STATUS_NULL_POINTER, [&] { return bs_add_n(b, d, n, 1, nullptr, O, nullptr); }},
      {"dropout_mask keep 0", BS_STATUS_INVALID_VALUE, [&] { return bs_dropout_mask(b, n, 0.0f, 1, 0, M, nullptr); }},
      {"dropout_mask keep > 1", BS_STATUS_INVALID_VALUE, [&] { return bs_dropout_mask(b, n, 1.5f, 1, 0, M, nullptr); }},
      {"dropout_mask null", BS_STATUS_NULL_POINTER, [&] { return bs_dropout_mask(b, n, 0.5f, 1, 0, nullptr, nullptr); }},
      {"dropout_fprop null x", BS_STATUS_NULL_POINTER, [&] { return bs_dropout_fprop(b, d, n, nullptr, 0.5f, 1, 0, O, M, nullptr); }},
      {"dropout_fprop nan keep", BS_STATUS_INVALID_VALUE, [&] { return bs_dropout_fprop(b, d, n, X, NAN, 1, 0, O, M, nullptr); }},
      {"dropout_apply null mask", BS_STATUS_NULL_POINTER, [&] { return bs_dropout_apply(b, d, n, X, nullptr, 0.5f, O, nullptr); }},
      {"dropout_apply misaligned mask", BS_STATUS_MISALIGNED_POINTER, [&] { return bs_dropout_apply(b, d, n, X, reinterpret_cast<const uint32_t*>(mis), 0.5f, O, nullptr); }},
      {"bn train null mean", BS_STATUS_NULL_POINTER, [&] { return bs_batchnorm_fprop_train(b, d, 2, 4, 8, X, V, V, 1e-5f, O, nullptr, F2, nullptr); }},
      {"bn train no samples", BS_STATUS_INVALID_VALUE, [&] { return bs_batchnorm_fprop_train(b, d, 0, 4, 8, X, V, V, 1e-5f, O, F, F2, nullptr); }},
      {"bn train bad eps", BS_STATUS_INVALID_VALUE, [&] { return bs_batchnorm_fprop_train(b, d, 2, 4, 8, X, V, V, -1.0f, O, F, F2, nullptr); }},
      {"bn infer null var", BS_STATUS_NULL_POINTER, [&] { return bs_batchnorm_fprop_infer(b, d, 2, 4, 8, X, V, V, V, nullptr, 1e-5f, O, nullptr); }},
      {"bn bprop bad flag", BS_STATUS_INVALID_VALUE, [&] { return bs_batchnorm_bprop(b, d, 3, 2, 4, 8, X, X, V, V, V, 1e-5f, O, F, F2, nullptr); }},
      {"bn bprop null dx", BS_STATUS_NULL_POINTER, [&] { return bs_batchnorm_bprop(b, d, 1, 2, 4, 8, X, X, V, V, V, 1e-5f, nullptr, F, F2, nullptr); }},
      {"bn negative C", BS_STATUS_INVALID_VALUE, [&] { return bs_batchnorm_fprop_infer(b, d, 2, -4, 8, X, V, V, V, V, 1e-5f, O, nullptr); }},
      {"cwise bad relu", BS_STATUS_INVALID_VALUE, [&] { return bs_cwise_linear_fprop(b, d, 2, 4, 8, X, V, V, 2, 0, O, nullptr); }},
      {"cwise null y", BS_STATUS_NULL_POINTER, [&] { return bs_cwise_linear_fprop(b, d, 2, 4, 8, X, V, V, 0, 0, nullptr, nullptr); }},
      {"cwise bprop null dy", BS_STATUS_NULL_POINTER, [&] { return bs_cwise_linear_bprop(b, d, 2, 4, 8, nullptr, X, V, V, 0, 0, O, F, F2, nullptr); }},
      {"cwise bprop bad bias_first", BS_STATUS_INVALID_VALUE, [&] { return bs_cwise_linear_bprop(b, d, 2, 4, 8, X, X, V, V, 0, 5, O, F, F2, nullptr); }},
      {"lstm fprop null h", BS_STATUS_NULL_POINTER, [&] { return bs_lstm_gates_fprop(b, d, 2, 8, X, nullptr, V, 1.0f, O, O2, nullptr); }},
      {"lstm fprop inf forget bias", BS_STATUS_INVALID_VALUE, [&] { return bs_lstm_gates_fprop(b, d, 2, 8, X, X2, V, INFINITY, O, O2, nullptr); }},
      {"lstm fprop overflow", BS_STATUS_OVERFLOW, [&] { return bs_lstm_gates_fprop(b, d, 2, INT64_MAX / 4, X, X2, V, 1.0f, O, O2, nullptr); }},
      {"lstm bprop null dh", BS_STATUS_NULL_POINTER, [&] { return bs_lstm_gates_bprop(b, d, 2, 8, X, X, X, X2, V, 1.0f, O, nullptr, F, nullptr); }},
      {"split4 null part", BS_STATUS_NULL_POINTER, [&] { return bs_split4(b, d, 2, 8, X, parts, nullptr); }},
      {"split4 null list", BS_STATUS_NULL_POINTER, [&] { return bs_split4(b, d, 2, 8, X, nullptr, nullptr); }},
      {"concat4 null part", BS_STATUS_NULL_POINTER, [&] { return bs_concat4(b, d, 2, 8, cparts, O, nullptr); }},
      {"concat4 bad dtype", BS_STATUS_INVALID_VALUE, [&] { return bs_concat4(b, bad_dt, 2, 8, cparts, O, nullptr); }},
  };
  for (const BadCall& c : calls) {
    bs_clear_last_error();
    EXPECT_EQ(c.call(), c.expected) << c.what;
    char msg[512];
    BS_OK(bs_get_last_error(msg, sizeof msg, nullptr));
    EXPECT_NE(std::string(msg).find("bs_"), std::string::npos) << c.what << ": " << msg;
  }
  EXPECT_TRUE(o->untouched());
  EXPECT_TRUE(o2->untouched());
  EXPECT_TRUE(of->untouched());
  EXPECT_TRUE(of2->untouched());
}

// Memory of the other backend is refused with BS_STATUS_WRONG_BACKEND.
TEST_P(BadInput, WrongBackendPointers) {
  if (!cuda_test_build() || !cuda_available()) GTEST_SKIP() << "needs a CUDA build and a GPU";
  const bs_backend_t other = be() == BS_BACKEND_CPU ? BS_BACKEND_CUDA : BS_BACKEND_CPU;
  auto x = std::make_unique<Buf>(other, dt(), rnd(64));
  auto o = out(64);
  EXPECT_EQ(bs_ew_unary(be(), BS_EW_EXP, dt(), 64, x->ptr(), 0, o->ptr(), nullptr), BS_STATUS_WRONG_BACKEND);
  EXPECT_TRUE(o->untouched());
}

TEST(BadInputNoCuda, CudaBackendUnavailable) {
  if (cuda_test_build()) GTEST_SKIP() << "this build has CUDA";
  float v[4] = {1, 2, 3, 4};
  EXPECT_EQ(bs_ew_unary(BS_BACKEND_CUDA, BS_EW_EXP, BS_DTYPE_F32, 4, v, 0, v, nullptr), BS_STATUS_BACKEND_UNAVAILABLE);
  EXPECT_EQ(v[0], 1.0f);
}

OPS_INSTANTIATE(BadInput);

}  // namespace
}  // namespace opstest
