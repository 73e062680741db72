// The optimizers against float64 references (the formulas of bs_optim.h, which follow the
// original's optimize_op_gpu.cu and PyTorch's Adam/AdamW), on fresh random data, every dtype.
#include "optim_test_util.hpp"

namespace optimtest {
namespace {

using opstest::round_to;
using opstest::tol;

struct AdamCase {
  int32_t mode, eps_mode;
  float clip_sigma, weight_decay;
  bool gates, select;
};

class OptimMath : public ::testing::TestWithParam<bs_dtype_t> {
 protected:
  bs_dtype_t dt() const { return GetParam(); }
};

// One Adam step in float64; returns false where the element is skipped (gate 0).
void adam_ref(const bs_adam_hparams_t& h, double ns, bool sel, double g, double& p, double& m, double& v) {
  Filter f{h.filter.grad_scale * ns, h.filter.saturate, h.filter.zero_infs != 0, h.filter.zero_nans != 0};
  g = filter(g, f);
  const double lr = sel ? h.lr_selected : h.lr;
  if (h.mode == BS_ADAM_ADAMW) p *= 1 - lr * h.weight_decay;
  else g += h.weight_decay * p;
  const double bc1 = h.bias_correction ? 1 - std::pow(double(h.beta1), double(h.step)) : 1;
  const double bc2 = h.bias_correction ? 1 - std::pow(double(h.beta2), double(h.step)) : 1;
  v = h.beta2 * v + (1 - double(h.beta2)) * g * g;
  if (h.clip_sigma > 0) {
    const double c = h.clip_sigma * std::sqrt(v);
    g = std::fmax(std::fmin(g, c), -c);
  }
  m = h.beta1 * m + (1 - double(h.beta1)) * g;
  if (h.eps_mode == BS_ADAM_EPS_TORCH)
    p -= lr / bc1 * m / (std::sqrt(v) / std::sqrt(bc2) + h.epsilon);
  else
    p -= lr * std::sqrt(bc2) / bc1 * m / (std::sqrt(v) + h.epsilon);
}

void run_adam(bs_dtype_t dt, const AdamCase& c, double ns_value, bool with_ns) {
  TensorList t(dt, shapes());
  bs_adam_hparams_t h;
  ASSERT_EQ(BS_ADAM_HPARAMS_INIT(&h), BS_STATUS_SUCCESS);
  h.mode = c.mode;
  h.eps_mode = c.eps_mode;
  h.clip_sigma = c.clip_sigma;
  h.weight_decay = c.weight_decay;
  h.lr = 0.1f;  // a step of ~10 % of |p|: visible above the 16-bit rounding of p
  h.lr_selected = 0.03f;
  h.step = 3;
  h.filter.grad_scale = 0.5f;
  Buf ns(BS_BACKEND_CPU, BS_DTYPE_F32, {ns_value});
  auto P = TensorList::ptrs<void*>(t.P);
  auto G = TensorList::ptrs<const void*>(t.G);
  auto M = TensorList::ptrs<float*>(t.M);
  auto V = TensorList::ptrs<float*>(t.V);
  auto gates = t.block_ptrs(t.Gate);
  auto sels = t.block_ptrs(t.Sel);
  ASSERT_EQ(bs_optim_adam(t.plan, &h, P.data(), G.data(), M.data(), V.data(), c.gates ? gates.data() : nullptr,
                          c.select ? sels.data() : nullptr, with_ns ? ns.f32() : nullptr, nullptr, 0, nullptr),
            BS_STATUS_SUCCESS);
  for (size_t i = 0; i < t.sh.size(); ++i) {
    std::vector<double> p = t.p[i], m = t.m[i], v = t.v[i];
    const int64_t be = t.sh[i].block_elems;
    for (size_t e = 0; e < p.size(); ++e) {
      const size_t blk = be ? e / static_cast<size_t>(be) : 0;
      if (with_ns && ns_value == 0) continue;
      if (c.gates && be && t.gate[i][blk] == 0) continue;
      adam_ref(h, with_ns ? ns_value : 1.0, c.select && be && t.sel[i][blk] != 0, t.g[i][e], p[e], m[e], v[e]);
      p[e] = round_to(dt, p[e]);
    }
    SCOPED_TRACE("tensor " + std::to_string(i));
    OPS_EXPECT_CLOSE(*t.P[i], dt, p, tol(dt));
    OPS_EXPECT_CLOSE(*t.M[i], BS_DTYPE_F32, m, 1e-5);
    OPS_EXPECT_CLOSE(*t.V[i], BS_DTYPE_F32, v, 1e-5);
    // Skipped elements (gates, norm_scale 0) keep their exact bits.
    const auto pv = t.P[i]->values(dt), mv = t.M[i]->values(BS_DTYPE_F32);
    for (size_t e = 0; e < p.size(); ++e) {
      const size_t blk = be ? e / static_cast<size_t>(be) : 0;
      if ((with_ns && ns_value == 0) || (c.gates && be && t.gate[i][blk] == 0)) {
        ASSERT_EQ(pv[e], t.p[i][e]) << "skipped element " << e << " changed";
        ASSERT_EQ(mv[e], t.m[i][e]) << "skipped element " << e << " changed";
      }
    }
    if (dt == BS_DTYPE_F32) {  // the update itself, not only p, within the fp32 bound
      std::vector<double> d_out(p.size()), d_ref(p.size());
      for (size_t e = 0; e < p.size(); ++e) {
        d_out[e] = pv[e] - t.p[i][e];
        d_ref[e] = p[e] - t.p[i][e];
      }
      if (!(with_ns && ns_value == 0)) {
        EXPECT_LE(opstest::rel_err(d_out, d_ref), 1e-4) << "update of tensor " << i;
      }
    }
  }
}

TEST_P(OptimMath, AdamW) { run_adam(dt(), {BS_ADAM_ADAMW, BS_ADAM_EPS_TORCH, 0, 0.01f, false, false}, 1, false); }
TEST_P(OptimMath, AdamL2OriginalEps) { run_adam(dt(), {BS_ADAM_L2, BS_ADAM_EPS_ORIGINAL, 0, 0.01f, false, false}, 1, false); }
TEST_P(OptimMath, AdamClipSigmaGatesSelect) { run_adam(dt(), {BS_ADAM_ADAMW, BS_ADAM_EPS_ORIGINAL, 1.5f, 0, true, true}, 0.7, true); }
TEST_P(OptimMath, AdamNormScaleZeroSkipsStep) { run_adam(dt(), {BS_ADAM_ADAMW, BS_ADAM_EPS_TORCH, 0, 0.01f, true, false}, 0, true); }

TEST_P(OptimMath, AdamFilterZeroesNonFinite) {
  TensorList t(dt(), {{2, 40, 0}});
  std::vector<double> g = t.g[0];
  g[3] = NAN;
  g[7] = INFINITY;
  g[9] = -INFINITY;
  t.G[0]->upload(opstest::encode(dt(), g));
  bs_adam_hparams_t h;
  ASSERT_EQ(BS_ADAM_HPARAMS_INIT(&h), BS_STATUS_SUCCESS);
  h.lr = 0.1f;
  h.filter.zero_nans = 1;
  h.filter.zero_infs = 1;
  h.filter.saturate = 0.5f;
  auto P = TensorList::ptrs<void*>(t.P);
  auto G = TensorList::ptrs<const void*>(t.G);
  auto M = TensorList::ptrs<float*>(t.M);
  auto V = TensorList::ptrs<float*>(t.V);
  ASSERT_EQ(bs_optim_adam(t.plan, &h, P.data(), G.data(), M.data(), V.data(), nullptr, nullptr, nullptr, nullptr, 0,
                          nullptr),
            BS_STATUS_SUCCESS);
  std::vector<double> p = t.p[0], m = t.m[0], v = t.v[0];
  for (size_t e = 0; e < p.size(); ++e) {
    adam_ref(h, 1, false, g[e], p[e], m[e], v[e]);
    p[e] = round_to(dt(), p[e]);
  }
  OPS_EXPECT_CLOSE(*t.P[0], dt(), p, tol(dt()));
  OPS_EXPECT_CLOSE(*t.V[0], BS_DTYPE_F32, v, 1e-5);
}

double norm_ref(const TensorList& t, const Filter& f) {
  double s = 0;
  for (const auto& g : t.g)
    for (double x : g) s += filter(x, f) * filter(x, f);
  return std::sqrt(s);
}

TEST_P(OptimMath, GlobalNormAndClipScale) {
  TensorList t(dt(), shapes());
  size_t ws_bytes = 0;
  ASSERT_EQ(bs_optim_get_workspace_size(t.plan, BS_OPTIM_OP_GLOBAL_NORM, &ws_bytes), BS_STATUS_SUCCESS);
  ASSERT_GT(ws_bytes, 0u);
  Buf ws(BS_BACKEND_CPU, ws_bytes);
  Buf norm(BS_BACKEND_CPU, 4), scale(BS_BACKEND_CPU, 4);
  bs_grad_filter_t f{0.25f, 0, 0, 0};
  auto G = TensorList::ptrs<const void*>(t.G);
  const double ref = norm_ref(t, {0.25, 0, false, false});
  for (float clip : {1.0f, 1000.0f, static_cast<float>(INFINITY)}) {
    ASSERT_EQ(bs_optim_global_norm(t.plan, G.data(), &f, clip, norm.f32(), scale.f32(), ws.ptr(), ws_bytes, nullptr),
              BS_STATUS_SUCCESS);
    OPS_EXPECT_CLOSE(norm, BS_DTYPE_F32, std::vector<double>{ref}, 1e-6);
    const double s = std::isinf(clip) ? 1.0 : clip / std::fmax(ref, clip);
    OPS_EXPECT_CLOSE(scale, BS_DTYPE_F32, std::vector<double>{s}, 1e-6);
  }
  // A non-finite gradient: scale 0 (skip), the norm itself not finite.
  std::vector<double> g = t.g[1];
  g[5] = INFINITY;
  t.G[1]->upload(opstest::encode(dt(), g));
  ASSERT_EQ(bs_optim_global_norm(t.plan, G.data(), &f, 1.0f, norm.f32(), scale.f32(), ws.ptr(), ws_bytes, nullptr),
            BS_STATUS_SUCCESS);
  EXPECT_EQ(scale.values(BS_DTYPE_F32)[0], 0.0);
  EXPECT_FALSE(std::isfinite(norm.values(BS_DTYPE_F32)[0]));
  // zero_infs makes it finite again.
  f.zero_infs = 1;
  ASSERT_EQ(bs_optim_global_norm(t.plan, G.data(), &f, 1e9f, nullptr, scale.f32(), ws.ptr(), ws_bytes, nullptr),
            BS_STATUS_SUCCESS);
  EXPECT_EQ(scale.values(BS_DTYPE_F32)[0], 1.0);
}

TEST_P(OptimMath, GlobalNormIndependentOfThreads) {
  TensorList a(dt(), shapes(), 1);
  TensorList b(dt(), shapes(), 2);
  b.G.clear();
  for (size_t i = 0; i < a.sh.size(); ++i) b.G.push_back(std::make_unique<Buf>(BS_BACKEND_CPU, dt(), a.g[i]));
  size_t ws_bytes = 0;
  ASSERT_EQ(bs_optim_get_workspace_size(a.plan, BS_OPTIM_OP_GLOBAL_NORM, &ws_bytes), BS_STATUS_SUCCESS);
  Buf ws(BS_BACKEND_CPU, ws_bytes), na(BS_BACKEND_CPU, 4), nb(BS_BACKEND_CPU, 4);
  auto GA = TensorList::ptrs<const void*>(a.G), GB = TensorList::ptrs<const void*>(b.G);
  ASSERT_EQ(bs_optim_global_norm(a.plan, GA.data(), nullptr, 1.0f, na.f32(), nullptr, ws.ptr(), ws_bytes, nullptr),
            BS_STATUS_SUCCESS);
  ASSERT_EQ(bs_optim_global_norm(b.plan, GB.data(), nullptr, 1.0f, nb.f32(), nullptr, ws.ptr(), ws_bytes, nullptr),
            BS_STATUS_SUCCESS);
  EXPECT_EQ(na.download(), nb.download());
}

TEST_P(OptimMath, EmaWithGates) {
  TensorList t(dt(), shapes());
  auto E = TensorList::ptrs<float*>(t.M);  // the m buffers serve as fp32 averages
  auto P = TensorList::ptrs<const void*>(t.P);
  auto gates = t.block_ptrs(t.Gate);
  const float decay = 0.9f;
  ASSERT_EQ(bs_optim_ema(t.plan, decay, E.data(), P.data(), gates.data(), nullptr), BS_STATUS_SUCCESS);
  for (size_t i = 0; i < t.sh.size(); ++i) {
    std::vector<double> e = t.m[i];
    const int64_t be = t.sh[i].block_elems;
    for (size_t k = 0; k < e.size(); ++k)
      if (!(be && t.gate[i][k / static_cast<size_t>(be)] == 0)) e[k] -= (1 - double(decay)) * (e[k] - t.p[i][k]);
    OPS_EXPECT_CLOSE(*t.M[i], BS_DTYPE_F32, e, 1e-5);
  }
}

TEST_P(OptimMath, Adafactor) {
  TensorList t(dt(), {{37, 70, 0}, {1, 300, 0}, {300, 1, 0}});
  bs_adafactor_hparams_t h;
  ASSERT_EQ(BS_ADAFACTOR_HPARAMS_INIT(&h), BS_STATUS_SUCCESS);
  h.lr = 0.05f;
  h.decay = 0.8f;
  h.epsilon = 1e-6f;
  h.clip_thresh = 0.5f;  // active: the RMS of x is about 1
  std::vector<std::unique_ptr<Buf>> R, C;
  std::vector<std::vector<double>> r0, c0;
  std::vector<float*> RP, CP;
  for (const Shape& s : t.sh) {
    r0.push_back(opstest::rand_vec(BS_DTYPE_F32, static_cast<size_t>(s.rows), 0.1, 0.3));
    c0.push_back(opstest::rand_vec(BS_DTYPE_F32, static_cast<size_t>(s.rows >= 2 ? s.cols : s.cols), 0.1, 0.3));
    R.push_back(std::make_unique<Buf>(BS_BACKEND_CPU, BS_DTYPE_F32, r0.back()));
    C.push_back(std::make_unique<Buf>(BS_BACKEND_CPU, BS_DTYPE_F32, c0.back()));
    RP.push_back(s.rows >= 2 ? R.back()->f32() : nullptr);
    CP.push_back(C.back()->f32());
  }
  size_t ws_bytes = 0;
  ASSERT_EQ(bs_optim_get_workspace_size(t.plan, BS_OPTIM_OP_ADAFACTOR, &ws_bytes), BS_STATUS_SUCCESS);
  Buf ws(BS_BACKEND_CPU, ws_bytes);
  auto P = TensorList::ptrs<void*>(t.P);
  auto G = TensorList::ptrs<const void*>(t.G);
  ASSERT_EQ(bs_optim_adafactor(t.plan, &h, P.data(), G.data(), RP.data(), CP.data(), nullptr, ws.ptr(), ws_bytes,
                               nullptr),
            BS_STATUS_SUCCESS);
  const double d = h.decay, eps = h.epsilon;
  for (size_t i = 0; i < t.sh.size(); ++i) {
    const int64_t rows = t.sh[i].rows, cols = t.sh[i].cols;
    const auto& g = t.g[i];
    std::vector<double> p = t.p[i], Rr = r0[i], Cc = c0[i], x(p.size());
    if (rows >= 2) {
      for (int64_t r = 0; r < rows; ++r) {
        double s = 0;
        for (int64_t c = 0; c < cols; ++c) s += g[r * cols + c] * g[r * cols + c] + eps;
        Rr[r] = d * Rr[r] + (1 - d) * s / cols;
      }
      for (int64_t c = 0; c < cols; ++c) {
        double s = 0;
        for (int64_t r = 0; r < rows; ++r) s += g[r * cols + c] * g[r * cols + c] + eps;
        Cc[c] = d * Cc[c] + (1 - d) * s / rows;
      }
      double rm = 0;
      for (double r : Rr) rm += r / rows;
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t c = 0; c < cols; ++c) x[r * cols + c] = g[r * cols + c] / std::sqrt(Rr[r] / rm * Cc[c]);
      OPS_EXPECT_CLOSE(*R[i], BS_DTYPE_F32, Rr, 1e-5);
    } else {
      for (int64_t c = 0; c < cols; ++c) {
        Cc[c] = d * Cc[c] + (1 - d) * (g[c] * g[c] + eps);
        x[c] = g[c] / std::sqrt(Cc[c]);
      }
    }
    double x2 = 0;
    for (double v : x) x2 += v * v / x.size();
    const double rate = h.lr / std::fmax(1.0, std::sqrt(x2) / h.clip_thresh);
    for (size_t e = 0; e < p.size(); ++e) p[e] = round_to(dt(), p[e] - rate * x[e]);
    SCOPED_TRACE("tensor " + std::to_string(i));
    OPS_EXPECT_CLOSE(*C[i], BS_DTYPE_F32, Cc, 1e-5);
    OPS_EXPECT_CLOSE(*t.P[i], dt(), p, tol(dt()));
  }
}

INSTANTIATE_TEST_SUITE_P(All, OptimMath, ::testing::Values(BS_DTYPE_F32, BS_DTYPE_F16, BS_DTYPE_BF16),
                         [](const ::testing::TestParamInfo<bs_dtype_t>& i) { return opstest::dtype_name(i.param); });

}  // namespace
}  // namespace optimtest
