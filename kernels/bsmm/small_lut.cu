#include "kernels/bsmm/small_lut.hpp"

#include <algorithm>
#include <limits>

#include "core/error.hpp"
#include "kernels/bsmm/small.hpp"

namespace bs {
namespace cuda {

SmallLut small_lut(const BsmmLayout& l, bool bprop, int rps, int64_t target_chunks) {
  const int64_t out_blocks = bprop ? l.CB : l.KB;
  const auto round_up = [rps](int64_t v) { return (v + rps - 1) / rps * rps; };
  const int64_t want = (l.nnz + std::max<int64_t>(1, target_chunks) - 1) / std::max<int64_t>(1, target_chunks);
  // kSmallMaxRecs is a multiple of every recs_per_stage (1, 2 or 4), so L stays a multiple of it.
  const int64_t L = std::min<int64_t>(kSmallMaxRecs, round_up(std::max<int64_t>(1, want)));
  SmallLut lut;
  lut.ptr.reserve(static_cast<size_t>(out_blocks + 1));
  lut.ptr.push_back(0);
  for (int64_t o = 0; o < out_blocks; ++o) {
    const int64_t begin = bprop ? l.row_ptr[o] : l.col_ptr[o];
    const int64_t len = (bprop ? l.row_ptr[o + 1] : l.col_ptr[o + 1]) - begin;
    if (len > 0) {
      const int64_t count = (len + L - 1) / L;                       // chunks of this list
      const int64_t size = round_up((len + count - 1) / count);     // <= L: near-equal lengths
      for (int64_t s0 = 0; s0 < len; s0 += size) {
        const int64_t n = std::min(size, len - s0);
        const int64_t first = static_cast<int64_t>(lut.recs.size() / 2);
        if (first + round_up(n) > std::numeric_limits<int32_t>::max())
          fail(BS_STATUS_NOT_SUPPORTED, "the CUDA backend's small-N tables index records with 32-bit integers");
        lut.chunks.push_back(static_cast<int32_t>(first));
        lut.chunks.push_back(static_cast<int32_t>(round_up(n)));
        for (int64_t e = begin + s0; e < begin + s0 + n; ++e) {
          lut.recs.push_back(static_cast<int32_t>(bprop ? l.row_cols[e] : l.col_rows[e]));
          lut.recs.push_back(static_cast<int32_t>(bprop ? e : l.col_blocks[e]));
        }
        for (int64_t pad = n; pad < round_up(n); ++pad) lut.recs.push_back(-1), lut.recs.push_back(-1);
        ++lut.n_chunks;
      }
    }
    lut.ptr.push_back(static_cast<int32_t>(lut.n_chunks));
  }
  return lut;
}

}  // namespace cuda
}  // namespace bs
