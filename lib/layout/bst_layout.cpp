// Validation of bst layouts and construction of their lookup tables (see bst_layout.hpp).
#include "layout/bst_layout.hpp"

#include <algorithm>
#include <cstring>
#include <numeric>

#include "core/checks.hpp"

namespace bs {
namespace {

// Rows ordered by length, longest first; stable, so equal rows keep their (head, block) order.
std::vector<int64_t> longest_first(int64_t H, int64_t n, const BstLayout& l, const std::vector<int64_t>& ptr) {
  std::vector<int64_t> order(static_cast<size_t>(H * n));
  std::iota(order.begin(), order.end(), int64_t{0});
  auto len = [&](int64_t e) {
    const int64_t r = l.layout_head(e / n) * n + e % n;
    return ptr[static_cast<size_t>(r + 1)] - ptr[static_cast<size_t>(r)];
  };
  std::stable_sort(order.begin(), order.end(), [&](int64_t x, int64_t y) { return len(x) > len(y); });
  return order;
}

}  // namespace

BstLayout BstLayout::from_dense(const uint8_t* layout, int64_t H, int64_t layout_heads, int64_t QB, int64_t KB,
                                int64_t b) {
  check_not_null(layout, "layout");
  BstLayout l;
  l.H = H;
  l.layout_heads = layout_heads;
  l.QB = QB;
  l.KB = KB;
  l.b = b;
  std::vector<std::vector<int32_t>> rows(static_cast<size_t>(layout_heads * QB));
  for (int64_t r = 0; r < layout_heads * QB; ++r) {
    for (int64_t j = 0; j < KB; ++j) {
      const uint8_t v = layout[r * KB + j];
      if (v > 1)
        fail(BS_STATUS_INVALID_LAYOUT, "layout[", r / QB, "][", r % QB, "][", j, "] is ", int{v},
             "; values must be 0 or 1");
      if (v) rows[static_cast<size_t>(r)].push_back(static_cast<int32_t>(j));
    }
  }
  l.build(std::move(rows));
  return l;
}

BstLayout BstLayout::from_kv_blocks(const int32_t* kv_num_blocks, const int32_t* kv_indices, int64_t stride,
                                    int64_t H, int64_t layout_heads, int64_t QB, int64_t KB, int64_t b) {
  check_not_null(kv_num_blocks, "kv_num_blocks");
  check_not_null(kv_indices, "kv_indices");
  if (stride < 1) fail(BS_STATUS_INVALID_VALUE, "kv_indices_stride must be >= 1 (got ", stride, ")");
  checked_mul(checked_mul(layout_heads, QB, "layout_heads*QB"), stride, "layout_heads*QB*kv_indices_stride");
  BstLayout l;
  l.H = H;
  l.layout_heads = layout_heads;
  l.QB = QB;
  l.KB = KB;
  l.b = b;
  std::vector<std::vector<int32_t>> rows(static_cast<size_t>(layout_heads * QB));
  std::vector<uint8_t> seen(static_cast<size_t>(KB));
  for (int64_t r = 0; r < layout_heads * QB; ++r) {
    const int32_t count = kv_num_blocks[r];
    if (count < 0 || count > KB || count > stride)
      fail(BS_STATUS_INVALID_LAYOUT, "kv_num_blocks[", r / QB, "][", r % QB, "] is ", count, "; it must be in [0, ",
           std::min<int64_t>(KB, stride), "] (KB = ", KB, ", kv_indices_stride = ", stride, ")");
    std::fill(seen.begin(), seen.end(), uint8_t{0});
    auto& row = rows[static_cast<size_t>(r)];
    for (int32_t e = 0; e < count; ++e) {
      const int32_t j = kv_indices[r * stride + e];
      if (j < 0 || j >= KB)
        fail(BS_STATUS_INVALID_LAYOUT, "kv_indices[", r / QB, "][", r % QB, "][", e, "] is ", j,
             "; key blocks are in [0, ", KB, ")");
      if (seen[static_cast<size_t>(j)])
        fail(BS_STATUS_INVALID_LAYOUT, "kv_indices[", r / QB, "][", r % QB, "] lists key block ", j, " twice");
      seen[static_cast<size_t>(j)] = 1;
      row.push_back(j);
    }
    std::sort(row.begin(), row.end());
  }
  l.build(std::move(rows));
  return l;
}

void BstLayout::build(std::vector<std::vector<int32_t>> rows) {
  const int64_t n_rows = layout_heads * QB;
  row_ptr.assign(static_cast<size_t>(n_rows + 1), 0);
  for (int64_t r = 0; r < n_rows; ++r) {
    const auto& row = rows[static_cast<size_t>(r)];
    row_ptr[static_cast<size_t>(r + 1)] = row_ptr[static_cast<size_t>(r)] + static_cast<int64_t>(row.size());
    max_row = std::max<int64_t>(max_row, static_cast<int64_t>(row.size()));
    for (int32_t j : row) {
      col_of.push_back(j);
      row_of.push_back(static_cast<int32_t>(r % QB));
    }
  }
  layout_blocks = row_ptr.back();
  if (layout_blocks == 0) fail(BS_STATUS_INVALID_LAYOUT, "the layout has no block");

  // Columns: counting sort of the blocks by (layout head, key block); rows stay ascending.
  col_ptr.assign(static_cast<size_t>(layout_heads * KB + 1), 0);
  std::vector<int64_t> head_of(static_cast<size_t>(layout_blocks));
  for (int64_t lh = 0; lh < layout_heads; ++lh)
    for (int64_t g = first_block(lh); g < row_ptr[static_cast<size_t>((lh + 1) * QB)]; ++g)
      head_of[static_cast<size_t>(g)] = lh;
  for (int64_t g = 0; g < layout_blocks; ++g)
    ++col_ptr[static_cast<size_t>(head_of[static_cast<size_t>(g)] * KB + col_of[static_cast<size_t>(g)] + 1)];
  for (size_t c = 1; c < col_ptr.size(); ++c) {
    max_col = std::max(max_col, col_ptr[c]);
    col_ptr[c] += col_ptr[c - 1];
  }
  col_row.assign(static_cast<size_t>(layout_blocks), 0);
  col_block.assign(static_cast<size_t>(layout_blocks), 0);
  std::vector<int64_t> fill(col_ptr.begin(), col_ptr.end() - 1);
  for (int64_t g = 0; g < layout_blocks; ++g) {
    const size_t c = static_cast<size_t>(head_of[static_cast<size_t>(g)] * KB + col_of[static_cast<size_t>(g)]);
    const int64_t e = fill[c]++;
    col_row[static_cast<size_t>(e)] = row_of[static_cast<size_t>(g)];
    col_block[static_cast<size_t>(e)] = g;
  }

  head_base.assign(static_cast<size_t>(H + 1), 0);
  for (int64_t h = 0; h < H; ++h) {
    const int64_t lh = layout_head(h);
    const int64_t n = row_ptr[static_cast<size_t>((lh + 1) * QB)] - first_block(lh);
    head_base[static_cast<size_t>(h + 1)] = head_base[static_cast<size_t>(h)] + n;  // <= H*QB*KB, checked by the caller
  }
  score_blocks = head_base.back();
}

void BstLayout::set_masks(const uint8_t* block_masks) {
  if (!block_masks) return;
  const size_t bytes = static_cast<size_t>(layout_blocks * b * mask_row_bytes());
  masks.assign(block_masks, block_masks + bytes);
}

std::vector<int64_t> BstLayout::rows_longest_first() const { return longest_first(H, QB, *this, row_ptr); }
std::vector<int64_t> BstLayout::cols_longest_first() const { return longest_first(H, KB, *this, col_ptr); }

}  // namespace bs
