// bs_dropout_*, bs_philox4x32_10: known-answer vectors, the documented random stream, the same
// mask on every backend, y = x·mask/keep_prob, apply = regenerate.
#include "ops_test_util.hpp"

namespace opstest {
namespace {

TEST(Philox, KnownAnswerVectorsOfRandom123) {
  struct Kat {
    uint32_t ctr[4], key[2], out[4];
  };
  const Kat kats[] = {
      {{0, 0, 0, 0}, {0, 0}, {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}},
      {{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff},
       {0xffffffff, 0xffffffff},
       {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}},
      {{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344},
       {0xa4093822, 0x299f31d0},
       {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}},
  };
  for (const Kat& k : kats) {
    uint32_t out[4];
    BS_OK(bs_philox4x32_10(k.ctr, k.key, out));
    for (int i = 0; i < 4; ++i) EXPECT_EQ(out[i], k.out[i]);
  }
  EXPECT_EQ(bs_philox4x32_10(nullptr, kats[0].key, nullptr), BS_STATUS_NULL_POINTER);
}

// The mask the documentation promises, computed from bs_philox4x32_10 alone.
std::vector<uint32_t> documented_mask(int64_t n, float keep, uint64_t seed, uint64_t offset) {
  const uint64_t thr = static_cast<uint64_t>(std::floor(static_cast<double>(keep) * 4294967296.0));
  std::vector<uint32_t> m((n + 31) / 32, 0);
  const uint32_t key[2] = {static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32)};
  for (int64_t i = 0; i < n; i += 4) {
    const uint64_t c = offset + static_cast<uint64_t>(i / 4);
    const uint32_t ctr[4] = {static_cast<uint32_t>(c), static_cast<uint32_t>(c >> 32), 0, 0};
    uint32_t r[4];
    bs_philox4x32_10(ctr, key, r);
    for (int j = 0; j < 4 && i + j < n; ++j)
      if (r[j] < thr) m[(i + j) / 32] |= 1u << ((i + j) % 32);
  }
  return m;
}

class Dropout : public OpsTest {};

TEST_P(Dropout, MaskFpropApply) {
  for (const int64_t n : {int64_t{1}, int64_t{37}, int64_t{4096}, int64_t{100003}}) {
    const float keep = 0.7f;
    const uint64_t seed = rng()(), offset = rng()();  // offset may wrap around 2^64: documented
    SCOPED_TRACE(::testing::Message() << "n " << n << " seed " << seed << " offset " << offset);
    const auto ref_mask = documented_mask(n, keep, seed, offset);
    const size_t words = ref_mask.size();
    auto bmask = out_buf(be(), BS_DTYPE_F32, words), bmask2 = out_buf(be(), BS_DTYPE_F32, words);
    BS_OK(bs_dropout_mask(be(), n, keep, seed, offset, static_cast<uint32_t*>(bmask->ptr()), nullptr));
    std::vector<uint32_t> got(words);
    std::memcpy(got.data(), bmask->download().data(), words * 4);
    EXPECT_EQ(got, ref_mask);
    EXPECT_TRUE(bmask->guards_intact());
    if (n == 100003) {
      int64_t kept = 0;
      for (uint32_t w : got) kept += __builtin_popcount(w);
      EXPECT_NEAR(static_cast<double>(kept) / n, keep, 0.01);
    }
    const auto x = rnd(n);
    std::vector<double> y(n);
    const float scale = 1.0f / keep;
    for (int64_t i = 0; i < n; ++i)
      y[i] = (ref_mask[i / 32] >> (i % 32)) & 1 ? round_to(dt(), static_cast<double>(static_cast<float>(x[i]) * scale))
                                                : 0.0;
    auto bx = in(x), by = out(n), by2 = out(n);
    BS_OK(bs_dropout_fprop(be(), dt(), n, bx->ptr(), keep, seed, offset, by->ptr(),
                           static_cast<uint32_t*>(bmask2->ptr()), nullptr));
    OPS_EXPECT_CLOSE(*by, dt(), y, 0.0);  // one fp32 multiply, one rounding: exact
    EXPECT_EQ(bmask2->download(), bmask->download());
    BS_OK(bs_dropout_apply(be(), dt(), n, bx->ptr(), static_cast<const uint32_t*>(bmask->ptr()), keep, by2->ptr(),
                           nullptr));
    EXPECT_EQ(by2->download(), by->download());
  }
}

TEST_P(Dropout, KeepAllAndDifferentOffsets) {
  const int64_t n = 1000;
  auto m1 = out_buf(be(), BS_DTYPE_F32, 32), m2 = out_buf(be(), BS_DTYPE_F32, 32);
  BS_OK(bs_dropout_mask(be(), n, 1.0f, 5, 0, static_cast<uint32_t*>(m1->ptr()), nullptr));
  const auto all = m1->download();
  for (int64_t w = 0; w < 31; ++w) EXPECT_EQ(reinterpret_cast<const uint32_t*>(all.data())[w], 0xffffffffu);
  EXPECT_EQ(reinterpret_cast<const uint32_t*>(all.data())[31], (1u << (n % 32)) - 1);  // bits past n are 0
  BS_OK(bs_dropout_mask(be(), n, 0.5f, 5, 0, static_cast<uint32_t*>(m1->ptr()), nullptr));
  BS_OK(bs_dropout_mask(be(), n, 0.5f, 5, 250, static_cast<uint32_t*>(m2->ptr()), nullptr));
  EXPECT_NE(m1->download(), m2->download());
}

// The same (seed, offset) gives bitwise the same mask and output on the CPU and on the GPU.
TEST_P(Dropout, SameMaskOnCpuAndCuda) {
  if (be() != BS_BACKEND_CUDA) GTEST_SKIP() << "compares the CUDA backend with the CPU (runs on the CUDA instance)";
  const int64_t n = 1 << 20;
  const uint64_t seed = rng()(), offset = rng()() >> 8;
  const auto x = rnd(n);
  auto cx = std::make_unique<Buf>(BS_BACKEND_CPU, dt(), x), gx = in(x);
  auto cy = out_buf(BS_BACKEND_CPU, dt(), n), gy = out(n);
  auto cm = out_buf(BS_BACKEND_CPU, BS_DTYPE_F32, n / 32), gm = out_buf(be(), BS_DTYPE_F32, n / 32);
  BS_OK(bs_dropout_fprop(BS_BACKEND_CPU, dt(), n, cx->ptr(), 0.9f, seed, offset, cy->ptr(),
                         static_cast<uint32_t*>(cm->ptr()), nullptr));
  BS_OK(bs_dropout_fprop(be(), dt(), n, gx->ptr(), 0.9f, seed, offset, gy->ptr(), static_cast<uint32_t*>(gm->ptr()),
                         nullptr));
  EXPECT_EQ(cm->download(), gm->download());
  EXPECT_EQ(cy->download(), gy->download());
}

OPS_INSTANTIATE(Dropout);

}  // namespace
}  // namespace opstest
