// Library-wide functions: versions, build info, statuses, last error.
#include <blocksparse/blocksparse.h>
#include <gtest/gtest.h>

#include <string>

TEST(Core, VersionMatchesHeaders) {
  EXPECT_EQ(bs_get_version(), BS_VERSION);
  EXPECT_STREQ(bs_get_version_string(), BS_VERSION_STRING);
  const std::string info = bs_get_build_info();
  EXPECT_NE(info.find("version=" BS_VERSION_STRING), std::string::npos);
  EXPECT_NE(info.find("backends=cpu"), std::string::npos);
}

TEST(Core, StatusNames) {
  EXPECT_STREQ(bs_status_name(BS_STATUS_SUCCESS), "BS_STATUS_SUCCESS");
  EXPECT_STREQ(bs_status_name(BS_STATUS_SHAPE_MISMATCH), "BS_STATUS_SHAPE_MISMATCH");
  EXPECT_STREQ(bs_status_name(static_cast<bs_status_t>(12345)), "BS_STATUS_UNKNOWN");
  EXPECT_GT(std::string(bs_status_description(BS_STATUS_OVERFLOW)).size(), 10u);
}

TEST(Core, LastErrorIsPerCallAndTruncates) {
  bs_clear_last_error();
  size_t need = 0;
  ASSERT_EQ(bs_get_last_error(nullptr, 0, &need), BS_STATUS_SUCCESS);
  EXPECT_EQ(need, 1u);
  EXPECT_EQ(bs_dtype_size(static_cast<bs_dtype_t>(7), nullptr), BS_STATUS_NULL_POINTER);
  EXPECT_EQ(bs_get_last_status(), BS_STATUS_NULL_POINTER);
  char buf[256];
  ASSERT_EQ(bs_get_last_error(buf, sizeof buf, &need), BS_STATUS_SUCCESS);
  EXPECT_NE(std::string(buf).find("bs_dtype_size"), std::string::npos);
  EXPECT_EQ(need, std::string(buf).size() + 1);
  char small[5];
  ASSERT_EQ(bs_get_last_error(small, sizeof small, nullptr), BS_STATUS_SUCCESS);
  EXPECT_EQ(std::string(small), std::string(buf).substr(0, 4));
  EXPECT_EQ(bs_get_last_error(nullptr, 4, nullptr), BS_STATUS_NULL_POINTER);
}

TEST(Core, DtypeSizeAndDeviceCount) {
  size_t bytes = 0;
  EXPECT_EQ(bs_dtype_size(BS_DTYPE_BF16, &bytes), BS_STATUS_SUCCESS);
  EXPECT_EQ(bytes, 2u);
  EXPECT_EQ(bs_dtype_size(static_cast<bs_dtype_t>(9), &bytes), BS_STATUS_INVALID_VALUE);
  int32_t count = -1;
  EXPECT_EQ(bs_get_device_count(BS_BACKEND_CPU, &count), BS_STATUS_SUCCESS);
  EXPECT_EQ(count, 1);
  EXPECT_EQ(bs_get_device_count(BS_BACKEND_CUDA, &count), BS_STATUS_SUCCESS);
  EXPECT_GE(count, 0);
  EXPECT_EQ(bs_get_device_count(static_cast<bs_backend_t>(5), &count), BS_STATUS_INVALID_VALUE);
}
