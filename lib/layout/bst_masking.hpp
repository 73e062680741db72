#pragma once
// The element-level rules of block-sparse attention that every backend applies identically (host
// and device): which keys of a present block a query may attend (block mask bits, causality with
// the original's autoregress_at_key), and which dropout draw belongs to a (query, key) pair.
#include <cstdint>

#include "core/dtype.hpp"  // BS_HOST_DEVICE

namespace bs {

// Causality of a plan: key position t is allowed for query position s iff t <= s or t < prefix.
struct BstCausal {
  int32_t causal = 0;
  int64_t prefix = 0;  // autoregress_at_key
  BS_HOST_DEVICE bool allows(int64_t s, int64_t t) const { return !causal || t <= s || t < prefix; }
  // True when every key of [t0, t0+n) is allowed for every query of [s0, s0+m): the block needs
  // no per-element causal test.
  BS_HOST_DEVICE bool allows_all(int64_t s0, int64_t t0, int64_t n) const {
    return !causal || t0 + n - 1 <= s0 || t0 + n <= prefix;
  }
  // True when no key of [t0, t0+n) is allowed for any query of [s0, s0+m).
  BS_HOST_DEVICE bool allows_none(int64_t s0, int64_t m, int64_t t0) const {
    return causal && t0 > s0 + m - 1 && t0 >= prefix;
  }
};

// Key c of a block row's bit mask (b/8 bytes, key c = bit c%8 of byte c/8); no mask allows all.
BS_HOST_DEVICE inline bool mask_bit(const uint8_t* row, int64_t c) {
  return row == nullptr || ((row[c >> 3] >> (c & 7)) & 1u) != 0;
}

// Index of (batch n, head h, query s, key t) in the dense (batch, H, Sq, Sk) attention matrix:
// its dropout draw is element e of bs_dropout_mask(), i.e. word e%4 of Philox counter offset + e/4.
BS_HOST_DEVICE inline uint64_t dropout_element(int64_t n, int64_t h, int64_t s, int64_t t, int64_t H, int64_t Sq,
                                               int64_t Sk) {
  return static_cast<uint64_t>(((n * H + h) * Sq + s) * Sk + t);
}

}  // namespace bs
