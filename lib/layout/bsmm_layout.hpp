#pragma once
// A validated bsmm layout and the lookup tables every backend derives its plans from.
//
// Blocks are numbered in row-major (c, k) order, i.e. BSR order; that number is the block's index
// in the weight tensor. Two compressed views index them:
//  - by input block row c   (BSR):  row_ptr[CB+1], row_cols[nnz]          (block id = position)
//  - by output block col k  (BSC):  col_ptr[KB+1], col_rows[nnz], col_blocks[nnz]
// fprop accumulates output column k from its BSC list; bprop accumulates input row c from its BSR
// list (the "transposed LUT": no transposed copy of W is needed).
#include <cstdint>
#include <vector>

namespace bs {

struct BsmmLayout {
  int64_t CB = 0, KB = 0, nnz = 0;
  std::vector<int64_t> row_ptr;     // CB+1
  std::vector<int64_t> row_cols;    // nnz: output block k of block id i
  std::vector<int64_t> block_rows;  // nnz: input block c of block id i
  std::vector<int64_t> col_ptr;     // KB+1
  std::vector<int64_t> col_rows;    // nnz: input block c of the j-th entry of the BSC order
  std::vector<int64_t> col_blocks;  // nnz: block id of the j-th entry of the BSC order

  // Validate and build from a dense (CB, KB) 0/1 byte mask. Throws bs::Error.
  static BsmmLayout from_dense(const uint8_t* mask, int64_t CB, int64_t KB);
  // Validate and build from BSR row pointers and sorted column indices. Throws bs::Error.
  static BsmmLayout from_bsr(int64_t CB, int64_t KB, const int64_t* row_ptr, const int64_t* col_idx);

  int64_t col_nnz(int64_t k) const { return col_ptr[k + 1] - col_ptr[k]; }
  int64_t row_nnz(int64_t c) const { return row_ptr[c + 1] - row_ptr[c]; }

 private:
  void build_columns();
};

}  // namespace bs
