#pragma once
// Block layouts for the tests: a CB x KB 0/1 mask and its derived forms (block list in the
// library's row-major order, BSR arrays), plus generators for the shapes DESIGN §7 asks for.
#include <array>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace bs_test {

struct Layout {
  int64_t CB = 0, KB = 0;
  std::vector<uint8_t> mask;  // CB*KB, row-major (c, k)

  bool at(int64_t c, int64_t k) const { return mask[static_cast<size_t>(c * KB + k)] != 0; }
  int64_t nnz() const;
  // (c, k) of every block in weight order (row-major in (c, k)).
  std::vector<std::array<int64_t, 2>> blocks() const;
  std::vector<int64_t> row_ptr() const;  // BSR, CB+1 entries
  std::vector<int64_t> col_idx() const;  // BSR, nnz entries
  bool row_empty(int64_t c) const;
  bool col_empty(int64_t k) const;
  std::string str() const;  // "3x4 nnz=7 [1011/0000/...]"
};

Layout full_layout(int64_t CB, int64_t KB);
Layout single_block_layout(int64_t CB, int64_t KB, int64_t c, int64_t k);
Layout diagonal_layout(int64_t n);
// Each block present with probability `density`; at least one block.
Layout random_layout(int64_t CB, int64_t KB, double density, std::mt19937_64& rng);
// Random layout, then input row 0, output column KB-1 and one more of each cleared (keeps >= 1 block).
Layout layout_with_empty_rows_and_columns(int64_t CB, int64_t KB, std::mt19937_64& rng);
// Small-world-like: `dense_cols` output columns connected to every input row, the rest ~10% dense.
Layout skewed_layout(int64_t CB, int64_t KB, int64_t dense_cols, std::mt19937_64& rng);

}  // namespace bs_test
