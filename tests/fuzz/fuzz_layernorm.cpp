// libFuzzer target: layernorm_create with fuzzed parameters (valid and not), then fprop and bprop
// with fuzzed N, optional gain/bias/statistics and workspace sizes. Results against a float64
// reference written from layernorm.h; every output element written, nothing written on failure.
#include <blocksparse/blocksparse.h>

#include <algorithm>

#include "fuzz_common.hpp"

using bs_fuzz::check_failure_has_message;
using bs_fuzz::Guarded;

namespace {

struct Ref {
  std::vector<double> y, mean, rstd, dx, dgain, dbias;
  std::vector<double> mean_abs;  // mean of |x| per segment: the size of what the mean cancels
  std::vector<double> dx_terms;  // rstd·(|u| + |mean(u)| + |xhat·mean(u·xhat)|): the size of what dx cancels
  double cond = 1;        // max |x - 0| / sigma over segments: how much fp32 rounding of x is amplified
  bool near_kink = false;  // some pre-ReLU output within 1e-4 of 0 (fp32 may land on the other side)
};

Ref reference(const layernorm_params_t& p, int64_t N, const std::vector<float>& x, const std::vector<float>* gain,
              const std::vector<float>* bias, const std::vector<float>& dy) {
  const int64_t K = p.K, S = p.segments, Ks = K / S;
  auto at = [&](int64_t n, int64_t k) { return static_cast<size_t>(p.feature_axis == 1 ? n * K + k : k * N + n); };
  Ref r;
  const size_t total = static_cast<size_t>(N * K);
  r.y.assign(total, 0);
  r.dx.assign(total, 0);
  r.dx_terms.assign(total, 0);
  r.dgain.assign(static_cast<size_t>(K), 0);
  r.dbias.assign(static_cast<size_t>(K), 0);
  for (int64_t s = 0; s < S; ++s)
    for (int64_t n = 0; n < N; ++n) {
      double mean = 0, var = 0, amax = 0, mabs = 0;
      for (int64_t k = s * Ks; k < (s + 1) * Ks; ++k) {
        mean += x[at(n, k)];
        mabs += std::fabs(static_cast<double>(x[at(n, k)]));
      }
      mean /= static_cast<double>(Ks);
      r.mean_abs.push_back(mabs / static_cast<double>(Ks));
      for (int64_t k = s * Ks; k < (s + 1) * Ks; ++k) {
        const double d = x[at(n, k)] - mean;
        var += d * d;
        amax = std::max(amax, std::fabs(static_cast<double>(x[at(n, k)])));
      }
      var /= static_cast<double>(Ks);
      const double rstd = 1.0 / std::sqrt(var + p.epsilon);
      r.mean.push_back(mean);
      r.rstd.push_back(rstd);
      r.cond = std::max(r.cond, amax * rstd);
      double mu = 0, muxh = 0;
      std::vector<double> u(static_cast<size_t>(Ks)), xh(static_cast<size_t>(Ks));
      for (int64_t k = s * Ks; k < (s + 1) * Ks; ++k) {
        const size_t j = static_cast<size_t>(k - s * Ks);
        const double g = gain ? (*gain)[static_cast<size_t>(k)] : 1.0, b = bias ? (*bias)[static_cast<size_t>(k)] : 0.0;
        xh[j] = (x[at(n, k)] - mean) * rstd;
        const double pre = g * xh[j] + b;
        if (p.relu && std::fabs(pre) < 1e-4) r.near_kink = true;
        const bool pass = !p.relu || pre > 0;
        r.y[at(n, k)] = pass ? pre : 0.0;
        const double gd = pass ? dy[at(n, k)] : 0.0;
        r.dgain[static_cast<size_t>(k)] += gd * xh[j];
        r.dbias[static_cast<size_t>(k)] += gd;
        u[j] = gd * g;
        mu += u[j];
        muxh += u[j] * xh[j];
      }
      mu /= static_cast<double>(Ks);
      muxh /= static_cast<double>(Ks);
      for (int64_t k = s * Ks; k < (s + 1) * Ks; ++k) {
        const size_t j = static_cast<size_t>(k - s * Ks);
        r.dx[at(n, k)] = rstd * (u[j] - mu - xh[j] * muxh);
        r.dx_terms[at(n, k)] = rstd * (std::fabs(u[j]) + std::fabs(mu) + std::fabs(xh[j] * muxh));
      }
    }
  // Statistics are (S, N): the loops above ran s-major, n-minor, which is that order.
  return r;
}

const layernorm_params_t* g_params = nullptr;  // for the failure message
int64_t g_N = 0;

void check_close(const char* what, const float* out, const std::vector<double>& ref, double bound) {
  const double err = bs_fuzz::rel_err(out, ref);
  const layernorm_params_t& p = *g_params;
  FUZZ_CHECK(err <= bound, "%s: relative error %g > %g (K=%lld S=%d axis=%d relu=%d eps=%g N=%lld threads=%d)", what,
             err, bound, (long long)p.K, p.segments, p.feature_axis, p.relu, p.epsilon, (long long)g_N, p.num_threads);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  layernorm_params_t p;
  LAYERNORM_PARAMS_INIT(&p);
  const bool raw = in.ConsumeIntegralInRange<int>(0, 3) == 0;  // else only valid parameters
  p.K = raw ? in.ConsumeIntegral<int64_t>() : in.ConsumeIntegralInRange<int64_t>(1, 96);
  const int64_t kmax = std::max<int64_t>(1, std::min<int64_t>(p.K, 8));
  p.segments = raw ? in.ConsumeIntegralInRange<int32_t>(-1, 1 << 30) : in.ConsumeIntegralInRange<int32_t>(1, static_cast<int32_t>(kmax));
  if (!raw) p.K -= p.K % p.segments;  // segments divide K
  if (!raw && p.K < p.segments) p.K = p.segments;
  p.feature_axis = raw ? in.ConsumeIntegralInRange<int32_t>(-1, 2) : in.ConsumeIntegralInRange<int32_t>(0, 1);
  p.dtype = raw ? in.ConsumeIntegralInRange<int32_t>(-1, 3) : BS_DTYPE_F32;
  p.relu = raw ? in.ConsumeIntegralInRange<int32_t>(-1, 2) : in.ConsumeIntegralInRange<int32_t>(0, 1);
  p.deterministic = raw ? in.ConsumeIntegralInRange<int32_t>(-1, 2) : 1;
  p.num_threads = raw ? in.ConsumeIntegralInRange<int32_t>(-1, 3) : in.ConsumeIntegralInRange<int32_t>(0, 3);
  static const float kEps[] = {1e-6f, 1e-3f, 0.5f, -1.0f, NAN, INFINITY};
  p.epsilon = kEps[in.ConsumeIntegralInRange<size_t>(0, raw ? 5 : 2)];

  layernorm_plan_t plan = reinterpret_cast<layernorm_plan_t>(&p);
  const layernorm_plan_t sentinel = plan;
  bs_status_t st = layernorm_create(&plan, &p);
  if (st != BS_STATUS_SUCCESS) {
    FUZZ_CHECK(raw, "valid parameters refused: %s", bs_status_name(st));
    FUZZ_CHECK(plan == sentinel, "plan written on failure");
    check_failure_has_message(st);
    return 0;
  }
  if (p.dtype != BS_DTYPE_F32 || p.K > 4096) {  // accepted; executing needs buffers of another size
    size_t bytes = 0;
    st = layernorm_get_workspace_size(plan, LAYERNORM_OP_BPROP, in.ConsumeIntegral<int64_t>(), &bytes);
    if (st != BS_STATUS_SUCCESS) check_failure_has_message(st);
    layernorm_destroy(plan);
    return 0;
  }

  const int64_t N = in.ConsumeIntegralInRange<int64_t>(0, 9), K = p.K, S = p.segments;
  const uint32_t seed = in.ConsumeIntegral<uint32_t>();
  g_params = &p;
  g_N = N;
  const size_t total = static_cast<size_t>(N * K), stats = static_cast<size_t>(S * N);
  const auto x = bs_fuzz::values(total, seed), dy = bs_fuzz::values(total, seed + 1);
  const auto gain = bs_fuzz::values(static_cast<size_t>(K), seed + 2), bias = bs_fuzz::values(static_cast<size_t>(K), seed + 3);
  const bool use_gain = in.ConsumeBool(), use_bias = in.ConsumeBool(), save_stats = in.ConsumeBool();
  const float* gp = use_gain ? gain.data() : nullptr;
  const float* bp = use_bias ? bias.data() : nullptr;
  const Ref ref = reference(p, N, x, use_gain ? &gain : nullptr, use_bias ? &bias : nullptr, dy);
  const double bound = std::max(1e-5, 2e-6 * ref.cond);

  // fprop, once with a workspace the fuzzer may shorten (must be refused, nothing written).
  size_t ws_bytes = 0;
  FUZZ_CHECK(layernorm_get_workspace_size(plan, LAYERNORM_OP_FPROP, N, &ws_bytes) == BS_STATUS_SUCCESS, "ws fprop");
  std::vector<unsigned char> ws(ws_bytes + 64);
  Guarded y(total), mean(stats), rstd(stats);
  if (ws_bytes > 0 && in.ConsumeBool()) {
    const auto before = y.inside();
    st = layernorm_fprop(plan, N, x.data(), gp, bp, y.get(), mean.get(), rstd.get(), ws.data(), ws_bytes - 1, nullptr);
    FUZZ_CHECK(st == BS_STATUS_WORKSPACE_TOO_SMALL, "short fprop workspace gave %s", bs_status_name(st));
    check_failure_has_message(st);
    y.check_unchanged(before, "y");
  }
  st = layernorm_fprop(plan, N, x.data(), gp, bp, y.get(), save_stats ? mean.get() : nullptr,
                       save_stats ? rstd.get() : nullptr, ws.data(), ws.size(), nullptr);
  FUZZ_CHECK(st == BS_STATUS_SUCCESS, "fprop: %s", bs_status_name(st));
  y.check_canaries("y");
  check_close("y", y.get(), ref.y, bound);
  if (!save_stats) {  // bprop needs the statistics
    st = layernorm_fprop(plan, N, x.data(), gp, bp, y.get(), mean.get(), rstd.get(), ws.data(), ws.size(), nullptr);
    FUZZ_CHECK(st == BS_STATUS_SUCCESS, "fprop with statistics: %s", bs_status_name(st));
  }
  mean.check_canaries("mean");
  rstd.check_canaries("rstd");
  {  // a mean near 0 cancels: its error is measured against the mean of |x|
    double num = 0, den = 0;
    for (size_t i = 0; i < stats; ++i) {
      num += (mean[i] - ref.mean[i]) * (mean[i] - ref.mean[i]);
      den += ref.mean_abs[i] * ref.mean_abs[i];
    }
    FUZZ_CHECK(den == 0 || std::sqrt(num / den) <= 1e-5, "mean: error %g relative to mean |x|", std::sqrt(num / den));
  }
  check_close("rstd", rstd.get(), ref.rstd, bound);

  FUZZ_CHECK(layernorm_get_workspace_size(plan, LAYERNORM_OP_BPROP, N, &ws_bytes) == BS_STATUS_SUCCESS, "ws bprop");
  ws.assign(ws_bytes + 64, 0);
  const bool want_dgain = in.ConsumeBool(), want_dbias = in.ConsumeBool();
  Guarded dx(total), dgain(static_cast<size_t>(K)), dbias(static_cast<size_t>(K));
  if (ws_bytes > 0 && in.ConsumeBool()) {
    const auto before = dx.inside();
    st = layernorm_bprop(plan, N, dy.data(), x.data(), gp, bp, mean.get(), rstd.get(), dx.get(),
                         want_dgain ? dgain.get() : nullptr, want_dbias ? dbias.get() : nullptr, ws.data(),
                         in.ConsumeIntegralInRange<size_t>(0, ws_bytes - 1), nullptr);
    FUZZ_CHECK(st == BS_STATUS_WORKSPACE_TOO_SMALL, "short bprop workspace gave %s", bs_status_name(st));
    check_failure_has_message(st);
    dx.check_unchanged(before, "dx");
  }
  st = layernorm_bprop(plan, N, dy.data(), x.data(), gp, bp, mean.get(), rstd.get(), dx.get(),
                       want_dgain ? dgain.get() : nullptr, want_dbias ? dbias.get() : nullptr, ws.data(), ws.size(),
                       nullptr);
  FUZZ_CHECK(st == BS_STATUS_SUCCESS, "bprop: %s", bs_status_name(st));
  dx.check_canaries("dx");
  dgain.check_canaries("dgain");
  dbias.check_canaries("dbias");
  if (!ref.near_kink) {  // a ReLU decision that fp32 makes differently changes the gradient there
    // dx cancels (for K = 2 it is ~0 whatever dy): its error is measured against the terms it sums.
    double num = 0, den = 0;
    for (size_t i = 0; i < total; ++i) {
      num += (dx[i] - ref.dx[i]) * (dx[i] - ref.dx[i]);
      den += ref.dx_terms[i] * ref.dx_terms[i];
    }
    const double err = den > 0 ? std::sqrt(num / den) : std::sqrt(num);
    FUZZ_CHECK(err <= bound, "dx: error %g relative to its terms > %g (K=%lld S=%d axis=%d N=%lld)", err, bound,
               (long long)p.K, p.segments, p.feature_axis, (long long)N);
    if (want_dgain) check_close("dgain", dgain.get(), ref.dgain, bound);
  }
  if (want_dbias && !ref.near_kink) check_close("dbias", dbias.get(), ref.dbias, 1e-5);
  FUZZ_CHECK(layernorm_destroy(plan) == BS_STATUS_SUCCESS, "destroy");
  return 0;
}
