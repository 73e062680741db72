// libFuzzer target: bsmm_create_bsr from fuzzed row pointers and column indices, then fprop,
// bprop and updat on the plan with fuzzed N, scales, gates and workspace sizes. Accepted exactly
// when the BSR arrays are well formed; results match the float64 reference (fp32 bound 1e-5), every
// output element is written, and a refused call writes nothing.
#include <blocksparse/blocksparse.h>

#include "common/reference.hpp"
#include "fuzz_common.hpp"

using bs_fuzz::check_failure_has_message;
using bs_fuzz::Guarded;

namespace {

// The documented BSR rules, checked independently of the library.
bool bsr_valid(int64_t CB, int64_t KB, const std::vector<int64_t>& row_ptr, const std::vector<int64_t>& col_idx) {
  if (row_ptr[0] != 0) return false;
  for (int64_t c = 0; c < CB; ++c)
    if (row_ptr[c + 1] < row_ptr[c]) return false;
  const int64_t nnz = row_ptr[CB];
  if (nnz < 1 || nnz > static_cast<int64_t>(col_idx.size())) return false;
  for (int64_t c = 0; c < CB; ++c)
    for (int64_t i = row_ptr[c]; i < row_ptr[c + 1]; ++i) {
      const int64_t k = col_idx[i];
      if (k < 0 || k >= KB || (i > row_ptr[c] && k <= col_idx[i - 1])) return false;
    }
  return true;
}

std::vector<double> to_double(const std::vector<float>& v) { return {v.begin(), v.end()}; }

struct Op {
  const char* name;
  size_t out_count;
  bsmm_op_t op;
};

// Runs one execute call twice when the fuzzer asks for a short workspace: first with it (must be
// refused, output untouched), then with the reported size; checks the result against `ref`.
template <class Call>
void run_checked(FuzzedDataProvider& in, const_bsmm_plan_t plan, const Op& op, int64_t N, bool scales_ok,
                 const std::vector<float>& out_in, const std::vector<double>& ref, Call call) {
  size_t ws_bytes = 0;
  FUZZ_CHECK(bsmm_get_workspace_size(plan, op.op, N, &ws_bytes) == BS_STATUS_SUCCESS, "%s workspace size", op.name);
  std::vector<unsigned char> ws(ws_bytes + 64);
  Guarded out(op.out_count);
  for (size_t i = 0; i < out_in.size(); ++i) out[i] = out_in[i];
  const std::vector<float> before = out.inside();
  if (ws_bytes > 0 && in.ConsumeBool()) {
    // A short workspace in a buffer of exactly that size (ASan reports any use past it). The CPU
    // backend reports an upper bound and may run in less (bprop does, see issue 19): a call it
    // accepts must still be right; one it refuses must write nothing.
    const size_t short_bytes = in.ConsumeIntegralInRange<size_t>(0, ws_bytes - 1);
    std::vector<unsigned char> short_ws(short_bytes);
    const bs_status_t st = call(out.get(), short_bytes ? short_ws.data() : nullptr, short_bytes);
    if (st == BS_STATUS_SUCCESS && scales_ok) {
      FUZZ_CHECK(bs_fuzz::rel_err(out.get(), ref) <= 1e-5, "%s with a short workspace: wrong result", op.name);
      for (size_t i = 0; i < out_in.size(); ++i) out[i] = out_in[i];
    } else {
      FUZZ_CHECK(st != BS_STATUS_SUCCESS, "%s: non-finite scale accepted", op.name);
      check_failure_has_message(st);
      out.check_unchanged(before, op.name);
    }
  }
  const size_t give = ws_bytes + in.ConsumeIntegralInRange<size_t>(0, 64);
  const bs_status_t st = call(out.get(), give ? ws.data() : nullptr, give);
  if (!scales_ok) {
    FUZZ_CHECK(st == BS_STATUS_INVALID_VALUE, "%s: non-finite scale gave %s", op.name, bs_status_name(st));
    check_failure_has_message(st);
    out.check_unchanged(before, op.name);
    return;
  }
  FUZZ_CHECK(st == BS_STATUS_SUCCESS, "%s N=%lld: %s", op.name, (long long)N, bs_status_name(st));
  out.check_canaries(op.name);
  const double err = bs_fuzz::rel_err(out.get(), ref);
  FUZZ_CHECK(err <= 1e-5, "%s N=%lld: relative error %g", op.name, (long long)N, err);  // NaN fails too
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  bsmm_params_t p;
  BSMM_PARAMS_INIT(&p);
  p.block_size = in.ConsumeBool() ? 8 : 16;
  p.feature_axis = in.ConsumeIntegralInRange<int32_t>(0, 1);
  p.num_threads = in.ConsumeIntegralInRange<int32_t>(0, 3);
  const int64_t CB = in.ConsumeIntegralInRange<int64_t>(1, 6);
  const int64_t KB = in.ConsumeIntegralInRange<int64_t>(1, 6);

  // Mostly well-formed arrays (a fuzzed mask), sometimes arbitrary integers.
  std::vector<int64_t> row_ptr(static_cast<size_t>(CB + 1), 0), col_idx;
  const bool raw = in.ConsumeIntegralInRange<int>(0, 3) == 0;
  for (int64_t c = 0; c < CB; ++c) {
    for (int64_t k = 0; k < KB; ++k)
      if (in.ConsumeBool()) col_idx.push_back(k);
    row_ptr[c + 1] = static_cast<int64_t>(col_idx.size());
  }
  if (raw) {
    const int edits = in.ConsumeIntegralInRange<int>(1, 4);
    for (int e = 0; e < edits; ++e) {
      const bool in_rows = col_idx.empty() || in.ConsumeBool();
      auto& v = in_rows ? row_ptr : col_idx;
      const size_t at = in.ConsumeIntegralInRange<size_t>(0, v.size() - 1);
      v[at] = in.ConsumeBool() ? in.ConsumeIntegralInRange<int64_t>(-2, 8) : in.ConsumeIntegral<int64_t>();
    }
  }
  const bool valid = bsr_valid(CB, KB, row_ptr, col_idx);
  // The library may read up to row_ptr[CB] column indices: only call it when the array has them,
  // or when the row pointers are already refused on their own (nnz beyond what was passed can't be
  // told from a short array by any callee, so that case is the caller's bug, not fuzzed).
  const int64_t nnz_claim = row_ptr[CB];
  if (!valid && nnz_claim > static_cast<int64_t>(col_idx.size())) {
    bool rows_ok = row_ptr[0] == 0;
    for (int64_t c = 0; c < CB; ++c) rows_ok = rows_ok && row_ptr[c + 1] >= row_ptr[c];
    if (rows_ok) return 0;
  }
  col_idx.push_back(0);  // never an empty vector (data() must be a valid pointer)

  bsmm_plan_t plan = reinterpret_cast<bsmm_plan_t>(&p);
  const bsmm_plan_t sentinel = plan;
  bs_status_t st = bsmm_create_bsr(&plan, &p, CB, KB, row_ptr.data(), col_idx.data());
  if (!valid) {
    FUZZ_CHECK(st == BS_STATUS_INVALID_LAYOUT, "malformed BSR gave %s", bs_status_name(st));
    FUZZ_CHECK(plan == sentinel, "plan written on failure");
    check_failure_has_message(st);
    return 0;
  }
  FUZZ_CHECK(st == BS_STATUS_SUCCESS, "valid BSR refused: %s", bs_status_name(st));
  col_idx.pop_back();

  bs_test::RefGeometry g;
  g.b = p.block_size;
  g.feature_axis = p.feature_axis;
  g.layout.CB = CB;
  g.layout.KB = KB;
  g.layout.mask.assign(static_cast<size_t>(CB * KB), 0);
  for (int64_t c = 0; c < CB; ++c)
    for (int64_t i = row_ptr[c]; i < row_ptr[c + 1]; ++i) g.layout.mask[static_cast<size_t>(c * KB + col_idx[i])] = 1;

  const int64_t N = in.ConsumeIntegralInRange<int64_t>(0, 9);
  const uint32_t seed = in.ConsumeIntegral<uint32_t>();
  const float alpha = bs_fuzz::pick_scale(in), beta = bs_fuzz::pick_scale(in);
  const bool scales_ok = std::isfinite(alpha) && std::isfinite(beta);
  const int64_t C = g.C(), K = g.K(), nnz = g.layout.nnz();
  const size_t nx = static_cast<size_t>(N * C), ny = static_cast<size_t>(N * K), nw = static_cast<size_t>(g.weight_count());
  const auto x = bs_fuzz::values(nx, seed), dy = bs_fuzz::values(ny, seed + 1), w = bs_fuzz::values(nw, seed + 2);
  const auto y_in = bs_fuzz::values(ny, seed + 3), dx_in = bs_fuzz::values(nx, seed + 4), dw_in = bs_fuzz::values(nw, seed + 5);
  std::vector<float> gate;
  if (in.ConsumeBool()) {
    gate = bs_fuzz::values(static_cast<size_t>(nnz), seed + 6);
    for (auto& v : gate)
      if (v < -0.5f) v = 0.0f;  // some blocks skipped
  }
  const float* gp = gate.empty() ? nullptr : gate.data();
  const std::vector<double> gate_d = to_double(gate);
  const std::vector<double>* gref = gate.empty() ? nullptr : &gate_d;

  // N = 0 returns at once (whether it checks the scales first is not specified): only with finite ones.
  if (N > 0 || (scales_ok && in.ConsumeBool())) {
    const auto ref = scales_ok ? bs_test::ref_fprop(g, N, to_double(x), to_double(w), gref, alpha, beta, to_double(y_in))
                               : std::vector<double>();
    run_checked(in, plan, {"fprop", ny, BSMM_OP_FPROP}, N, scales_ok, y_in, ref,
                [&](float* y, void* ws, size_t bytes) {
                  return bsmm_fprop(plan, N, x.data(), w.data(), y, alpha, beta, gp, ws, bytes, nullptr);
                });
    const auto refb = scales_ok ? bs_test::ref_bprop(g, N, to_double(dy), to_double(w), gref, alpha, beta, to_double(dx_in))
                                : std::vector<double>();
    run_checked(in, plan, {"bprop", nx, BSMM_OP_BPROP}, N, scales_ok, dx_in, refb,
                [&](float* dx, void* ws, size_t bytes) {
                  return bsmm_bprop(plan, N, dy.data(), w.data(), dx, alpha, beta, gp, ws, bytes, nullptr);
                });
  }
  {
    const auto refu = scales_ok ? bs_test::ref_updat(g, N, {to_double(x)}, {to_double(dy)}, gref, alpha, beta, to_double(dw_in))
                                : std::vector<double>();
    const void* xs[1] = {x.data()};
    const void* dys[1] = {dy.data()};
    run_checked(in, plan, {"updat", nw, BSMM_OP_UPDAT}, N, scales_ok, dw_in, refu,
                [&](float* dw, void* ws, size_t bytes) {
                  return bsmm_updat(plan, N, 1, xs, dys, dw, alpha, beta, gp, ws, bytes, nullptr);
                });
  }
  FUZZ_CHECK(bsmm_destroy(plan) == BS_STATUS_SUCCESS, "destroy");
  return 0;
}
