#include "common/seed.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <functional>

namespace bs_test {
namespace {

uint64_t read_seed() {
  if (const char* env = std::getenv("BS_TEST_SEED"); env && *env) {
    char* end = nullptr;
    const unsigned long long v = std::strtoull(env, &end, 0);
    if (end && *end == '\0') return v;
    std::fprintf(stderr, "BS_TEST_SEED=%s is not an integer; using a random seed\n", env);
  }
  std::random_device rd;
  return (static_cast<uint64_t>(rd()) << 32) ^ rd();
}

// Prints the seed after every failed assertion (so it sits next to the failure in the log).
class SeedPrinter : public ::testing::EmptyTestEventListener {
  void OnTestPartResult(const ::testing::TestPartResult& result) override {
    if (result.failed()) std::printf("  (reproduce with %s)\n", seed_text().c_str());
  }
  void OnTestProgramStart(const ::testing::UnitTest&) override {
    std::printf("Random inputs from %s\n", seed_text().c_str());
  }
};

// Registered before main() runs; this object file is linked into every test (object library).
const bool kSeedPrinterRegistered = [] {
  ::testing::UnitTest::GetInstance()->listeners().Append(new SeedPrinter);
  return true;
}();

}  // namespace

uint64_t run_seed() {
  static const uint64_t seed = read_seed();
  return seed;
}

std::string seed_text() { return "BS_TEST_SEED=" + std::to_string(run_seed()); }

std::mt19937_64 test_rng(uint64_t salt) {
  std::string name = "no test";
  if (const ::testing::TestInfo* info = ::testing::UnitTest::GetInstance()->current_test_info())
    name = std::string(info->test_suite_name()) + "." + info->name();
  const uint64_t h = std::hash<std::string>{}(name);
  std::seed_seq seq{static_cast<uint32_t>(run_seed()), static_cast<uint32_t>(run_seed() >> 32),
                    static_cast<uint32_t>(h), static_cast<uint32_t>(h >> 32), static_cast<uint32_t>(salt),
                    static_cast<uint32_t>(salt >> 32)};
  return std::mt19937_64(seq);
}

}  // namespace bs_test
