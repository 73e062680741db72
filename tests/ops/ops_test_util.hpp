#pragma once
// Shared helpers of the ops tests: backend buffers with poisoned guard zones, dtype encoding
// written independently of the library (round-to-nearest-even from float64), random data,
// float64 comparisons.
#include <blocksparse/blocksparse.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#if defined(BS_TEST_CUDA)
#include <cuda_runtime.h>
#endif

namespace opstest {

inline const char* dtype_name(bs_dtype_t d) {
  return d == BS_DTYPE_F32 ? "f32" : d == BS_DTYPE_F16 ? "f16" : "bf16";
}
inline size_t dsize(bs_dtype_t d) { return d == BS_DTYPE_F32 ? 4 : 2; }

// v rounded to the nearest value of dtype d (ties to even), with overflow to ±inf.
inline double round_to(bs_dtype_t d, double v) {
  if (std::isnan(v) || std::isinf(v) || v == 0.0) return v;
  if (d == BS_DTYPE_F32) return static_cast<double>(static_cast<float>(v));
  const int mant_bits = d == BS_DTYPE_F16 ? 10 : 7;
  const int min_exp = d == BS_DTYPE_F16 ? -14 : -126;
  const double max_val = d == BS_DTYPE_F16 ? 65504.0 : std::ldexp(2.0 - std::ldexp(1.0, -7), 127);
  int e;
  std::frexp(v, &e);  // v = m·2^e, 0.5 <= |m| < 1
  const int exp = std::max(e - 1, min_exp);
  const double ulp = std::ldexp(1.0, exp - mant_bits);
  const double r = std::nearbyint(v / ulp) * ulp;  // default rounding mode: nearest even
  const double limit = max_val + ulp / 2;          // halfway to the next (unrepresentable) value
  if (std::fabs(r) > max_val || std::fabs(v) >= limit) return v > 0 ? INFINITY : -INFINITY;
  return r;
}

// Bits of an exactly representable value.
inline void encode_one(bs_dtype_t d, double v, uint8_t* out) {
  if (d == BS_DTYPE_F32) {
    const float f = static_cast<float>(v);
    std::memcpy(out, &f, 4);
    return;
  }
  uint16_t bits;
  if (d == BS_DTYPE_BF16) {
    const float f = static_cast<float>(v);
    uint32_t u;
    std::memcpy(&u, &f, 4);
    bits = std::isnan(v) ? 0x7fc0 : static_cast<uint16_t>(u >> 16);
  } else {
    const uint16_t sign = std::signbit(v) ? 0x8000 : 0;
    const double a = std::fabs(v);
    if (std::isnan(v)) bits = 0x7e00;
    else if (std::isinf(a)) bits = sign | 0x7c00;
    else if (a < std::ldexp(1.0, -14)) bits = sign | static_cast<uint16_t>(a / std::ldexp(1.0, -24));
    else {
      int e;
      const double m = std::frexp(a, &e);  // a = m·2^e
      const uint16_t man = static_cast<uint16_t>((m * 2 - 1) * 1024);
      bits = sign | static_cast<uint16_t>((e - 1 + 15) << 10) | man;
    }
  }
  std::memcpy(out, &bits, 2);
}

inline double decode_one(bs_dtype_t d, const uint8_t* in) {
  if (d == BS_DTYPE_F32) {
    float f;
    std::memcpy(&f, in, 4);
    return f;
  }
  uint16_t b;
  std::memcpy(&b, in, 2);
  if (d == BS_DTYPE_BF16) {
    const uint32_t u = static_cast<uint32_t>(b) << 16;
    float f;
    std::memcpy(&f, &u, 4);
    return f;
  }
  const double sign = b & 0x8000 ? -1.0 : 1.0;
  const int exp = (b >> 10) & 0x1f;
  const int man = b & 0x3ff;
  if (exp == 0x1f) return man ? NAN : sign * INFINITY;
  if (exp == 0) return sign * std::ldexp(man, -24);
  return sign * std::ldexp(1024 + man, exp - 25);
}

inline std::vector<uint8_t> encode(bs_dtype_t d, const std::vector<double>& v) {
  std::vector<uint8_t> out(v.size() * dsize(d));
  for (size_t i = 0; i < v.size(); ++i) encode_one(d, v[i], out.data() + i * dsize(d));
  return out;
}

inline std::vector<double> decode(bs_dtype_t d, const std::vector<uint8_t>& b) {
  std::vector<double> out(b.size() / dsize(d));
  for (size_t i = 0; i < out.size(); ++i) out[i] = decode_one(d, b.data() + i * dsize(d));
  return out;
}

inline std::mt19937_64& rng() {
  static std::mt19937_64 g{std::random_device{}()};
  return g;
}

// n values uniform in [lo, hi), rounded to d (fresh on every call: no fixed seed).
inline std::vector<double> rand_vec(bs_dtype_t d, size_t n, double lo = -1.0, double hi = 1.0) {
  std::uniform_real_distribution<double> u(lo, hi);
  std::vector<double> v(n);
  for (auto& x : v) x = round_to(d, u(rng()));
  return v;
}

// Values with |x| in [lo, hi) and a random sign.
inline std::vector<double> rand_signed_away(bs_dtype_t d, size_t n, double lo, double hi) {
  std::vector<double> v = rand_vec(d, n, lo, hi);
  std::bernoulli_distribution coin(0.5);
  for (auto& x : v) x = coin(rng()) ? -x : x;
  return v;
}

inline bool cuda_available() {
  int32_t count = 0;
  return bs_get_device_count(BS_BACKEND_CUDA, &count) == BS_STATUS_SUCCESS && count > 0;
}

// Skips the current test with a reason when `be` cannot run here. Use as the first statement.
#define OPS_SKIP_IF_UNAVAILABLE(be)                                                               \
  do {                                                                                             \
    if ((be) == BS_BACKEND_CUDA && !::opstest::cuda_test_build())                                  \
      GTEST_SKIP() << "this build has no CUDA backend (configure with BS_ENABLE_CUDA)";            \
    if ((be) == BS_BACKEND_CUDA && !::opstest::cuda_available())                                   \
      GTEST_SKIP() << "no CUDA GPU is visible on this machine";                                    \
  } while (0)

constexpr bool cuda_test_build() {
#if defined(BS_TEST_CUDA)
  return true;
#else
  return false;
#endif
}

// A buffer of the backend with 256 poisoned (0xFF = NaN in every dtype) guard bytes on each side.
class Buf {
 public:
  static constexpr size_t kGuard = 256;
  Buf(bs_backend_t be, size_t bytes) : be_(be), bytes_(bytes) {
    const size_t total = bytes + 2 * kGuard;
    if (be == BS_BACKEND_CPU) {
      host_.assign(total, 0xFF);
      base_ = host_.data();
    } else {
#if defined(BS_TEST_CUDA)
      EXPECT_EQ(cudaMalloc(&base_, total), cudaSuccess);
      EXPECT_EQ(cudaMemset(base_, 0xFF, total), cudaSuccess);
#endif
    }
  }
  Buf(bs_backend_t be, bs_dtype_t d, const std::vector<double>& v) : Buf(be, v.size() * dsize(d)) {
    upload(encode(d, v));
  }
  ~Buf() {
#if defined(BS_TEST_CUDA)
    if (be_ == BS_BACKEND_CUDA && base_) cudaFree(base_);
#endif
  }
  Buf(const Buf&) = delete;
  Buf& operator=(const Buf&) = delete;

  void* ptr() const { return static_cast<uint8_t*>(base_) + kGuard; }
  float* f32() const { return static_cast<float*>(ptr()); }
  size_t bytes() const { return bytes_; }

  void upload(const std::vector<uint8_t>& h) {
    ASSERT_LE(h.size(), bytes_);
    if (be_ == BS_BACKEND_CPU) {
      std::memcpy(ptr(), h.data(), h.size());
    } else {
#if defined(BS_TEST_CUDA)
      ASSERT_EQ(cudaMemcpy(ptr(), h.data(), h.size(), cudaMemcpyHostToDevice), cudaSuccess);
#endif
    }
  }
  std::vector<uint8_t> all() const {  // guards included
    std::vector<uint8_t> h(bytes_ + 2 * kGuard);
    if (be_ == BS_BACKEND_CPU) {
      std::memcpy(h.data(), base_, h.size());
    } else {
#if defined(BS_TEST_CUDA)
      EXPECT_EQ(cudaDeviceSynchronize(), cudaSuccess);
      EXPECT_EQ(cudaMemcpy(h.data(), base_, h.size(), cudaMemcpyDeviceToHost), cudaSuccess);
#endif
    }
    return h;
  }
  std::vector<uint8_t> download() const {
    const std::vector<uint8_t> h = all();
    return std::vector<uint8_t>(h.begin() + kGuard, h.end() - kGuard);
  }
  std::vector<double> values(bs_dtype_t d) const { return decode(d, download()); }
  bool guards_intact() const {
    const std::vector<uint8_t> h = all();
    for (size_t i = 0; i < kGuard; ++i)
      if (h[i] != 0xFF || h[h.size() - 1 - i] != 0xFF) return false;
    return true;
  }
  bool untouched() const {  // every byte still poisoned
    for (uint8_t b : all())
      if (b != 0xFF) return false;
    return true;
  }

 private:
  bs_backend_t be_;
  size_t bytes_;
  std::vector<uint8_t> host_;
  void* base_ = nullptr;
};

// A poisoned output buffer of n elements of d.
inline std::unique_ptr<Buf> out_buf(bs_backend_t be, bs_dtype_t d, size_t n) {
  return std::make_unique<Buf>(be, n * dsize(d));
}

// Relative norm error ‖got − ref‖/‖ref‖ (absolute when ‖ref‖ = 0); NaN when any element of got is
// not finite while ref is (an unwritten, still poisoned element is NaN).
inline double rel_err(const std::vector<double>& got, const std::vector<double>& ref) {
  if (got.size() != ref.size()) return NAN;
  double num = 0, den = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    if (!std::isfinite(got[i]) && std::isfinite(ref[i])) return NAN;
    if (!std::isfinite(ref[i])) {
      if (!(std::isnan(ref[i]) ? std::isnan(got[i]) : got[i] == ref[i])) return NAN;
      continue;
    }
    num += (got[i] - ref[i]) * (got[i] - ref[i]);
    den += ref[i] * ref[i];
  }
  return den > 0 ? std::sqrt(num / den) : std::sqrt(num);
}

// Bound on the relative error of one rounded result per element.
inline double tol(bs_dtype_t d) { return d == BS_DTYPE_F32 ? 1e-5 : d == BS_DTYPE_F16 ? 3e-3 : 1e-2; }

// Asserts rel_err(buffer, ref) <= bound and that the guard zones are intact.
#define OPS_EXPECT_CLOSE(buf, dtype, ref, bound)                                                  \
  do {                                                                                             \
    const double e_ = ::opstest::rel_err((buf).values(dtype), (ref));                              \
    EXPECT_LE(e_, (bound)) << #buf << " (" << ::opstest::dtype_name(dtype) << "): rel err " << e_; \
    EXPECT_TRUE((buf).guards_intact()) << #buf << ": written outside its bounds";                  \
  } while (0)

// Test parameter: backend × dtype.
using BackendDtype = std::tuple<bs_backend_t, bs_dtype_t>;

inline std::string param_name(const ::testing::TestParamInfo<BackendDtype>& info) {
  return std::string(std::get<0>(info.param) == BS_BACKEND_CPU ? "cpu_" : "cuda_") +
         dtype_name(std::get<1>(info.param));
}

#define OPS_INSTANTIATE(suite)                                                                             \
  INSTANTIATE_TEST_SUITE_P(All, suite,                                                                     \
                           ::testing::Combine(::testing::Values(BS_BACKEND_CPU, BS_BACKEND_CUDA),          \
                                              ::testing::Values(BS_DTYPE_F32, BS_DTYPE_F16, BS_DTYPE_BF16)), \
                           ::opstest::param_name)

class OpsTest : public ::testing::TestWithParam<BackendDtype> {
 protected:
  void SetUp() override { OPS_SKIP_IF_UNAVAILABLE(be()); }
  bs_backend_t be() const { return std::get<0>(GetParam()); }
  bs_dtype_t dt() const { return std::get<1>(GetParam()); }
  std::unique_ptr<Buf> in(const std::vector<double>& v) const { return std::make_unique<Buf>(be(), dt(), v); }
  std::unique_ptr<Buf> in_f32(const std::vector<double>& v) const {
    return std::make_unique<Buf>(be(), BS_DTYPE_F32, v);
  }
  std::unique_ptr<Buf> out(size_t n) const { return out_buf(be(), dt(), n); }
  std::unique_ptr<Buf> out_f32(size_t n) const { return out_buf(be(), BS_DTYPE_F32, n); }
  std::vector<double> rnd(size_t n, double lo = -1, double hi = 1) const { return rand_vec(dt(), n, lo, hi); }
  std::vector<double> rnd_f32(size_t n, double lo = -1, double hi = 1) const {
    return rand_vec(BS_DTYPE_F32, n, lo, hi);
  }
  // Rounds every value of a float64 reference of a storage output to the dtype.
  std::vector<double> stored(std::vector<double> v) const {
    for (auto& x : v) x = round_to(dt(), x);
    return v;
  }
};

#define BS_OK(call) ASSERT_EQ((call), BS_STATUS_SUCCESS) << #call

}  // namespace opstest
