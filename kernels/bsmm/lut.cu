#include "kernels/bsmm/lut.hpp"

#include <algorithm>
#include <map>

namespace bs {
namespace cuda {

XpropLut xprop_lut(const BsmmLayout& l, bool bprop, int S) {
  const int64_t out_blocks = bprop ? l.CB : l.KB;
  XpropLut lut;
  lut.stripes = static_cast<int32_t>((out_blocks + S - 1) / S);
  lut.ptr.push_back(0);
  for (int64_t s = 0; s < lut.stripes; ++s) {
    std::map<int64_t, std::vector<int32_t>> by_in;  // in_block -> blk per stripe column
    for (int j = 0; j < S; ++j) {
      const int64_t ob = s * S + j;
      if (ob >= out_blocks) break;
      const int64_t begin = bprop ? l.row_ptr[ob] : l.col_ptr[ob];
      const int64_t end = bprop ? l.row_ptr[ob + 1] : l.col_ptr[ob + 1];
      for (int64_t e = begin; e < end; ++e) {
        const int64_t in = bprop ? l.row_cols[e] : l.col_rows[e];
        const int64_t blk = bprop ? e : l.col_blocks[e];
        auto& v = by_in[in];
        if (v.empty()) v.assign(static_cast<size_t>(S), -1);
        v[static_cast<size_t>(j)] = static_cast<int32_t>(blk);
      }
    }
    for (const auto& kv : by_in) {
      lut.recs.push_back(static_cast<int32_t>(kv.first));
      lut.recs.insert(lut.recs.end(), kv.second.begin(), kv.second.end());
    }
    lut.ptr.push_back(static_cast<int32_t>(lut.recs.size() / static_cast<size_t>(1 + S)));
  }
  return lut;
}

WgLut wg_lut(const BsmmLayout& l, bool bprop) {
  const int64_t out_blocks = bprop ? l.CB : l.KB;
  WgLut lut;
  lut.n_cols = static_cast<int32_t>(out_blocks);
  std::vector<int32_t> order(static_cast<size_t>(out_blocks));
  for (int64_t o = 0; o < out_blocks; ++o) order[static_cast<size_t>(o)] = static_cast<int32_t>(o);
  const auto count = [&](int64_t o) { return bprop ? l.row_nnz(o) : l.col_nnz(o); };
  std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return count(a) > count(b); });
  for (const int32_t o : order) {
    const int64_t begin = bprop ? l.row_ptr[o] : l.col_ptr[o];
    const int64_t end = bprop ? l.row_ptr[o + 1] : l.col_ptr[o + 1];
    lut.cols.insert(lut.cols.end(), {o, static_cast<int32_t>(lut.entries.size() / 2), static_cast<int32_t>(end - begin), 0});
    for (int64_t e = begin; e < end; ++e) {
      lut.entries.push_back(static_cast<int32_t>(bprop ? l.row_cols[e] : l.col_rows[e]));
      lut.entries.push_back(static_cast<int32_t>(bprop ? e : l.col_blocks[e]));
    }
  }
  return lut;
}

UpdatLut updat_lut(const BsmmLayout& l, int R, int G) {
  UpdatLut lut;
  for (int64_t c0 = 0; c0 < l.CB; c0 += R) {
    std::map<int64_t, std::vector<int32_t>> by_col;  // output block -> blk per row of the super-row
    for (int r = 0; r < R && c0 + r < l.CB; ++r)
      for (int64_t i = l.row_ptr[c0 + r]; i < l.row_ptr[c0 + r + 1]; ++i) {
        auto& v = by_col[l.row_cols[i]];
        if (v.empty()) v.assign(static_cast<size_t>(R), -1);
        v[static_cast<size_t>(r)] = static_cast<int32_t>(i);
      }
    std::vector<std::pair<int64_t, std::vector<int32_t>>> cols(by_col.begin(), by_col.end());
    for (size_t g0 = 0; g0 < cols.size(); g0 += static_cast<size_t>(G)) {
      const size_t base = lut.recs.size();
      lut.recs.resize(base + static_cast<size_t>(R + G + R * G), -1);
      for (int r = 0; r < R; ++r)
        if (c0 + r < l.CB) lut.recs[base + static_cast<size_t>(r)] = static_cast<int32_t>(c0 + r);
      for (int g = 0; g < G && g0 + static_cast<size_t>(g) < cols.size(); ++g) {
        const auto& col = cols[g0 + static_cast<size_t>(g)];
        lut.recs[base + static_cast<size_t>(R + g)] = static_cast<int32_t>(col.first);
        for (int r = 0; r < R; ++r) lut.recs[base + static_cast<size_t>(R + G + r * G + g)] = col.second[static_cast<size_t>(r)];
      }
      ++lut.tiles;
    }
  }
  return lut;
}

WgUpdatLut wg_updat_lut(const BsmmLayout& l, int b, int U) {
  const int ka = std::min(b, 64), per_unit = 64 / ka, halves = b / ka;
  WgUpdatLut lut;
  std::vector<int32_t> col;  // segments of one column, 2 ints each
  for (int64_t k = 0; k < l.KB; ++k) {
    col.clear();
    for (int64_t e = l.col_ptr[k]; e < l.col_ptr[k + 1]; ++e)
      for (int h = 0; h < halves; ++h)
        col.insert(col.end(), {static_cast<int32_t>(l.col_rows[e] * b + h * ka), static_cast<int32_t>(l.col_blocks[e] * halves + h)});
    const int64_t segs = static_cast<int64_t>(col.size() / 2), units = (segs + per_unit - 1) / per_unit;
    const int64_t ctas = (units + U - 1) / U;
    for (int64_t j = 0; j < ctas; ++j) {
      const int64_t u0 = j * units / ctas, u1 = (j + 1) * units / ctas;  // even split of the column's units
      const size_t base = lut.segs.size();
      lut.segs.resize(base + static_cast<size_t>(2 * U * per_unit), -1);
      const int64_t s0 = u0 * per_unit, s1 = std::min(segs, u1 * per_unit);
      std::copy(col.begin() + 2 * s0, col.begin() + 2 * s1, lut.segs.begin() + static_cast<int64_t>(base));
      lut.cta_cols.push_back(static_cast<int32_t>(k));
    }
  }
  lut.n_ctas = static_cast<int32_t>(lut.cta_cols.size());
  return lut;
}

}  // namespace cuda
}  // namespace bs
