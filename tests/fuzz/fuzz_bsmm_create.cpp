// libFuzzer target: bsmm_create from a fuzzed dense layout and fuzzed parameters (sizes up to
// overflowing ones). A plan is accepted exactly when the layout is a valid 0/1 mask with a block,
// and then reports the layout back unchanged, in row-major block order; a refused call leaves the
// plan pointer untouched and sets a message.
#include <blocksparse/blocksparse.h>

#include <limits>

#include "fuzz_common.hpp"

using bs_fuzz::check_failure_has_message;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  bsmm_params_t p;
  BSMM_PARAMS_INIT(&p);
  static const int32_t kBlockSizes[] = {8, 16, 32, 64, 128, 0, 7, -32, 256};
  const bool raw_params = in.ConsumeBool();  // else only valid values
  p.block_size = kBlockSizes[in.ConsumeIntegralInRange<size_t>(0, raw_params ? 8 : 4)];
  p.feature_axis = raw_params ? in.ConsumeIntegral<int32_t>() : in.ConsumeIntegralInRange<int32_t>(0, 1);
  p.dtype = raw_params ? in.ConsumeIntegralInRange<int32_t>(-1, 4) : in.ConsumeIntegralInRange<int32_t>(0, 2);
  p.math_mode = raw_params ? in.ConsumeIntegralInRange<int32_t>(-1, 3) : 0;
  p.num_threads = raw_params ? in.ConsumeIntegralInRange<int32_t>(-2, 3) : in.ConsumeIntegralInRange<int32_t>(0, 2);
  p.device = raw_params ? in.ConsumeIntegralInRange<int32_t>(-1, 1) : 0;
  if (raw_params && in.ConsumeBool()) p.backend = in.ConsumeIntegralInRange<int32_t>(-1, 3);

  bsmm_plan_t plan = reinterpret_cast<bsmm_plan_t>(&p);  // a sentinel: must survive a failure
  const bsmm_plan_t sentinel = plan;
  if (in.ConsumeIntegralInRange<int>(0, 15) == 0) {
    // Shapes whose CB*KB overflows int64: refused before the layout is read (a 1-byte buffer).
    const int64_t CB = in.ConsumeIntegralInRange<int64_t>(int64_t{1} << 32, std::numeric_limits<int64_t>::max());
    const int64_t KB = in.ConsumeIntegralInRange<int64_t>(int64_t{1} << 32, std::numeric_limits<int64_t>::max());
    const uint8_t one = 1;
    const bs_status_t st = bsmm_create(&plan, &p, &one, CB, KB);
    FUZZ_CHECK(st != BS_STATUS_SUCCESS, "CB=%lld KB=%lld accepted", (long long)CB, (long long)KB);
    FUZZ_CHECK(plan == sentinel, "plan written on failure");
    check_failure_has_message(st);
    return 0;
  }
  const int64_t CB = in.ConsumeIntegralInRange<int64_t>(raw_params ? -1 : 1, 24);
  const int64_t KB = in.ConsumeIntegralInRange<int64_t>(raw_params ? -1 : 1, 24);
  const size_t cells = CB > 0 && KB > 0 ? static_cast<size_t>(CB * KB) : 0;
  std::vector<uint8_t> layout(cells + 1);
  const bool raw_bytes = in.ConsumeIntegralInRange<int>(0, 7) == 0;  // else 0/1 only
  for (size_t i = 0; i < cells; ++i) layout[i] = raw_bytes ? in.ConsumeIntegral<uint8_t>() : in.ConsumeBool();

  bool mask_valid = cells > 0, any = false;
  for (size_t i = 0; i < cells; ++i) {
    mask_valid = mask_valid && layout[i] <= 1;
    any = any || layout[i] == 1;
  }
  mask_valid = mask_valid && any;

  const bs_status_t st = bsmm_create(&plan, &p, layout.data(), CB, KB);
  if (st != BS_STATUS_SUCCESS) {
    FUZZ_CHECK(plan == sentinel, "plan written on failure");
    check_failure_has_message(st);
    FUZZ_CHECK(raw_params || !mask_valid, "valid parameters and layout refused: %s", bs_status_name(st));
    return 0;
  }
  FUZZ_CHECK(mask_valid, "an invalid layout was accepted");
  int64_t nnz = 0, cb = 0, kb = 0, bsz = 0;
  FUZZ_CHECK(bsmm_get_attr(plan, BSMM_ATTR_NNZ_BLOCKS, &nnz) == BS_STATUS_SUCCESS, "nnz");
  FUZZ_CHECK(bsmm_get_attr(plan, BSMM_ATTR_CB, &cb) == BS_STATUS_SUCCESS && cb == CB, "CB");
  FUZZ_CHECK(bsmm_get_attr(plan, BSMM_ATTR_KB, &kb) == BS_STATUS_SUCCESS && kb == KB, "KB");
  FUZZ_CHECK(bsmm_get_attr(plan, BSMM_ATTR_BLOCK_SIZE, &bsz) == BS_STATUS_SUCCESS && bsz == p.block_size, "b");
  // Blocks in row-major (c, k) order, and the layout read back unchanged.
  int64_t i = 0;
  for (int64_t c = 0; c < CB; ++c)
    for (int64_t k = 0; k < KB; ++k) {
      if (!layout[static_cast<size_t>(c * KB + k)]) continue;
      int64_t bc = -1, bk = -1;
      FUZZ_CHECK(bsmm_block_coord(plan, i, &bc, &bk) == BS_STATUS_SUCCESS && bc == c && bk == k,
                 "block %lld at (%lld, %lld), expected (%lld, %lld)", (long long)i, (long long)bc, (long long)bk,
                 (long long)c, (long long)k);
      ++i;
    }
  FUZZ_CHECK(i == nnz, "nnz %lld, layout has %lld", (long long)nnz, (long long)i);
  int64_t bc = 0, bk = 0;
  FUZZ_CHECK(bsmm_block_coord(plan, nnz, &bc, &bk) != BS_STATUS_SUCCESS, "block_coord past nnz accepted");
  std::vector<uint8_t> back(cells + 1, 0xee);
  FUZZ_CHECK(bsmm_get_layout(plan, back.data(), CB * KB) == BS_STATUS_SUCCESS, "get_layout");
  FUZZ_CHECK(std::memcmp(back.data(), layout.data(), cells) == 0 && back[cells] == 0xee, "layout read back differs");
  FUZZ_CHECK(bsmm_destroy(plan) == BS_STATUS_SUCCESS, "destroy");
  return 0;
}
