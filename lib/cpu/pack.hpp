#pragma once
// Moving data between the caller's tensors (any storage dtype, either feature axis) and the fp32
// row-major panels the micro-kernel reads, and writing results back with alpha/beta.
#include <cstdint>
#include <cstring>

#include "core/dtype.hpp"

namespace bs {
namespace cpu {

// Copies activation rows n0 .. n0+rows-1, features f0 .. f0+cols-1 into fp32 column panels
// `panel` floats wide (cols a multiple of panel): element (r, q) goes to
// dst[(q / panel)·rows·panel + r·panel + q % panel]; with panel = cols that is plain row-major.
// Reads along the source's contiguous dimension. With feature_axis 1 each row contributes a
// short piece at a stride the hardware prefetcher does not follow, so rows a few ahead are
// prefetched explicitly.
template <typename T>
void pack_activation(const T* src, int axis, int64_t N, int64_t F, int64_t n0, int64_t rows, int64_t f0,
                     int64_t cols, int64_t panel, float* dst) {
  constexpr int64_t kAhead = 8;
  constexpr int64_t kLine = 64 / sizeof(T);
  for (int64_t q0 = 0; q0 < cols; q0 += panel) {
    float* d = dst + (q0 / panel) * rows * panel;
    if (axis == 1) {
      for (int64_t r = 0; r < rows; ++r) {
        if (r + kAhead < rows)
          for (int64_t q = 0; q < panel; q += kLine) __builtin_prefetch(src + (n0 + r + kAhead) * F + f0 + q0 + q);
        const T* s = src + (n0 + r) * F + f0 + q0;
        for (int64_t q = 0; q < panel; ++q) d[r * panel + q] = to_float(s[q]);
      }
    } else {
      for (int64_t q = 0; q < panel; ++q) {
        const T* s = src + (f0 + q0 + q) * N + n0;
        for (int64_t r = 0; r < rows; ++r) d[r * panel + q] = to_float(s[r]);
      }
    }
  }
}

// Packs a b x b block (times scale, transposed when `transpose`) as column panels `panel` floats
// wide: element (p, j) goes to dst[(j / panel)·panel_stride + p·panel + j % panel]. A kernel
// walking one panel then reads consecutive memory; reading the block in place would touch every
// other cache line of rows b floats apart, and such blocks (4 KiB aligned at b = 32) collide in
// the same L1 sets.
template <typename T>
void pack_block_panels(const T* src, int64_t b, float scale, bool transpose, int64_t panel, int64_t panel_stride,
                       float* dst) {
  for (int64_t j0 = 0; j0 < b; j0 += panel) {
    float* d = dst + (j0 / panel) * panel_stride;
    if (!transpose) {
      for (int64_t p = 0; p < b; ++p)
        for (int64_t j = 0; j < panel; ++j) d[p * panel + j] = scale * to_float(src[p * b + j0 + j]);
    } else {
      for (int64_t j = 0; j < panel; ++j)
        for (int64_t p = 0; p < b; ++p) d[p * panel + j] = scale * to_float(src[(j0 + j) * b + p]);
    }
  }
}

// out[i] = alpha·acc[i·acc_stride] + beta·out[i] for i < n, rounded once to T;
// beta = 0 never reads out. The beta test sits outside the loop so the loop vectorizes.
template <typename T>
void store_scaled(const float* acc, int64_t acc_stride, T* out, int64_t n, float alpha, float beta) {
  if (beta == 0.0f) {
    for (int64_t i = 0; i < n; ++i) out[i] = from_float<T>(alpha * acc[i * acc_stride]);
  } else {
    for (int64_t i = 0; i < n; ++i) {
      T& o = out[i];
      o = from_float<T>(alpha * acc[i * acc_stride] + beta * to_float(o));
    }
  }
}

// Writes an fp32 tile acc[r·lda + q] (rows x cols) to activation rows n0.., features f0..
template <typename T>
void store_activation(const float* acc, int64_t lda, int64_t rows, int64_t cols, T* dst, int axis, int64_t N,
                      int64_t F, int64_t n0, int64_t f0, float alpha, float beta) {
  if (axis == 1) {
    for (int64_t r = 0; r < rows; ++r) store_scaled(acc + r * lda, 1, dst + (n0 + r) * F + f0, cols, alpha, beta);
  } else {
    for (int64_t q = 0; q < cols; ++q) store_scaled(acc + q, lda, dst + (f0 + q) * N + n0, rows, alpha, beta);
  }
}

// Gate of block i, or gain of feature i (1 when absent). Read bytewise: 16-bit plans only promise 2-byte
// alignment of every pointer.
inline float gate_of(const float* gate, int64_t i) {
  if (!gate) return 1.0f;
  float g;
  std::memcpy(&g, gate + i, sizeof g);
  return g;
}

}  // namespace cpu
}  // namespace bs
