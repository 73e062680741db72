#pragma once
// Host-side construction of the small-N path's tables (small.hpp): output blocks' weight-block
// lists cut into chunks of near-equal length.
#include <cstdint>
#include <vector>

#include "layout/bsmm_layout.hpp"

namespace bs {
namespace cuda {

// For each output block o (fprop: layout columns k, BSC order; bprop: rows c, BSR order), its list
// of weight blocks is cut into ceil(len / L) chunks of near-equal length, L = ceil(nnz /
// target_chunks) rounded up to a multiple of recs_per_stage and at most kSmallMaxRecs. Each chunk
// is padded with {-1, -1} records to a multiple of recs_per_stage. Chunks of o are numbered
// ptr[o] .. ptr[o+1]-1 (output blocks with an empty list get none).
struct SmallLut {
  std::vector<int32_t> chunks;  // {first record, record count} per chunk
  std::vector<int32_t> recs;    // {input block, weight block id} per record
  std::vector<int32_t> ptr;     // out_blocks + 1
  int64_t n_chunks = 0;
};
SmallLut small_lut(const BsmmLayout& layout, bool bprop, int recs_per_stage, int64_t target_chunks);

}  // namespace cuda
}  // namespace bs
