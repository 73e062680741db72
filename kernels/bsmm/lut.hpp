#pragma once
// Host-side construction of the CUDA backend's lookup tables (all int32, uploaded once per plan).
#include <cstdint>
#include <vector>

#include "layout/bsmm_layout.hpp"

namespace bs {
namespace cuda {

// Stripes of S consecutive output blocks (fprop: columns k of the layout; bprop: rows c). For
// stripe s, records ptr[s] .. ptr[s+1]-1 of 1 + S ints: {in_block, blk[0..S-1]}, sorted by
// in_block, blk[j] = weight block feeding stripe column j from in_block, or -1.
struct XpropLut {
  std::vector<int32_t> ptr;
  std::vector<int32_t> recs;
  int32_t stripes = 0;
};
XpropLut xprop_lut(const BsmmLayout& layout, bool bprop, int S);

// Super-blocks of updat: R consecutive input blocks x up to G output blocks from the union of
// their columns. Records of R + G + R*G ints: {rows[R], cols[G], blk[r*G + g]}, -1 = absent.
struct UpdatLut {
  std::vector<int32_t> recs;
  int32_t tiles = 0;
};
UpdatLut updat_lut(const BsmmLayout& layout, int R, int G);

// Per-output-block lists of the sm_90a kernel (wg.cuh), one CTA per (output block, token tile).
// cols: 4 ints per output block {out_block, first entry, entry count, 0}, longest lists first (the
// longest CTAs start in the first wave, the short ones fill the tail). entries: 2 ints
// {in_block, weight block id}, sorted by in_block within an output block.
struct WgLut {
  std::vector<int32_t> cols;
  std::vector<int32_t> entries;
  int32_t n_cols = 0;
};
WgLut wg_lut(const BsmmLayout& layout, bool bprop);

// Work of the sm_90a updat kernel (wg_updat.hpp), block size b. A segment is min(b, 64) rows of a weight block:
// {first x feature, segment id}, the rows landing at dW element id·min(b, 64)·b. A unit is 64 / min(b,
// 64) segments of one layout column; a column's units are split evenly over ceil(units / U) CTAs.
// segs: U units per CTA, padding segments {-1, -1}; cta_cols: each CTA's layout column.
struct WgUpdatLut {
  std::vector<int32_t> cta_cols;
  std::vector<int32_t> segs;
  int32_t n_ctas = 0;
};
WgUpdatLut wg_updat_lut(const BsmmLayout& layout, int b, int U);

}  // namespace cuda
}  // namespace bs
