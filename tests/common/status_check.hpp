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

// Success when `got` is BS_STATUS_SUCCESS; otherwise names the status and the last error.
::testing::AssertionResult succeeded(bs_status_t got);

// Clears the last error, evaluates `call` (a bs_status_t expression) and checks it with failed_as.
// Both macros take further context with <<, like EXPECT_TRUE.
#define EXPECT_BS_FAIL(want, function, call) \
  EXPECT_TRUE(::bs_test::failed_as((bs_clear_last_error(), (call)), (want), (function))) << "call: " #call "\n"

#define EXPECT_BS_OK(call) EXPECT_TRUE(::bs_test::succeeded(call)) << "call: " #call "\n"

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
