#include "common/layouts.hpp"

#include <algorithm>
#include <sstream>

namespace bs_test {

int64_t Layout::nnz() const { return static_cast<int64_t>(std::count(mask.begin(), mask.end(), uint8_t{1})); }

std::vector<std::array<int64_t, 2>> Layout::blocks() const {
  std::vector<std::array<int64_t, 2>> out;
  for (int64_t c = 0; c < CB; ++c)
    for (int64_t k = 0; k < KB; ++k)
      if (at(c, k)) out.push_back({c, k});
  return out;
}

std::vector<int64_t> Layout::row_ptr() const {
  std::vector<int64_t> rp(static_cast<size_t>(CB) + 1, 0);
  for (int64_t c = 0; c < CB; ++c) {
    rp[static_cast<size_t>(c) + 1] = rp[static_cast<size_t>(c)];
    for (int64_t k = 0; k < KB; ++k) rp[static_cast<size_t>(c) + 1] += at(c, k) ? 1 : 0;
  }
  return rp;
}

std::vector<int64_t> Layout::col_idx() const {
  std::vector<int64_t> ci;
  for (const auto& ck : blocks()) ci.push_back(ck[1]);
  return ci;
}

bool Layout::row_empty(int64_t c) const {
  for (int64_t k = 0; k < KB; ++k)
    if (at(c, k)) return false;
  return true;
}

bool Layout::col_empty(int64_t k) const {
  for (int64_t c = 0; c < CB; ++c)
    if (at(c, k)) return false;
  return true;
}

std::string Layout::str() const {
  std::ostringstream os;
  os << CB << "x" << KB << " nnz=" << nnz();
  if (CB * KB <= 256) {
    os << " [";
    for (int64_t c = 0; c < CB; ++c) {
      if (c) os << '/';
      for (int64_t k = 0; k < KB; ++k) os << (at(c, k) ? '1' : '0');
    }
    os << ']';
  }
  return os.str();
}

namespace {

Layout empty_layout(int64_t CB, int64_t KB) {
  Layout l;
  l.CB = CB;
  l.KB = KB;
  l.mask.assign(static_cast<size_t>(CB * KB), 0);
  return l;
}

void set(Layout& l, int64_t c, int64_t k, bool v) { l.mask[static_cast<size_t>(c * l.KB + k)] = v ? 1 : 0; }

void ensure_a_block(Layout& l, std::mt19937_64& rng) {
  if (l.nnz() > 0) return;
  set(l, static_cast<int64_t>(rng() % static_cast<uint64_t>(l.CB)), static_cast<int64_t>(rng() % static_cast<uint64_t>(l.KB)),
      true);
}

}  // namespace

Layout full_layout(int64_t CB, int64_t KB) {
  Layout l = empty_layout(CB, KB);
  std::fill(l.mask.begin(), l.mask.end(), uint8_t{1});
  return l;
}

Layout single_block_layout(int64_t CB, int64_t KB, int64_t c, int64_t k) {
  Layout l = empty_layout(CB, KB);
  set(l, c, k, true);
  return l;
}

Layout diagonal_layout(int64_t n) {
  Layout l = empty_layout(n, n);
  for (int64_t i = 0; i < n; ++i) set(l, i, i, true);
  return l;
}

Layout random_layout(int64_t CB, int64_t KB, double density, std::mt19937_64& rng) {
  Layout l = empty_layout(CB, KB);
  std::bernoulli_distribution on(density);
  for (auto& v : l.mask) v = on(rng) ? 1 : 0;
  ensure_a_block(l, rng);
  return l;
}

Layout layout_with_empty_rows_and_columns(int64_t CB, int64_t KB, std::mt19937_64& rng) {
  Layout l = random_layout(CB, KB, 0.6, rng);
  const int64_t rows[] = {0, CB / 2}, cols[] = {KB - 1, KB / 2};
  for (int64_t c : rows)
    for (int64_t k = 0; k < KB; ++k) set(l, c, k, false);
  for (int64_t k : cols)
    for (int64_t c = 0; c < CB; ++c) set(l, c, k, false);
  if (l.nnz() == 0) set(l, CB - 1, 0, true);  // a row and a column that were not cleared (CB, KB >= 3)
  return l;
}

Layout skewed_layout(int64_t CB, int64_t KB, int64_t dense_cols, std::mt19937_64& rng) {
  Layout l = random_layout(CB, KB, 0.1, rng);
  for (int64_t j = 0; j < dense_cols; ++j) {
    const int64_t k = static_cast<int64_t>(rng() % static_cast<uint64_t>(KB));
    for (int64_t c = 0; c < CB; ++c) set(l, c, k, true);
  }
  return l;
}

}  // namespace bs_test
