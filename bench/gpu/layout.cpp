#include "layout.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <stdexcept>

namespace bsbench {

namespace {

void build_views(Layout& L) {
  L.row_ptr.assign(static_cast<size_t>(L.CB + 1), 0);
  L.col_ptr.assign(static_cast<size_t>(L.KB + 1), 0);
  L.row_cols.clear();
  L.block_rows.clear();
  for (int64_t c = 0; c < L.CB; ++c) {
    for (int64_t k = 0; k < L.KB; ++k) {
      if (!L.mask[static_cast<size_t>(c * L.KB + k)]) continue;
      L.row_cols.push_back(static_cast<int32_t>(k));
      L.block_rows.push_back(static_cast<int32_t>(c));
      ++L.col_ptr[static_cast<size_t>(k + 1)];
    }
    L.row_ptr[static_cast<size_t>(c + 1)] = static_cast<int32_t>(L.row_cols.size());
  }
  L.nnz = static_cast<int64_t>(L.row_cols.size());
  for (int64_t k = 0; k < L.KB; ++k) L.col_ptr[static_cast<size_t>(k + 1)] += L.col_ptr[static_cast<size_t>(k)];
  L.col_rows.assign(static_cast<size_t>(L.nnz), 0);
  L.col_blocks.assign(static_cast<size_t>(L.nnz), 0);
  std::vector<int32_t> fill(L.col_ptr.begin(), L.col_ptr.end() - 1);
  for (int64_t i = 0; i < L.nnz; ++i) {  // block ids ascend, so each column's rows come out sorted
    const int32_t k = L.row_cols[static_cast<size_t>(i)];
    const int32_t j = fill[static_cast<size_t>(k)]++;
    L.col_rows[static_cast<size_t>(j)] = L.block_rows[static_cast<size_t>(i)];
    L.col_blocks[static_cast<size_t>(j)] = static_cast<int32_t>(i);
  }
}

}  // namespace

int32_t Layout::max_row_nnz() const {
  int32_t m = 0;
  for (size_t c = 0; c + 1 < row_ptr.size(); ++c) m = std::max(m, row_ptr[c + 1] - row_ptr[c]);
  return m;
}

int32_t Layout::max_col_nnz() const {
  int32_t m = 0;
  for (size_t k = 0; k + 1 < col_ptr.size(); ++k) m = std::max(m, col_ptr[k + 1] - col_ptr[k]);
  return m;
}

Layout balanced_layout(int64_t CB, int64_t KB, double density, uint64_t seed) {
  if (CB < 1 || KB < 1 || !(density > 0.0) || density > 1.0) throw std::invalid_argument("bad layout shape or density");
  const int64_t m = std::clamp<int64_t>(std::llround(density * static_cast<double>(KB)), 1, KB);
  Layout L;
  L.CB = CB;
  L.KB = KB;
  L.mask.assign(static_cast<size_t>(CB * KB), 0);
  // Round-robin start: row c takes the m columns after where row c-1 stopped.
  std::vector<std::pair<int64_t, int64_t>> edges;
  edges.reserve(static_cast<size_t>(CB * m));
  for (int64_t c = 0; c < CB; ++c)
    for (int64_t j = 0; j < m; ++j) {
      const int64_t k = (c * m + j) % KB;
      L.mask[static_cast<size_t>(c * KB + k)] = 1;
      edges.emplace_back(c, k);
    }
  // Degree-preserving swaps: (c1,k1),(c2,k2) -> (c1,k2),(c2,k1) when both new cells are empty.
  if (m < KB && CB > 1) {
    std::mt19937_64 rng(seed);
    std::uniform_int_distribution<size_t> pick(0, edges.size() - 1);
    const size_t swaps = 10 * edges.size();
    for (size_t s = 0; s < swaps; ++s) {
      auto& e1 = edges[pick(rng)];
      auto& e2 = edges[pick(rng)];
      const size_t a = static_cast<size_t>(e1.first * KB + e2.second);
      const size_t b = static_cast<size_t>(e2.first * KB + e1.second);
      if (L.mask[a] || L.mask[b]) continue;
      L.mask[static_cast<size_t>(e1.first * KB + e1.second)] = 0;
      L.mask[static_cast<size_t>(e2.first * KB + e2.second)] = 0;
      L.mask[a] = L.mask[b] = 1;
      std::swap(e1.second, e2.second);
    }
  }
  build_views(L);
  return L;
}

void write_npy(const Layout& layout, const std::string& path) {
  std::string header = "{'descr': '|u1', 'fortran_order': False, 'shape': (" + std::to_string(layout.CB) + ", " +
                       std::to_string(layout.KB) + "), }";
  // Magic (6) + version (2) + header length (2) + header, padded with spaces to a multiple of 64
  // and ended by a newline (npy format 1.0).
  const size_t unpadded = 10 + header.size() + 1;
  header.append((64 - unpadded % 64) % 64, ' ');
  header.push_back('\n');
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) throw std::runtime_error("cannot write " + path);
  const unsigned char preamble[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0,
                                      static_cast<unsigned char>(header.size() & 0xff),
                                      static_cast<unsigned char>(header.size() >> 8)};
  bool ok = std::fwrite(preamble, 1, sizeof(preamble), f) == sizeof(preamble);
  ok = ok && std::fwrite(header.data(), 1, header.size(), f) == header.size();
  ok = ok && std::fwrite(layout.mask.data(), 1, layout.mask.size(), f) == layout.mask.size();
  ok = (std::fclose(f) == 0) && ok;
  if (!ok) throw std::runtime_error("short write to " + path);
}

}  // namespace bsbench
