#include "layout/bsmm_layout.hpp"

#include "core/checks.hpp"

namespace bs {
namespace {

void check_dims(int64_t CB, int64_t KB) {
  if (CB < 1) fail(BS_STATUS_INVALID_VALUE, "CB must be >= 1 (got ", CB, ")");
  if (KB < 1) fail(BS_STATUS_INVALID_VALUE, "KB must be >= 1 (got ", KB, ")");
  checked_mul(CB, KB, "CB*KB");
}

}  // namespace

BsmmLayout BsmmLayout::from_dense(const uint8_t* mask, int64_t CB, int64_t KB) {
  check_not_null(mask, "layout");
  check_dims(CB, KB);
  BsmmLayout l;
  l.CB = CB;
  l.KB = KB;
  l.row_ptr.assign(static_cast<size_t>(CB) + 1, 0);
  // Exact capacities (no growth slack): the plan memory bound of bsmm.h.
  int64_t ones = 0;
  for (int64_t i = 0; i < CB * KB; ++i) ones += mask[i] != 0;
  l.row_cols.reserve(static_cast<size_t>(ones));
  l.block_rows.reserve(static_cast<size_t>(ones));
  for (int64_t c = 0; c < CB; ++c) {
    for (int64_t k = 0; k < KB; ++k) {
      const uint8_t v = mask[c * KB + k];
      if (v > 1)
        fail(BS_STATUS_INVALID_LAYOUT, "layout[", c, "][", k, "] is ", static_cast<int>(v), "; values must be 0 or 1");
      if (v) {
        l.row_cols.push_back(k);
        l.block_rows.push_back(c);
      }
    }
    l.row_ptr[c + 1] = static_cast<int64_t>(l.row_cols.size());
  }
  l.nnz = static_cast<int64_t>(l.row_cols.size());
  if (l.nnz == 0) fail(BS_STATUS_INVALID_LAYOUT, "layout has no nonzero block");
  l.build_columns();
  return l;
}

BsmmLayout BsmmLayout::from_bsr(int64_t CB, int64_t KB, const int64_t* row_ptr, const int64_t* col_idx) {
  check_not_null(row_ptr, "row_ptr");
  check_not_null(col_idx, "col_idx");
  check_dims(CB, KB);
  if (row_ptr[0] != 0) fail(BS_STATUS_INVALID_LAYOUT, "row_ptr[0] must be 0 (got ", row_ptr[0], ")");
  for (int64_t c = 0; c < CB; ++c)
    if (row_ptr[c + 1] < row_ptr[c])
      fail(BS_STATUS_INVALID_LAYOUT, "row_ptr decreases at row ", c, " (", row_ptr[c], " > ", row_ptr[c + 1], ")");
  const int64_t nnz = row_ptr[CB];
  if (nnz < 1) fail(BS_STATUS_INVALID_LAYOUT, "layout has no nonzero block (row_ptr[CB] = 0)");
  if (nnz > checked_mul(CB, KB, "CB*KB"))
    fail(BS_STATUS_INVALID_LAYOUT, "row_ptr[CB] = ", nnz, " exceeds CB*KB");
  BsmmLayout l;
  l.CB = CB;
  l.KB = KB;
  l.nnz = nnz;
  l.row_ptr.assign(row_ptr, row_ptr + CB + 1);
  l.row_cols.resize(static_cast<size_t>(nnz));
  l.block_rows.resize(static_cast<size_t>(nnz));
  for (int64_t c = 0; c < CB; ++c) {
    for (int64_t i = row_ptr[c]; i < row_ptr[c + 1]; ++i) {
      const int64_t k = col_idx[i];
      if (k < 0 || k >= KB) fail(BS_STATUS_INVALID_LAYOUT, "col_idx[", i, "] = ", k, " is outside [0, ", KB, ")");
      if (i > row_ptr[c] && k <= col_idx[i - 1])
        fail(BS_STATUS_INVALID_LAYOUT, "col_idx of row ", c, " must be strictly increasing (col_idx[", i - 1,
             "] = ", col_idx[i - 1], ", col_idx[", i, "] = ", k, ")");
      l.row_cols[i] = k;
      l.block_rows[i] = c;
    }
  }
  l.build_columns();
  return l;
}

// Counting sort of the blocks by column, in place: col_ptr[k + 1] first counts column k's blocks,
// then (prefix sums shifted by one) serves as column k's fill cursor, which ends at column k+1's
// start. No temporary of KB entries: the plan's peak memory is its final tables (bsmm.h bound).
void BsmmLayout::build_columns() {
  col_ptr.assign(static_cast<size_t>(KB) + 1, 0);
  for (int64_t i = 0; i < nnz; ++i) ++col_ptr[row_cols[i] + 1];
  int64_t start = 0;  // exclusive prefix sum into col_ptr[k + 1]: column k's first entry
  for (int64_t k = 0; k < KB; ++k) {
    const int64_t count = col_ptr[k + 1];
    col_ptr[k + 1] = start;
    start += count;
  }
  col_rows.resize(static_cast<size_t>(nnz));
  col_blocks.resize(static_cast<size_t>(nnz));
  // Row-major traversal keeps each column's entries in increasing c: a fixed summation order.
  for (int64_t i = 0; i < nnz; ++i) {
    const int64_t j = col_ptr[row_cols[i] + 1]++;
    col_rows[j] = block_rows[i];
    col_blocks[j] = i;
  }
}

}  // namespace bs
