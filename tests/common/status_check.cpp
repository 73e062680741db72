#include "common/status_check.hpp"

#include "common/compare.hpp"
#include "common/plan.hpp"

namespace bs_test {

::testing::AssertionResult failed_as(bs_status_t got, bs_status_t want, const char* function) {
  const std::string msg = last_error();
  if (got != want)
    return ::testing::AssertionFailure() << "returned " << bs_status_name(got) << ", expected " << bs_status_name(want)
                                         << " (message: \"" << msg << "\")";
  if (bs_get_last_status() != want)
    return ::testing::AssertionFailure() << "bs_get_last_status() is " << bs_status_name(bs_get_last_status())
                                         << ", expected " << bs_status_name(want);
  const size_t at = msg.find(function);
  if (at == std::string::npos || msg.size() < at + std::string(function).size() + 3)
    return ::testing::AssertionFailure() << "last error \"" << msg << "\" does not name " << function
                                         << " and say what was wrong";
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult succeeded(bs_status_t got) {
  if (got == BS_STATUS_SUCCESS) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "returned " << bs_status_name(got) << ": " << last_error();
}

Untouched::Untouched(std::initializer_list<const TestBuffer*> buffers) : buffers_(buffers) {
  for (const TestBuffer* b : buffers_) before_.push_back(b->snapshot());
}

::testing::AssertionResult Untouched::unchanged() const {
  for (size_t i = 0; i < buffers_.size(); ++i) {
    ::testing::AssertionResult r = bitwise_equal("buffer " + std::to_string(i), before_[i], buffers_[i]->snapshot());
    if (!r) return r;
  }
  return ::testing::AssertionSuccess();
}

}  // namespace bs_test
