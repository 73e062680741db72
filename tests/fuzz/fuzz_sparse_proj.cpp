// libFuzzer target: bs_sparse_proj_create from a fuzzed index map (in range or not, repeated or
// not) and sizes, then every op with fuzzed N against a float64 reference of bs_sparse_proj.h:
// accepted exactly when the map is one-to-one into [0, nhidden), outputs fully written, and a
// refused call writes nothing.
#include <blocksparse/blocksparse.h>

#include <set>

#include "fuzz_common.hpp"

using bs_fuzz::check_failure_has_message;
using bs_fuzz::Guarded;

namespace {

struct Shape {
  int64_t N, nhidden, nproj;
  int32_t axis;
  size_t at(int64_t n, int64_t f, int64_t features) const {
    return static_cast<size_t>(axis == 1 ? n * features + f : f * N + n);
  }
};

void check(const char* what, bs_status_t st, const Guarded& out, const std::vector<double>& ref, double bound) {
  FUZZ_CHECK(st == BS_STATUS_SUCCESS, "%s: %s", what, bs_status_name(st));
  out.check_canaries(what);
  const double err = bs_fuzz::rel_err(const_cast<Guarded&>(out).get(), ref);
  FUZZ_CHECK(err <= bound, "%s: relative error %g", what, err);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  bs_sparse_proj_params_t p;
  BS_SPARSE_PROJ_PARAMS_INIT(&p);
  const bool raw = in.ConsumeIntegralInRange<int>(0, 3) == 0;
  p.feature_axis = raw ? in.ConsumeIntegralInRange<int32_t>(-1, 2) : in.ConsumeIntegralInRange<int32_t>(0, 1);
  p.dtype = raw ? in.ConsumeIntegralInRange<int32_t>(-1, 3) : BS_DTYPE_F32;
  p.nhidden = in.ConsumeIntegralInRange<int64_t>(raw ? -1 : 1, 64);
  p.nproj = in.ConsumeIntegralInRange<int64_t>(raw ? -1 : 1, std::max<int64_t>(1, p.nhidden));
  if (raw && in.ConsumeBool()) p.nproj = in.ConsumeIntegral<int64_t>();
  const size_t nlut = p.nproj > 0 && p.nproj <= 64 ? static_cast<size_t>(p.nproj) : 0;
  if (p.nproj > 64 && p.nproj <= p.nhidden) return 0;  // unreachable: nhidden <= 64

  // A fuzzed permutation prefix, with some entries then overwritten by arbitrary integers.
  std::vector<int64_t> lut(nlut + 1, 0), pool;
  for (int64_t h = 0; h < std::max<int64_t>(p.nhidden, 0); ++h) pool.push_back(h);
  for (size_t j = 0; j < nlut; ++j) {
    if (pool.empty()) break;
    const size_t pick = in.ConsumeIntegralInRange<size_t>(0, pool.size() - 1);
    lut[j] = pool[pick];
    pool.erase(pool.begin() + static_cast<std::ptrdiff_t>(pick));
  }
  if (raw && nlut > 0) {
    const size_t at = in.ConsumeIntegralInRange<size_t>(0, nlut - 1);
    lut[at] = in.ConsumeBool() ? in.ConsumeIntegralInRange<int64_t>(-2, p.nhidden + 1) : in.ConsumeIntegral<int64_t>();
  }
  bool valid = p.nhidden >= 1 && p.nproj >= 1 && p.nproj <= p.nhidden && p.feature_axis >= 0 &&
               p.feature_axis <= 1 && p.dtype >= 0 && p.dtype <= 2;
  std::set<int64_t> seen;
  for (size_t j = 0; valid && j < nlut; ++j) valid = lut[j] >= 0 && lut[j] < p.nhidden && seen.insert(lut[j]).second;

  bs_sparse_proj_plan_t plan = reinterpret_cast<bs_sparse_proj_plan_t>(&p);
  const bs_sparse_proj_plan_t sentinel = plan;
  const bs_status_t st = bs_sparse_proj_create(&plan, &p, lut.data());
  if (!valid) {
    FUZZ_CHECK(st != BS_STATUS_SUCCESS, "invalid parameters or map accepted");
    FUZZ_CHECK(plan == sentinel, "plan written on failure");
    check_failure_has_message(st);
    return 0;
  }
  FUZZ_CHECK(st == BS_STATUS_SUCCESS, "valid map refused: %s", bs_status_name(st));
  if (p.dtype != BS_DTYPE_F32) {
    bs_sparse_proj_destroy(plan);
    return 0;
  }

  const Shape s{in.ConsumeIntegralInRange<int64_t>(0, 9), p.nhidden, p.nproj, p.feature_axis};
  const uint32_t seed = in.ConsumeIntegral<uint32_t>();
  const size_t nh = static_cast<size_t>(s.N * s.nhidden), np = static_cast<size_t>(s.N * s.nproj);
  const auto xh = bs_fuzz::values(nh, seed), xp = bs_fuzz::values(np, seed + 1), dz = bs_fuzz::values(nh, seed + 2);
  std::vector<double> gather(np), scatter(nh, 0.0), add(xh.begin(), xh.end()), mul(xh.begin(), xh.end());
  std::vector<double> mul_dx(dz.begin(), dz.end()), mul_dy(np);
  for (int64_t n = 0; n < s.N; ++n)
    for (int64_t j = 0; j < s.nproj; ++j) {
      const size_t h = s.at(n, lut[static_cast<size_t>(j)], s.nhidden), q = s.at(n, j, s.nproj);
      gather[q] = xh[h];
      scatter[h] = xp[q];
      add[h] = static_cast<double>(xh[h]) + xp[q];
      mul[h] = static_cast<double>(xh[h]) * xp[q];
      mul_dx[h] = static_cast<double>(dz[h]) * xp[q];
      mul_dy[q] = static_cast<double>(dz[h]) * xh[h];
    }
  std::vector<double> add_dy(np);
  for (int64_t n = 0; n < s.N; ++n)
    for (int64_t j = 0; j < s.nproj; ++j) add_dy[s.at(n, j, s.nproj)] = dz[s.at(n, lut[static_cast<size_t>(j)], s.nhidden)];

  const int64_t N = s.N;
  Guarded out_p(np), out_h(nh), out_h2(nh);
  check("gather", bs_sparse_proj_gather(plan, N, xh.data(), out_p.get(), nullptr), out_p, gather, 0);
  check("scatter", bs_sparse_proj_scatter(plan, N, xp.data(), out_h.get(), nullptr), out_h, scatter, 0);
  out_h.fill_poison();
  check("scatter_add", bs_sparse_proj_scatter_add(plan, N, xh.data(), xp.data(), out_h.get(), nullptr), out_h, add, 1e-7);
  out_h.fill_poison();
  check("scatter_mul", bs_sparse_proj_scatter_mul(plan, N, xh.data(), xp.data(), out_h.get(), nullptr), out_h, mul, 1e-7);
  out_h.fill_poison();
  out_p.fill_poison();
  bs_status_t g = bs_sparse_proj_scatter_add_grad(plan, N, dz.data(), out_h.get(), out_p.get(), nullptr);
  check("scatter_add_grad dx", g, out_h, std::vector<double>(dz.begin(), dz.end()), 0);
  check("scatter_add_grad dy", g, out_p, add_dy, 0);
  out_h.fill_poison();
  out_p.fill_poison();
  g = bs_sparse_proj_scatter_mul_grad(plan, N, dz.data(), xh.data(), xp.data(), out_h.get(), out_p.get(), nullptr);
  check("scatter_mul_grad dx", g, out_h, mul_dx, 1e-7);
  check("scatter_mul_grad dy", g, out_p, mul_dy, 1e-7);

  // A refused call (NULL input with N > 0) writes nothing.
  if (N > 0) {
    const auto before = out_h2.inside();
    const bs_status_t bad = bs_sparse_proj_scatter(plan, N, nullptr, out_h2.get(), nullptr);
    FUZZ_CHECK(bad == BS_STATUS_NULL_POINTER, "NULL x gave %s", bs_status_name(bad));
    check_failure_has_message(bad);
    out_h2.check_unchanged(before, "scatter y");
  }
  FUZZ_CHECK(bs_sparse_proj_destroy(plan) == BS_STATUS_SUCCESS, "destroy");
  return 0;
}
