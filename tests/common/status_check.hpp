#pragma once
// Checks for calls that must fail: the exact status, the same status from bs_get_last_status(), a
// last-error message that names the function, and outputs left exactly as they were.
#include <blocksparse/blocksparse.h>
#include <gtest/gtest.h>

#include <initializer_list>
#include <string>
#include <vector>

#include "common/buffer.hpp"

namespace bs_test {

// Success when `got == want`, bs_get_last_status() == want and bs_get_last_error() contains
// `function` and something after it.
::testing::AssertionResult failed_as(bs_status_t got, bs_status_t want, const char* function);

// Clears the last error, evaluates `call` (a bs_status_t expression) and checks it with failed_as.
#define EXPECT_BS_FAIL(want, function, call)                                         \
  do {                                                                               \
    bs_clear_last_error();                                                           \
    EXPECT_TRUE(::bs_test::failed_as((call), (want), (function))) << "call: " #call; \
  } while (0)

#define EXPECT_BS_OK(call)                                                                          \
  do {                                                                                              \
    const bs_status_t bs_st_ = (call);                                                              \
    EXPECT_EQ(bs_st_, BS_STATUS_SUCCESS) << bs_status_name(bs_st_) << ": " << ::bs_test::last_error() \
                                         << "\n  call: " #call;                                     \
  } while (0)

// Remembers the bytes (contents and guards) of some buffers; unchanged() checks them again.
class Untouched {
 public:
  Untouched(std::initializer_list<const TestBuffer*> buffers);
  ::testing::AssertionResult unchanged() const;

 private:
  std::vector<const TestBuffer*> buffers_;
  std::vector<std::vector<uint8_t>> before_;
};

}  // namespace bs_test
