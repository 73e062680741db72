#pragma once
// Benchmark layouts. Every library is timed on the same "balanced" random layout: each input block
// row holds exactly round(d·KB) blocks and each output block column the same count (to within one
// when CB != KB), so cuSPARSE Blocked-ELL needs no padding and no library gets an easier pattern.
#include <cstdint>
#include <string>
#include <vector>

namespace bsbench {

struct Layout {
  int64_t CB = 0, KB = 0, nnz = 0;
  std::vector<uint8_t> mask;        // (CB, KB) row-major 0/1
  // BSR view (block id = position, row-major (c, k) order, the order of the weight tensor).
  std::vector<int32_t> row_ptr;     // CB+1
  std::vector<int32_t> row_cols;    // nnz: k of block id i
  std::vector<int32_t> block_rows;  // nnz: c of block id i
  // BSC view: entry j of output column k lists input block col_rows[j], block id col_blocks[j].
  std::vector<int32_t> col_ptr;     // KB+1
  std::vector<int32_t> col_rows;    // nnz
  std::vector<int32_t> col_blocks;  // nnz

  int32_t max_row_nnz() const;
  int32_t max_col_nnz() const;
};

// Kind recorded in every result row.
inline const char* kLayoutKind = "balanced";

// Random balanced layout: a round-robin start (every row m blocks, columns within one of each
// other), then 10·nnz random degree-preserving swaps (the "switch" Markov chain on bipartite
// graphs), so the pattern is uniform among layouts with those row and column counts.
Layout balanced_layout(int64_t CB, int64_t KB, double density, uint64_t seed);

// Writes the mask as a NumPy .npy file of uint8, shape (CB, KB). Throws on I/O failure.
void write_npy(const Layout& layout, const std::string& path);

}  // namespace bsbench
