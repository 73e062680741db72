// bs_core.h under bad input and its error-reporting contract: every status has a name and a
// description, bad enums and NULL outputs are refused with the exact status and a message naming
// the function, outputs stay untouched, and the last error is per thread, kept by successful
// calls, not replaced by bs_get_last_error's own misuse, and cleared on request.
#include <gtest/gtest.h>

#include <climits>
#include <set>
#include <string>
#include <thread>

#include "common/plan.hpp"
#include "common/status_check.hpp"

namespace bs_test {
namespace {

constexpr bs_status_t kStatuses[] = {
    BS_STATUS_SUCCESS,           BS_STATUS_NULL_POINTER,          BS_STATUS_INVALID_VALUE,
    BS_STATUS_SHAPE_MISMATCH,    BS_STATUS_OVERFLOW,              BS_STATUS_INVALID_LAYOUT,
    BS_STATUS_WORKSPACE_TOO_SMALL, BS_STATUS_MISALIGNED_POINTER,  BS_STATUS_STRUCT_SIZE_MISMATCH,
    BS_STATUS_WRONG_BACKEND,     BS_STATUS_WRONG_DEVICE,          BS_STATUS_NOT_SUPPORTED,
    BS_STATUS_BACKEND_UNAVAILABLE, BS_STATUS_ARCH_NOT_SUPPORTED,  BS_STATUS_OUT_OF_MEMORY,
    BS_STATUS_EXECUTION_FAILED,  BS_STATUS_INTERNAL_ERROR};

TEST(CoreStatus, EveryStatusHasADistinctNameAndADescription) {
  std::set<std::string> names;
  for (bs_status_t s : kStatuses) {
    const std::string name = bs_status_name(s), desc = bs_status_description(s);
    EXPECT_EQ(name.rfind("BS_STATUS_", 0), 0u) << name;
    EXPECT_NE(name, "BS_STATUS_UNKNOWN");
    EXPECT_GT(desc.size(), 10u) << name;
    EXPECT_TRUE(names.insert(name).second) << name << " twice";
  }
  for (int v : {-1, 11, 99, 103, 203, 1000, INT_MAX}) {
    EXPECT_STREQ(bs_status_name(static_cast<bs_status_t>(v)), "BS_STATUS_UNKNOWN") << v;
    ASSERT_NE(bs_status_description(static_cast<bs_status_t>(v)), nullptr) << v;
  }
}

TEST(CoreVersion, StringMatchesNumber) {
  const int32_t v = bs_get_version();
  const std::string want =
      std::to_string(v / 10000) + "." + std::to_string(v / 100 % 100) + "." + std::to_string(v % 100);
  EXPECT_EQ(want, bs_get_version_string());
  EXPECT_EQ(v, BS_VERSION_MAJOR * 10000 + BS_VERSION_MINOR * 100 + BS_VERSION_PATCH);
}

TEST(CoreBadInput, DtypeSize) {
  size_t bytes = 99;
  EXPECT_BS_FAIL(BS_STATUS_NULL_POINTER, "bs_dtype_size", bs_dtype_size(BS_DTYPE_F32, nullptr));
  for (int d : {-1, 3, 100, INT_MAX})
    EXPECT_BS_FAIL(BS_STATUS_INVALID_VALUE, "bs_dtype_size", bs_dtype_size(static_cast<bs_dtype_t>(d), &bytes))
        << "dtype " << d;
  EXPECT_EQ(bytes, 99u);
  for (auto [d, n] : {std::pair{BS_DTYPE_F32, size_t{4}}, {BS_DTYPE_F16, size_t{2}}, {BS_DTYPE_BF16, size_t{2}}}) {
    EXPECT_BS_OK(bs_dtype_size(d, &bytes));
    EXPECT_EQ(bytes, n);
  }
}

TEST(CoreBadInput, DeviceCount) {
  int32_t count = -7;
  EXPECT_BS_FAIL(BS_STATUS_NULL_POINTER, "bs_get_device_count", bs_get_device_count(BS_BACKEND_CPU, nullptr));
  EXPECT_BS_FAIL(BS_STATUS_NULL_POINTER, "bs_get_device_count", bs_get_device_count(BS_BACKEND_CUDA, nullptr));
  for (int b : {-1, 2, INT_MAX})
    EXPECT_BS_FAIL(BS_STATUS_INVALID_VALUE, "bs_get_device_count",
                   bs_get_device_count(static_cast<bs_backend_t>(b), &count))
        << "backend " << b;
  EXPECT_EQ(count, -7);
  EXPECT_BS_OK(bs_get_device_count(BS_BACKEND_CUDA, &count));
#if defined(BS_WITH_CUDA)
  EXPECT_GE(count, 0);
#else
  EXPECT_EQ(count, 0) << "a build without CUDA has no CUDA device";
#endif
}

// Makes the calling thread's last error a known failure and returns its message.
std::string fail_once() {
  size_t* null_out = nullptr;
  EXPECT_EQ(bs_dtype_size(BS_DTYPE_F32, null_out), BS_STATUS_NULL_POINTER);
  return last_error();
}

TEST(CoreLastError, MisuseOfGetLastErrorKeepsTheMessage) {
  const std::string msg = fail_once();
  ASSERT_FALSE(msg.empty());
  size_t need = 0;
  EXPECT_EQ(bs_get_last_error(nullptr, 8, &need), BS_STATUS_NULL_POINTER);
  EXPECT_EQ(last_error(), msg);
  EXPECT_EQ(bs_get_last_status(), BS_STATUS_NULL_POINTER);
  // buf_bytes 0 with a NULL buffer is the size query: it writes only msg_bytes.
  EXPECT_EQ(bs_get_last_error(nullptr, 0, &need), BS_STATUS_SUCCESS);
  EXPECT_EQ(need, msg.size() + 1);
  char one = 'x';
  EXPECT_EQ(bs_get_last_error(&one, 1, nullptr), BS_STATUS_SUCCESS);
  EXPECT_EQ(one, '\0');
}

TEST(CoreLastError, SuccessKeepsTheMessageAndClearResetsIt) {
  const std::string msg = fail_once();
  size_t bytes = 0;
  EXPECT_EQ(bs_dtype_size(BS_DTYPE_F16, &bytes), BS_STATUS_SUCCESS);
  EXPECT_EQ(last_error(), msg);
  EXPECT_EQ(bs_get_last_status(), BS_STATUS_NULL_POINTER);
  EXPECT_EQ(bs_clear_last_error(), BS_STATUS_SUCCESS);
  EXPECT_EQ(bs_get_last_status(), BS_STATUS_SUCCESS);
  EXPECT_EQ(last_error(), "");
}

TEST(CoreLastError, IsPerThread) {
  bs_clear_last_error();
  std::string other;
  std::thread t([&] {
    fail_once();
    other = last_error();
  });
  t.join();
  EXPECT_NE(other.find("bs_dtype_size"), std::string::npos) << other;
  EXPECT_EQ(last_error(), "") << "another thread's failure leaked into this thread";
  EXPECT_EQ(bs_get_last_status(), BS_STATUS_SUCCESS);
}

}  // namespace
}  // namespace bs_test
