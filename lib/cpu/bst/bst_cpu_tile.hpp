#pragma once
// Tile helpers of the CPU attention kernels: block-sized slices of the q/k/v-like tensors to and
// from fp32 tiles, the masks inside a block, the dropout factors of a block, and the task index
// of the OpenMP loops.
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "core/dtype.hpp"
#include "dispatch/bst_backend.hpp"
#include "ops/ew_math.hpp"

namespace bs::cpu::bst {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// Carves fp32 tiles out of a thread's scratch slot, each 64-byte aligned.
class Tiles {
 public:
  explicit Tiles(float* base) : p_(base) {}
  float* take(int64_t n) {
    float* r = p_;
    p_ += (n + 15) / 16 * 16;
    return r;
  }
  static int64_t padded(int64_t n) { return (n + 15) / 16 * 16; }

 private:
  float* p_;
};

// rows × D tile (dst[r·D + d]) of a tensor whose rows are `stride` elements apart.
template <typename T>
void load_tile(const T* src, int64_t stride, int rows, int D, float* dst) {
  for (int r = 0; r < rows; ++r)
    for (int d = 0; d < D; ++d) dst[r * D + d] = to_float(src[r * stride + d]);
}

// The same tile transposed: dst[d·rows + r].
template <typename T>
void load_tile_t(const T* src, int64_t stride, int rows, int D, float* dst) {
  for (int r = 0; r < rows; ++r)
    for (int d = 0; d < D; ++d) dst[d * rows + r] = to_float(src[r * stride + d]);
}

template <typename T>
void store_tile(const float* src, int rows, int D, float mul, T* dst, int64_t stride) {
  for (int r = 0; r < rows; ++r)
    for (int d = 0; d < D; ++d) dst[r * stride + d] = from_float<T>(src[r * D + d] * mul);
}

template <typename T>
void load_block(const T* src, int64_t n, float* dst) {
  for (int64_t i = 0; i < n; ++i) dst[i] = to_float(src[i]);
}

inline void zero(float* p, int64_t n) {
  for (int64_t i = 0; i < n; ++i) p[i] = 0.0f;
}

// Sets S[r·b + c] to -inf for every key c of layout block g that query row r may not attend
// (block mask bits, causality); s0, t0 = positions of the block's first query and key.
inline void mask_block(const BstLayout& l, const BstCausal& causal, int64_t g, int64_t s0, int64_t t0, float* S) {
  const int b = static_cast<int>(l.b);
  const bool all_causal = causal.allows_all(s0, t0, b);
  if (l.masks.empty() && all_causal) return;
  for (int r = 0; r < b; ++r) {
    const uint8_t* bits = l.mask_row(g, r);
    for (int c = 0; c < b; ++c)
      if (!mask_bit(bits, c) || (!all_causal && !causal.allows(s0 + r, t0 + c))) S[r * b + c] = kNegInf;
  }
}

// Dropout factors Z[r·b + c] (scale or 0) of the b × b block whose first element has dense index
// e0 in the (batch, H, Sq, Sk) attention matrix (rows Sk apart). e0 and Sk are multiples of 4, so
// every group of 4 keys is one Philox block.
inline void dropout_block(const BstDropout& d, const ops::PhiloxKeys& keys, uint64_t e0, int64_t Sk, int b,
                          float* Z) {
  for (int r = 0; r < b; ++r) {
    const uint64_t row = e0 + static_cast<uint64_t>(r) * static_cast<uint64_t>(Sk);
    for (int c = 0; c < b; c += 4) {
      uint32_t w[4];
      ops::dropout_words(keys, d.offset, (row + static_cast<uint64_t>(c)) / 4, w);
      for (int j = 0; j < 4; ++j) Z[r * b + c + j] = static_cast<uint64_t>(w[j]) < d.threshold ? d.scale : 0.0f;
    }
  }
}

// Task t of a loop over pairs × batch (pairs longest first, so the longest rows of every batch
// element start first): the batch element and the pair (head·blocks + block).
struct Task {
  int64_t n, h, blk;
};
inline Task task_of(int64_t t, const std::vector<int64_t>& pairs, int64_t blocks, int64_t batch) {
  const int64_t pair = pairs[static_cast<size_t>(t / batch)];
  return {t % batch, pair / blocks, pair % blocks};
}

}  // namespace bs::cpu::bst
