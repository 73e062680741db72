#pragma once
// Helpers of the libFuzzer targets: a failed check prints what broke and aborts (libFuzzer then
// saves the input as a crash), guarded output buffers (poison inside, canaries outside) and the
// relative error against a float64 reference.
#include <blocksparse/blocksparse.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include <fuzzer/FuzzedDataProvider.h>

#define FUZZ_CHECK(cond, ...)                                                          \
  do {                                                                                 \
    if (!(cond)) {                                                                     \
      std::fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, #cond);    \
      std::fprintf(stderr, __VA_ARGS__);                                               \
      std::fprintf(stderr, "\n");                                                      \
      std::abort();                                                                    \
    }                                                                                  \
  } while (0)

namespace bs_fuzz {

// Every failure must come with a message: the ABI promises one per failed call.
inline void check_failure_has_message(bs_status_t st) {
  if (st == BS_STATUS_SUCCESS) return;
  FUZZ_CHECK(bs_get_last_status() == st, "last status %d, call returned %d", bs_get_last_status(), st);
  char msg[512];
  size_t len = 0;
  bs_get_last_error(msg, sizeof msg, &len);
  FUZZ_CHECK(len > 0, "status %s without a message", bs_status_name(st));
}

// fp32 buffer of n elements between two canary zones; the inside starts as `fill` (a poison NaN
// for outputs, or given values for in/out tensors).
class Guarded {
 public:
  static constexpr size_t kGuard = 16;
  explicit Guarded(size_t n) : data_(n + 2 * kGuard) {
    for (size_t i = 0; i < kGuard; ++i) data_[i] = data_[kGuard + n + i] = kCanary;
    fill_poison();
  }
  float* get() { return data_.data() + kGuard; }
  size_t size() const { return data_.size() - 2 * kGuard; }
  float& operator[](size_t i) { return data_[kGuard + i]; }
  void fill_poison() {
    for (size_t i = 0; i < size(); ++i) (*this)[i] = std::nanf("0x5a5a");
  }
  std::vector<float> inside() const { return {data_.begin() + kGuard, data_.end() - kGuard}; }
  void check_canaries(const char* what) const {
    for (size_t i = 0; i < kGuard; ++i)
      FUZZ_CHECK(data_[i] == kCanary && data_[data_.size() - 1 - i] == kCanary, "%s: wrote outside its buffer", what);
  }
  // Bitwise equal to `before` (nothing written), canaries intact.
  void check_unchanged(const std::vector<float>& before, const char* what) const {
    check_canaries(what);
    FUZZ_CHECK(std::memcmp(before.data(), data_.data() + kGuard, before.size() * sizeof(float)) == 0,
               "%s: written by a failed call", what);
  }

 private:
  static constexpr float kCanary = -12345.25f;
  std::vector<float> data_;
};

// ||out - ref|| / ||ref|| (absolute norm of the difference when ref is 0); NaN anywhere gives NaN.
inline double rel_err(const float* out, const std::vector<double>& ref) {
  double num = 0, den = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    const double d = static_cast<double>(out[i]) - ref[i];
    num += d * d;
    den += ref[i] * ref[i];
  }
  return den > 0 ? std::sqrt(num / den) : std::sqrt(num);
}

// Random-looking but reproducible values in [-1, 1) from the fuzz input's seed.
inline std::vector<float> values(size_t n, uint32_t seed) {
  std::vector<float> v(n);
  uint32_t s = seed * 2654435761u + 1;
  for (auto& x : v) {
    s = s * 1664525u + 1013904223u;
    x = static_cast<float>(s >> 8) / 8388608.0f - 1.0f;
  }
  return v;
}

// A scale the fuzzer can steer to the interesting cases, including ones the ABI must refuse.
inline float pick_scale(FuzzedDataProvider& in) {
  static const float kScales[] = {1.0f, 0.0f, -0.5f, 2.0f, 0.25f, NAN, INFINITY};
  return kScales[in.ConsumeIntegralInRange<size_t>(0, sizeof kScales / sizeof kScales[0] - 1)];
}

}  // namespace bs_fuzz
