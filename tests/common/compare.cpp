#include "common/compare.hpp"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <sstream>

namespace bs_test {

double error_bound(bs_backend_t backend, bs_dtype_t dtype, bs_math_mode_t math) {
  switch (dtype) {
    case BS_DTYPE_F16: return 1e-3;
    case BS_DTYPE_BF16: return 5e-3;
    default: return (math == BS_MATH_TF32 && backend == BS_BACKEND_CUDA) ? 1e-3 : fp32_error_bound();
  }
}

double relative_error(const std::vector<double>& out, const std::vector<double>& ref) {
  double diff = 0.0, norm = 0.0;
  for (size_t i = 0; i < out.size(); ++i) {
    diff += (out[i] - ref[i]) * (out[i] - ref[i]);
    norm += ref[i] * ref[i];
  }
  // An all-zero reference: the output must be (nearly) zero in absolute terms.
  return norm > 0.0 ? std::sqrt(diff / norm) : std::sqrt(diff);
}

::testing::AssertionResult near_reference(const std::string& what, const HostTensor& out,
                                          const std::vector<double>& ref, double bound) {
  if (static_cast<size_t>(out.count()) != ref.size())
    return ::testing::AssertionFailure() << what << ": " << out.count() << " elements, reference has " << ref.size();
  const std::vector<double> v = out.values();
  size_t worst = 0;
  for (size_t i = 0; i < v.size(); ++i) {
    if (!std::isfinite(ref[i]))
      return ::testing::AssertionFailure() << what << ": reference element " << i << " is " << ref[i] << " (test bug)";
    if (!std::isfinite(v[i]))
      return ::testing::AssertionFailure() << what << ": element " << i << " is " << v[i] << " (reference " << ref[i]
                                           << "): not written, or not finite";
    if (std::fabs(v[i] - ref[i]) > std::fabs(v[worst] - ref[worst])) worst = i;
  }
  // 16-bit outputs are the fp32 result rounded once, to nearest even: nearly every element equals
  // the reference rounded the same way (fp32 accumulation moves about 2e-4 of them across a rounding
  // boundary on the CPU). Truncating, or rounding twice through a coarser type, misses on a large
  // fraction; this catches that where the norm bound alone would not.
  if (out.dtype() != BS_DTYPE_F32) {
    HostTensor rounded(out.dtype(), out.count());
    for (size_t i = 0; i < v.size(); ++i) rounded.set(static_cast<int64_t>(i), static_cast<float>(ref[i]));
    int64_t misses = 0;
    for (size_t i = 0; i < v.size(); ++i) misses += rounded.at(static_cast<int64_t>(i)) != v[i] ? 1 : 0;
    const int64_t allowed = 3 + out.count() / 100;
    if (misses > allowed)
      return ::testing::AssertionFailure() << what << ": " << misses << " of " << out.count()
                                           << " elements differ from the correctly rounded reference (at most "
                                           << allowed << " may): is the result rounded to nearest even, once?";
  }
  const double err = relative_error(v, ref);
  static const bool report = std::getenv("BS_TEST_REPORT_ERRORS") != nullptr;
  if (report) std::printf("  %s (%s): relative error %.3g, bound %.3g\n", what.c_str(), dtype_name(out.dtype()), err, bound);
  if (err <= bound) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << what << ": relative error " << err << " > bound " << bound << " ("
                                       << dtype_name(out.dtype()) << "); worst element " << worst << ": "
                                       << v[worst] << " vs reference " << ref[worst];
}

::testing::AssertionResult bitwise_equal(const std::string& what, const std::vector<uint8_t>& a,
                                         const std::vector<uint8_t>& b) {
  if (a.size() != b.size())
    return ::testing::AssertionFailure() << what << ": sizes differ (" << a.size() << " vs " << b.size() << ")";
  for (size_t i = 0; i < a.size(); ++i)
    if (a[i] != b[i])
      return ::testing::AssertionFailure() << what << ": byte " << i << " differs (" << int{a[i]} << " vs "
                                           << int{b[i]} << ")";
  return ::testing::AssertionSuccess();
}

}  // namespace bs_test
