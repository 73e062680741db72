// Plan memory: the peak host memory that bsmm_create / bsmm_create_bsr allocate stays within the
// bound documented in bsmm.h, for one-block plans with a very wide or very tall layout (the case
// where a table of KB entries dominates) and for random layouts.
//
// The test executable replaces the global operator new/delete (the library's std::vector
// allocations resolve to them through the dynamic linker) and records the peak of the bytes live
// while a plan is created.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>

#include "common/params.hpp"
#include "common/plan.hpp"
#include "common/seed.hpp"

namespace {

std::atomic<int64_t> g_live{0}, g_peak{0};

void* counted_alloc(size_t n) {
  // A header keeps the size for the matching delete (16 bytes: max_align_t alignment).
  void* p = std::malloc(n + 16);
  if (!p) throw std::bad_alloc();
  *static_cast<size_t*>(p) = n;
  const int64_t live = g_live += static_cast<int64_t>(n);
  int64_t peak = g_peak.load();
  while (live > peak && !g_peak.compare_exchange_weak(peak, live)) {
  }
  return static_cast<char*>(p) + 16;
}

void counted_free(void* q) noexcept {
  if (!q) return;
  void* p = static_cast<char*>(q) - 16;
  g_live -= static_cast<int64_t>(*static_cast<size_t*>(p));
  std::free(p);
}

}  // namespace

#define BS_TEST_EXPORT __attribute__((visibility("default")))
BS_TEST_EXPORT void* operator new(size_t n) { return counted_alloc(n); }
BS_TEST_EXPORT void* operator new[](size_t n) { return counted_alloc(n); }
BS_TEST_EXPORT void operator delete(void* p) noexcept { counted_free(p); }
BS_TEST_EXPORT void operator delete[](void* p) noexcept { counted_free(p); }
BS_TEST_EXPORT void operator delete(void* p, size_t) noexcept { counted_free(p); }
BS_TEST_EXPORT void operator delete[](void* p, size_t) noexcept { counted_free(p); }

namespace bs_test {
namespace {

// The bound of bsmm.h ("Plan memory"), in bytes.
int64_t documented_bound(bs_backend_t be, int64_t CB, int64_t KB, int64_t nnz) {
  const int64_t cpu = 8 * (CB + KB + 2) + 48 * nnz + 65536;
  if (be == BS_BACKEND_CPU) return cpu;
  return cpu + 4 * 4 * (350 * nnz + 8 * (CB + KB) + 64);
}

// Peak bytes allocated (above what was live before) while creating a plan of `setup` from BSR.
int64_t peak_of_create(const PlanSetup& setup, int64_t CB, int64_t KB, const std::vector<int64_t>& row_ptr,
                       const std::vector<int64_t>& col_idx) {
  const bsmm_params_t params = setup.params();
  const int64_t before = g_live.load();
  g_peak = before;
  bsmm_plan_t plan = nullptr;
  const bs_status_t st = bsmm_create_bsr(&plan, &params, CB, KB, row_ptr.data(), col_idx.data());
  const int64_t peak = g_peak.load() - before;
  EXPECT_EQ(st, BS_STATUS_SUCCESS) << last_error();
  EXPECT_EQ(bsmm_destroy(plan), BS_STATUS_SUCCESS);
  return peak;
}

class BsmmPlanMemory : public ::testing::TestWithParam<bs_backend_t> {
 protected:
  void SetUp() override {
    BS_SKIP_UNLESS_AVAILABLE(GetParam());
    // One plan first, so one-time runtime state (a CUDA context, kernel attributes) is not counted.
    PlanSetup s;
    s.backend = GetParam();
    const Plan warm = make_plan(s, full_layout(2, 2));
    ASSERT_TRUE(warm);
  }
};

TEST_P(BsmmPlanMemory, OneBlockWideAndTallLayouts) {
  PlanSetup s;
  s.backend = GetParam();
  s.block_size = 8;
  const int64_t big = int64_t{1} << 22;  // 32 MiB per int64 table of `big` entries
  for (const bool wide : {true, false}) {
    const int64_t CB = wide ? 1 : big, KB = wide ? big : 1;
    std::vector<int64_t> row_ptr(static_cast<size_t>(CB) + 1, 1), col_idx{wide ? KB - 1 : 0};
    row_ptr[0] = 0;
    if (!wide)  // the block in the last row
      for (int64_t c = 0; c < CB; ++c) row_ptr[static_cast<size_t>(c)] = 0;
    const int64_t peak = peak_of_create(s, CB, KB, row_ptr, col_idx);
    EXPECT_LE(peak, documented_bound(s.backend, CB, KB, 1)) << (wide ? "CB = 1, KB = 2^22" : "CB = 2^22, KB = 1");
  }
}

TEST_P(BsmmPlanMemory, RandomLayouts) {
  std::mt19937_64 rng = test_rng();
  for (int32_t b : {8, 32}) {
    PlanSetup s;
    s.backend = GetParam();
    s.block_size = b;
    const Layout layout = random_layout(96, 80, 0.3, rng);
    EXPECT_LE(peak_of_create(s, layout.CB, layout.KB, layout.row_ptr(), layout.col_idx()),
              documented_bound(s.backend, layout.CB, layout.KB, layout.nnz()))
        << "b = " << b << ", layout " << layout.str();
  }
}

INSTANTIATE_TEST_SUITE_P(Backend, BsmmPlanMemory, all_backends(), backend_param_name);

}  // namespace
}  // namespace bs_test
