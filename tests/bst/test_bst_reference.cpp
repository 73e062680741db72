// bst numerics against the float64 reference (bst_reference.hpp): every unfused op and the fused
// forward/backward (with and without dropout) on adversarial layouts: an empty query block row, a
// row with one block, a dense row, heads with unequal block counts, Sq != Sk, every CPU dtype, both
// tensor formats, block sizes 8..64, causal with and without autoregress_at_key, and block masks.
// Outputs start as NaN poison inside guard zones: every element must be written, nothing outside.
#include <blocksparse/bs_dropout.h>
#include <blocksparse/bst.h>
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>

#include "bst_reference.hpp"
#include "common/buffer.hpp"
#include "common/compare.hpp"
#include "common/host_tensor.hpp"

namespace bs_test {
namespace {

struct Spec {
  const char* name;
  int64_t b, QB, KB, H, layout_heads, D;
  int32_t dtype, format, causal;
  int64_t prefix;
  bool masks;
  float keep_prob;
};

// Relative error bounds of the project's standard (bst computes in fp32 from rounded inputs; the
// 16-bit outputs carry the final rounding and the rounded intermediate scores of the unfused ops).
double bound(int32_t dtype) { return dtype == BS_DTYPE_F32 ? 1e-5 : 1e-2; }

::testing::AssertionResult close(const std::string& what, const HostTensor& out, const std::vector<double>& ref,
                                 int32_t dtype) {
  for (int64_t i = 0; i < out.count(); ++i)
    if (!std::isfinite(out.at(i))) return ::testing::AssertionFailure() << what << "[" << i << "] = " << out.at(i);
  const double err = relative_error(out.values(), ref);
  if (err <= bound(dtype)) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << what << ": relative error " << err << " > " << bound(dtype);
}

// The layout of a spec: head 0 has an empty row (QB >= 2), a one-block row and a dense row; other
// heads are random with a different count (heads differ).
BstCase make_case(const Spec& s, std::mt19937_64& rng) {
  BstCase c;
  c.batch = 2;
  c.H = s.H;
  c.layout_heads = s.layout_heads;
  c.QB = s.QB;
  c.KB = s.KB;
  c.b = s.b;
  c.D = s.D;
  c.format = s.format;
  c.causal = s.causal;
  c.prefix = s.prefix;
  c.layout.assign(static_cast<size_t>(c.layout_heads * c.QB * c.KB), 0);
  for (int64_t lh = 0; lh < c.layout_heads; ++lh)
    for (int64_t i = 0; i < c.QB; ++i)
      for (int64_t j = 0; j < c.KB; ++j) {
        uint8_t v;
        if (lh == 0 && i == 0) v = (j == c.KB - 1);  // one block (causal: masked or partly masked)
        else if (lh == 0 && i == 1) v = 0;            // empty row
        else if (lh == 0 && i == c.QB - 1) v = 1;      // dense row
        else v = (rng() % (lh + 2)) == 0;
        c.layout[static_cast<size_t>((lh * c.QB + i) * c.KB + j)] = v;
      }
  if (s.masks) {
    int64_t blocks = 0;
    for (uint8_t v : c.layout) blocks += v;
    c.masks.resize(static_cast<size_t>(blocks * c.b * (c.b / 8)));
    for (auto& m : c.masks) m = static_cast<uint8_t>(rng());
    if (!c.masks.empty()) std::fill(c.masks.begin(), c.masks.begin() + c.b / 8, uint8_t{0});  // a masked-out row
  }
  return c;
}

class BstReferenceTest : public ::testing::TestWithParam<Spec> {};

TEST_P(BstReferenceTest, MatchesFloat64) {
  const Spec& s = GetParam();
  std::mt19937_64 rng(0xb57 + s.b * 31 + s.D);
  const BstCase c = make_case(s, rng);
  const BstReference ref(c);
  const auto dt = static_cast<bs_dtype_t>(s.dtype);

  bst_params_t p;
  ASSERT_EQ(BST_PARAMS_INIT(&p), BS_STATUS_SUCCESS);
  p.block_size = static_cast<int32_t>(s.b);
  p.heads = static_cast<int32_t>(s.H);
  p.head_dim = static_cast<int32_t>(s.D);
  p.dtype = s.dtype;
  p.format = s.format;
  p.causal = s.causal;
  p.autoregress_at_key = s.prefix;
  p.num_threads = 2;
  bst_plan_t plan = nullptr;
  ASSERT_EQ(bst_create(&plan, &p, c.layout.data(), c.layout_heads, c.QB, c.KB, c.masks.empty() ? nullptr : c.masks.data()),
            BS_STATUS_SUCCESS);
  int64_t score_blocks = 0;
  ASSERT_EQ(bst_get_attr(plan, BST_ATTR_SCORE_BLOCKS, &score_blocks), BS_STATUS_SUCCESS);
  ASSERT_EQ(score_blocks, static_cast<int64_t>(ref.blocks().size()));
  for (int64_t x = 0; x < score_blocks; x += 3) {
    int64_t h, i, j;
    ASSERT_EQ(bst_block_coord(plan, x, &h, &i, &j), BS_STATUS_SUCCESS);
    const auto& B = ref.blocks()[static_cast<size_t>(x)];
    ASSERT_TRUE(h == B.h && i == B.i && j == B.j) << "block " << x;
  }

  const int64_t nq = c.batch * c.Sq() * c.H * c.D, nk = c.batch * c.Sk() * c.H * c.D;
  const int64_t ns = c.batch * score_blocks * c.b * c.b, nl = c.batch * c.H * c.Sq();
  const HostTensor q = HostTensor::random(dt, nq, rng), k = HostTensor::random(dt, nk, rng);
  const HostTensor v = HostTensor::random(dt, nk, rng), dout = HostTensor::random(dt, nq, rng);
  const double scale = 1.0 / std::sqrt(static_cast<double>(s.D)) * 2.0;  // sharper than usual
  const bs_backend_t cpu = BS_BACKEND_CPU;
  TestBuffer bq(cpu, q), bk(cpu, k), bv(cpu, v), bdo(cpu, dout);
  size_t ws_bytes = 0;
  for (int op = BST_OP_SDD; op <= BST_OP_ATTENTION_BPROP; ++op) {
    size_t w = 0;
    ASSERT_EQ(bst_get_workspace_size(plan, static_cast<bst_op_t>(op), c.batch, &w), BS_STATUS_SUCCESS);
    ws_bytes = std::max(ws_bytes, w);
  }
  TestBuffer ws(cpu, ws_bytes);
  auto poisoned = [&](int64_t n, bs_dtype_t d) {
    TestBuffer buf(cpu, n * dtype_bytes(d));
    buf.upload(HostTensor::poison(d, n));
    return buf;
  };
  auto get = [&](const TestBuffer& buf, bs_dtype_t d) {
    EXPECT_TRUE(buf.guards_intact());
    return buf.download(d);
  };

  // --- unfused ---------------------------------------------------------------------------------
  {
    TestBuffer scores = poisoned(ns, dt);
    ASSERT_EQ(bst_sdd(plan, c.batch, bq.data(), bk.data(), scores.data(), ws.data(), ws_bytes, nullptr), BS_STATUS_SUCCESS);
    EXPECT_TRUE(close("sdd", get(scores, dt), ref.sdd(q.values(), k.values()), s.dtype));

    // softmax of random scores (in place), its gradient, DSD and DSD_T on exact inputs.
    const HostTensor x = HostTensor::random(dt, ns, rng, -3.0f, 3.0f);
    TestBuffer probs(cpu, x);
    ASSERT_EQ(bst_softmax(plan, c.batch, probs.data(), static_cast<float>(scale), probs.data(), ws.data(), ws_bytes, nullptr),
              BS_STATUS_SUCCESS);
    const HostTensor pr = get(probs, dt);
    EXPECT_TRUE(close("softmax", pr, ref.block_softmax(x.values(), scale), s.dtype));

    const HostTensor dp = HostTensor::random(dt, ns, rng);
    TestBuffer bdp(cpu, dp), ds = poisoned(ns, dt);
    ASSERT_EQ(bst_softmax_grad(plan, c.batch, probs.data(), bdp.data(), static_cast<float>(scale), ds.data(), ws.data(),
                               ws_bytes, nullptr),
              BS_STATUS_SUCCESS);
    EXPECT_TRUE(close("softmax_grad", get(ds, dt), ref.block_softmax_grad(pr.values(), dp.values(), scale), s.dtype));

    TestBuffer o = poisoned(nq, dt), dk = poisoned(nk, dt);
    ASSERT_EQ(bst_dsd(plan, c.batch, bdp.data(), bv.data(), o.data(), ws.data(), ws_bytes, nullptr), BS_STATUS_SUCCESS);
    EXPECT_TRUE(close("dsd", get(o, dt), ref.dsd(dp.values(), v.values()), s.dtype));
    ASSERT_EQ(bst_dsd_t(plan, c.batch, bdp.data(), bq.data(), dk.data(), ws.data(), ws_bytes, nullptr), BS_STATUS_SUCCESS);
    EXPECT_TRUE(close("dsd_t", get(dk, dt), ref.dsd_t(dp.values(), q.values()), s.dtype));
  }

  // --- fused -----------------------------------------------------------------------------------
  const uint64_t seed = 0x5eed, offset = 12;
  std::vector<double> Z;
  if (s.keep_prob < 1.0f) {
    const int64_t ne = c.batch * c.H * c.Sq() * c.Sk();
    std::vector<uint32_t> mask(static_cast<size_t>((ne + 31) / 32));
    ASSERT_EQ(bs_dropout_mask(cpu, ne, s.keep_prob, seed, offset, mask.data(), nullptr), BS_STATUS_SUCCESS);
    Z.resize(static_cast<size_t>(ne));
    for (int64_t e = 0; e < ne; ++e) Z[static_cast<size_t>(e)] = ((mask[e / 32] >> (e % 32)) & 1) ? 1.0 / s.keep_prob : 0.0;
  }
  std::vector<double> ro, rlse, rdq, rdk, rdv;
  ref.fprop(q.values(), k.values(), v.values(), scale, Z, ro, rlse);
  ref.bprop(q.values(), k.values(), v.values(), dout.values(), scale, Z, rdq, rdk, rdv);

  TestBuffer o = poisoned(nq, dt), lse = poisoned(nl, BS_DTYPE_F32);
  ASSERT_EQ(bst_attention_fprop(plan, c.batch, bq.data(), bk.data(), bv.data(), static_cast<float>(scale), s.keep_prob,
                                seed, offset, o.data(), lse.f32(), ws.data(), ws_bytes, nullptr),
            BS_STATUS_SUCCESS);
  const HostTensor ho = get(o, dt), hl = get(lse, BS_DTYPE_F32);
  EXPECT_TRUE(close("attention o", ho, ro, s.dtype));
  // lse: -inf exactly where the reference has no allowed key, else fp32-close.
  std::vector<double> lf, lr;
  for (int64_t i = 0; i < nl; ++i) {
    if (std::isinf(rlse[static_cast<size_t>(i)])) {
      ASSERT_TRUE(std::isinf(hl.at(i)) && hl.at(i) < 0) << "lse[" << i << "] = " << hl.at(i);
    } else {
      lf.push_back(hl.at(i));
      lr.push_back(rlse[static_cast<size_t>(i)]);
    }
  }
  ASSERT_FALSE(lr.empty());
  EXPECT_LE(relative_error(lf, lr), s.dtype == BS_DTYPE_F32 ? 1e-5 : 1e-3) << "lse";

  TestBuffer dq = poisoned(nq, dt), dk = poisoned(nk, dt), dv = poisoned(nk, dt);
  ASSERT_EQ(bst_attention_bprop(plan, c.batch, bq.data(), bk.data(), bv.data(), o.data(), bdo.data(), lse.f32(),
                                static_cast<float>(scale), s.keep_prob, seed, offset, dq.data(), dk.data(), dv.data(),
                                ws.data(), ws_bytes, nullptr),
            BS_STATUS_SUCCESS);
  EXPECT_TRUE(close("attention dq", get(dq, dt), rdq, s.dtype));
  EXPECT_TRUE(close("attention dk", get(dk, dt), rdk, s.dtype));
  EXPECT_TRUE(close("attention dv", get(dv, dt), rdv, s.dtype));

  // Deterministic: a second run (other thread count would use another plan) gives the same bytes.
  TestBuffer dq2 = poisoned(nq, dt), dk2 = poisoned(nk, dt), dv2 = poisoned(nk, dt);
  ASSERT_EQ(bst_attention_bprop(plan, c.batch, bq.data(), bk.data(), bv.data(), o.data(), bdo.data(), lse.f32(),
                                static_cast<float>(scale), s.keep_prob, seed, offset, dq2.data(), dk2.data(), dv2.data(),
                                ws.data(), ws_bytes, nullptr),
            BS_STATUS_SUCCESS);
  EXPECT_TRUE(bitwise_equal("dk", dk.download(), dk2.download()));
  EXPECT_TRUE(bitwise_equal("dq", dq.download(), dq2.download()));
  EXPECT_EQ(bst_destroy(plan), BS_STATUS_SUCCESS);
}

constexpr int32_t F32 = BS_DTYPE_F32, F16 = BS_DTYPE_F16, BF16 = BS_DTYPE_BF16;
constexpr int32_t BSHD = BST_FORMAT_BSHD, BHSD = BST_FORMAT_BHSD;

INSTANTIATE_TEST_SUITE_P(
    Cases, BstReferenceTest,
    ::testing::Values(
        //   name             b  QB KB H lh  D  dtype fmt  causal prefix masks keep
        Spec{"b8_f32", 8, 3, 4, 2, 2, 16, F32, BSHD, 0, 0, false, 1.0f},
        Spec{"b8_masks", 8, 4, 3, 3, 3, 8, F32, BHSD, 0, 0, true, 1.0f},
        Spec{"b16_causal", 16, 4, 4, 2, 1, 32, F32, BSHD, 1, 0, false, 1.0f},
        Spec{"b16_prefix", 16, 3, 5, 2, 2, 24, F32, BHSD, 1, 24, false, 1.0f},
        Spec{"b32_f16", 32, 3, 2, 2, 2, 64, F16, BSHD, 0, 0, false, 1.0f},
        Spec{"b32_bf16_causal_masks", 32, 3, 3, 2, 2, 32, BF16, BHSD, 1, 0, true, 1.0f},
        Spec{"b8_dropout", 8, 4, 4, 2, 2, 16, F32, BSHD, 1, 0, false, 0.7f},
        Spec{"b64_bf16_dropout", 64, 2, 3, 1, 1, 32, BF16, BHSD, 0, 0, true, 0.8f}),
    [](const ::testing::TestParamInfo<Spec>& i) { return std::string(i.param.name); });

}  // namespace
}  // namespace bs_test
