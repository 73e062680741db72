#include "common/op_run.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>

#include "common/compare.hpp"
#include "common/reference.hpp"

namespace bs_test {
namespace {

bool is_xprop(bsmm_op_t op) { return op == BSMM_OP_FPROP || op == BSMM_OP_BPROP; }
bool has_gate(const OpCase& c) {
  return (is_xprop(c.op) || c.op == BSMM_OP_UPDAT) && c.gates != Gates::kNone;
}
bool has_gain(const OpCase& c) {
  return (c.op == BSMM_OP_L2_NORMALIZE || c.op == BSMM_OP_L2_NORMALIZE_GRAD) && c.gain;
}

HostTensor make_gates(Gates kind, int64_t nnz, std::mt19937_64& rng) {
  HostTensor g = HostTensor::random(BS_DTYPE_F32, nnz, rng, 0.5f, 1.5f);
  if (kind == Gates::kWithZeros) {
    for (int64_t i = 0; i < nnz; ++i)
      if (rng() % 3 == 0) g.set(i, 0.0f);
    if (nnz >= 2) {  // at least one of each kind
      g.set(0, 0.0f);
      g.set(nnz - 1, 1.25f);
    }
  }
  return g;
}

// Scales the even output features of w by 1/16 and returns an epsilon between their squared norms
// and those of the odd features, so that about half the features are clamped by epsilon.
float clamp_half(const RefGeometry& g, HostTensor& w) {
  const auto blocks = g.layout.blocks();
  for (size_t blk = 0; blk < blocks.size(); ++blk)
    for (int64_t r = 0; r < g.b; ++r)
      for (int64_t s = 0; s < g.b; s += 2) {
        const int64_t e = (static_cast<int64_t>(blk) * g.b + r) * g.b + s;
        w.set(e, static_cast<float>(w.at(e) / 16.0));
      }
  const Vec sumsq = ref_column_sumsq(g, w.values());
  double small_max = 0.0, large_min = std::numeric_limits<double>::infinity();
  for (int64_t j = 0; j < g.K(); ++j) {
    if (g.layout.col_empty(j / g.b)) continue;
    const double v = sumsq[static_cast<size_t>(j)];
    if (j % 2 == 0)
      small_max = std::max(small_max, v);
    else
      large_min = std::min(large_min, v);
  }
  const float eps = static_cast<float>(std::sqrt(small_max * large_min));
  if (!(small_max * 1.01 < eps && eps * 1.01 < large_min))
    ADD_FAILURE() << "test setup: no epsilon separates the feature norms (" << small_max << ", " << large_min << ")";
  return eps;
}

}  // namespace

const char* op_name(bsmm_op_t op) {
  switch (op) {
    case BSMM_OP_FPROP: return "fprop";
    case BSMM_OP_BPROP: return "bprop";
    case BSMM_OP_UPDAT: return "updat";
    case BSMM_OP_L2_NORMALIZE: return "l2_normalize";
    case BSMM_OP_L2_NORMALIZE_GRAD: return "l2_normalize_grad";
    case BSMM_OP_IDENTITY_INIT: return "identity_init";
    default: return "bad_op";
  }
}

std::string OpCase::str() const {
  std::ostringstream os;
  os << op_name(op);
  if (is_xprop(op) || op == BSMM_OP_UPDAT) {
    os << " N=" << N << " alpha=" << alpha << " beta=" << beta;
    if (op == BSMM_OP_UPDAT) os << " pairs=" << n_pairs;
    if (gates != Gates::kNone) os << (gates == Gates::kRandom ? " gates" : " gates(with zeros)");
  } else if (op == BSMM_OP_IDENTITY_INIT) {
    os << " scale=" << scale;
  } else {
    os << (gain ? " gain" : "") << (clamp_some ? " eps-clamped" : "") << (in_place ? " in-place" : "");
  }
  return os.str();
}

OpRun::OpRun(const PlanSetup& setup, const Layout& layout, const OpCase& c, std::mt19937_64& rng)
    : setup_(setup), layout_(layout), case_(c) {
  const RefGeometry g = setup.geometry(layout);
  const bs_dtype_t dt = setup.dtype;
  const int64_t wcount = g.weight_count(), nnz = layout.nnz();
  auto activation = [&](int64_t features) { return HostTensor::random(dt, c.N * features, rng); };
  auto output_start = [&](int64_t count) {
    return c.beta == 0.0f ? HostTensor::poison(dt, count) : HostTensor::random(dt, count, rng);
  };
  switch (c.op) {
    case BSMM_OP_FPROP:
    case BSMM_OP_BPROP: {
      const bool bprop = c.op == BSMM_OP_BPROP;
      inputs_.push_back(activation(bprop ? g.K() : g.C()));
      inputs_.push_back(HostTensor::random(dt, wcount, rng));
      outputs_.push_back(output_start(c.N * (bprop ? g.C() : g.K())));
      break;
    }
    case BSMM_OP_UPDAT:
      for (int32_t p = 0; p < c.n_pairs; ++p) inputs_.push_back(activation(g.C()));
      for (int32_t p = 0; p < c.n_pairs; ++p) inputs_.push_back(activation(g.K()));
      outputs_.push_back(output_start(wcount));
      break;
    case BSMM_OP_L2_NORMALIZE:
    case BSMM_OP_L2_NORMALIZE_GRAD: {
      const bool grad = c.op == BSMM_OP_L2_NORMALIZE_GRAD;
      if (grad) inputs_.push_back(HostTensor::random(dt, wcount, rng));  // dy
      HostTensor w = HostTensor::random(dt, wcount, rng);
      if (c.clamp_some) epsilon_ = clamp_half(g, w);
      inputs_.push_back(std::move(w));
      outputs_.push_back(HostTensor::poison(dt, wcount));
      if (grad && c.gain) outputs_.push_back(HostTensor::poison(BS_DTYPE_F32, g.K()));
      break;
    }
    case BSMM_OP_IDENTITY_INIT: outputs_.push_back(HostTensor::poison(dt, wcount)); break;
    default: ADD_FAILURE() << "OpRun: unknown op " << static_cast<int>(c.op);
  }
  if (has_gate(c)) {
    inputs_.push_back(make_gates(c.gates, nnz, rng));
    if (c.gates == Gates::kWithZeros && is_xprop(c.op))
      for (int64_t i = 0; i < nnz; ++i)
        if (inputs_.back().at(i) == 0.0)
          for (int64_t e = 0; e < g.b * g.b; ++e) inputs_[1].set(i * g.b * g.b + e, std::numeric_limits<float>::quiet_NaN());
  }
  if (has_gain(c)) inputs_.push_back(HostTensor::random(BS_DTYPE_F32, g.K(), rng, 0.5f, 1.5f));
}

std::string OpRun::str() const {
  return setup_.str() + ", layout " + layout_.str() + ", " + case_.str();
}

bs_status_t OpRun::call(const_bsmm_plan_t plan, const std::vector<TestBuffer>& in, std::vector<TestBuffer>& out,
                        TestBuffer& ws) const {
  const OpCase& c = case_;
  void* const out0 = c.in_place ? in[0].data() : out[0].data();
  const float* extra = nullptr;  // gate or gain: always the last input
  if (has_gate(c) || has_gain(c)) extra = in.back().f32();
  switch (c.op) {
    case BSMM_OP_FPROP:
      return bsmm_fprop(plan, c.N, in[0].data(), in[1].data(), out0, c.alpha, c.beta, extra, ws.data(), ws.bytes(),
                        nullptr);
    case BSMM_OP_BPROP:
      return bsmm_bprop(plan, c.N, in[0].data(), in[1].data(), out0, c.alpha, c.beta, extra, ws.data(), ws.bytes(),
                        nullptr);
    case BSMM_OP_UPDAT: {
      std::vector<const void*> xs, dys;
      for (int32_t p = 0; p < c.n_pairs; ++p) {
        xs.push_back(in[static_cast<size_t>(p)].data());
        dys.push_back(in[static_cast<size_t>(c.n_pairs + p)].data());
      }
      return bsmm_updat(plan, c.N, c.n_pairs, xs.data(), dys.data(), out0, c.alpha, c.beta, extra, ws.data(),
                        ws.bytes(), nullptr);
    }
    case BSMM_OP_L2_NORMALIZE:
      return bsmm_l2_normalize(plan, in[0].data(), extra, out0, epsilon_, ws.data(), ws.bytes(), nullptr);
    case BSMM_OP_L2_NORMALIZE_GRAD:
      return bsmm_l2_normalize_grad(plan, in[0].data(), in[1].data(), extra, out0,
                                    c.gain ? out[1].f32() : nullptr, epsilon_, ws.data(), ws.bytes(), nullptr);
    case BSMM_OP_IDENTITY_INIT: return bsmm_identity_init(plan, out0, c.scale, nullptr);
    default: return BS_STATUS_INTERNAL_ERROR;
  }
}

Outputs OpRun::execute(const_bsmm_plan_t plan) const {
  const bs_backend_t be = setup_.backend;
  std::vector<TestBuffer> in, out;
  for (const HostTensor& t : inputs_) in.emplace_back(be, t);
  for (const HostTensor& t : outputs_) out.emplace_back(be, t);
  TestBuffer ws = make_workspace(plan, be, case_.op, is_xprop(case_.op) || case_.op == BSMM_OP_UPDAT ? case_.N : 0);
  std::vector<std::vector<uint8_t>> before;
  for (const TestBuffer& b : in) before.push_back(b.snapshot());

  const bs_status_t st = call(plan, in, out, ws);
  EXPECT_EQ(st, BS_STATUS_SUCCESS) << bs_status_name(st) << ": " << last_error() << "\n  in " << str();

  for (size_t i = 0; i < in.size(); ++i) {
    if (case_.in_place && i == 0) {
      EXPECT_TRUE(in[0].guards_intact()) << "in-place output, " << str();
      continue;
    }
    EXPECT_TRUE(bitwise_equal("input " + std::to_string(i) + " (or its guards)", before[i], in[i].snapshot()))
        << "a const input was modified, " << str();
  }
  for (size_t i = 0; i < out.size(); ++i) EXPECT_TRUE(out[i].guards_intact()) << "output " << i << ", " << str();
  EXPECT_TRUE(ws.guards_intact()) << "workspace, " << str();

  Outputs result;
  for (size_t i = 0; i < outputs_.size(); ++i) {
    const TestBuffer& src = (case_.in_place && i == 0) ? in[0] : out[i];
    result.push_back(src.download(outputs_[i].dtype()));
  }
  return result;
}

void OpRun::check_empty_blocks(const HostTensor& out) const {
  if (!is_xprop(case_.op) || case_.beta != 0.0f) return;
  const bool bprop = case_.op == BSMM_OP_BPROP;
  const RefGeometry g = setup_.geometry(layout_);
  const int64_t features = bprop ? g.C() : g.K();
  int64_t bad = 0;
  for (int64_t f = 0; f < features; ++f) {
    const int64_t blk = f / g.b;
    if (!(bprop ? layout_.row_empty(blk) : layout_.col_empty(blk))) continue;
    for (int64_t n = 0; n < case_.N; ++n) {
      const double v = out.at(g.act(n, f, case_.N, features));
      if (v != 0.0 && bad++ == 0)
        ADD_FAILURE() << "output feature " << f << " (empty block " << blk << "), row " << n << " is " << v
                      << ", not 0, " << str();
    }
  }
  EXPECT_EQ(bad, 0) << "elements of empty output blocks not 0, " << str();
}

void OpRun::check(const Outputs& out) const {
  const RefGeometry g = setup_.geometry(layout_);
  const OpCase& c = case_;
  std::vector<Vec> in;
  for (const HostTensor& t : inputs_) in.push_back(t.values());
  const Vec* extra = (has_gate(c) || has_gain(c)) ? &in.back() : nullptr;
  // CUDA plans with 16-bit data fold each gate into its weight block in the storage type before the
  // tensor-core product (bsmm.h): the reference then uses the rounded g·W and no gate.
  if (is_xprop(c.op) && has_gate(c) && setup_.backend == BS_BACKEND_CUDA && setup_.dtype != BS_DTYPE_F32) {
    const size_t bb = static_cast<size_t>(setup_.block_size) * static_cast<size_t>(setup_.block_size);
    uint8_t cell[4];
    for (size_t e = 0; e < in[1].size(); ++e) {
      const double gate = (*extra)[e / bb];
      encode(setup_.dtype, static_cast<float>(gate) * static_cast<float>(in[1][e]), cell);
      in[1][e] = gate == 0.0 ? 0.0 : decode(setup_.dtype, cell);
    }
    extra = nullptr;
  }
  const Vec out_start = outputs_[0].values();
  const double bound = setup_.bound();
  const std::string where = str();
  switch (c.op) {
    case BSMM_OP_FPROP:
      EXPECT_TRUE(near_reference("y", out[0], ref_fprop(g, c.N, in[0], in[1], extra, c.alpha, c.beta, out_start), bound))
          << where;
      check_empty_blocks(out[0]);
      break;
    case BSMM_OP_BPROP:
      EXPECT_TRUE(near_reference("dx", out[0], ref_bprop(g, c.N, in[0], in[1], extra, c.alpha, c.beta, out_start), bound))
          << where;
      check_empty_blocks(out[0]);
      break;
    case BSMM_OP_UPDAT: {
      const auto np = static_cast<size_t>(c.n_pairs);
      const std::vector<Vec> xs(in.begin(), in.begin() + static_cast<std::ptrdiff_t>(np));
      const std::vector<Vec> dys(in.begin() + static_cast<std::ptrdiff_t>(np),
                                 in.begin() + static_cast<std::ptrdiff_t>(2 * np));
      EXPECT_TRUE(near_reference("dw", out[0], ref_updat(g, c.N, xs, dys, extra, c.alpha, c.beta, out_start), bound))
          << where;
      break;
    }
    case BSMM_OP_L2_NORMALIZE:
      EXPECT_TRUE(near_reference("y", out[0], ref_l2_normalize(g, in[0], extra, epsilon_), bound)) << where;
      break;
    case BSMM_OP_L2_NORMALIZE_GRAD: {
      const L2Grad ref = ref_l2_normalize_grad(g, in[0], in[1], extra, epsilon_);
      EXPECT_TRUE(near_reference("dw", out[0], ref.dw, bound)) << where;
      if (c.gain) {
        EXPECT_TRUE(near_reference("dgain", out[1], ref.dgain, fp32_error_bound())) << where;
      }
      break;
    }
    case BSMM_OP_IDENTITY_INIT: {
      const Vec ref = ref_identity_init(g, c.scale);
      HostTensor want(setup_.dtype, static_cast<int64_t>(ref.size()));
      for (size_t i = 0; i < ref.size(); ++i) want.set(static_cast<int64_t>(i), static_cast<float>(ref[i]));
      EXPECT_TRUE(bitwise_equal("w", out[0].bytes(), want.bytes())) << where;
      break;
    }
    default: ADD_FAILURE() << "OpRun::check: unknown op";
  }
}

void check_op(const PlanSetup& setup, const Layout& layout, const OpCase& c, std::mt19937_64& rng) {
  const Plan plan = make_plan(setup, layout);
  if (!plan) return;
  const OpRun run(setup, layout, c, rng);
  run.check(run.execute(plan.get()));
}

}  // namespace bs_test
