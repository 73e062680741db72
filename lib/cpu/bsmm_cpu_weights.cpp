// Weight helpers on the CPU: identity init and per-output-feature l2 normalisation (+ gradient).
// Single-threaded and simple: they touch each weight once, far from the matmuls' cost.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "cpu/bsmm_cpu.hpp"
#include "cpu/pack.hpp"

namespace bs {
namespace cpu {

void CpuBsmm::identity_init(void* w, float scale, bs_stream_t) const {
  dispatch_dtype(cfg_.dtype, [&](auto t) {
    using T = decltype(t);
    T* out = static_cast<T*>(w);
    const int64_t b = cfg_.block_size;
    for (int64_t i = 0; i < layout_.nnz; ++i) {
      const int64_t c = layout_.block_rows[i], k = layout_.row_cols[i];
      const bool diag = (c % layout_.KB) == (k % layout_.CB);
      for (int64_t r = 0; r < b; ++r)
        for (int64_t s = 0; s < b; ++s) out[(i * b + r) * b + s] = from_float<T>(diag && r == s ? scale : 0.0f);
    }
  });
}

template <typename T>
void CpuBsmm::l2_typed(const BsmmL2NormArgs& a) const {
  const int64_t b = cfg_.block_size;
  const T* w = static_cast<const T*>(a.w);
  const T* in = static_cast<const T*>(a.in);
  T* out = static_cast<T*>(a.out);
  // Per output feature: sum of w², (grad) sum of u·w and the gain gradient, accumulated in fixed
  // block order. gain and dgain go through gate_of()/memcpy: 16-bit plans only promise 2-byte
  // alignment.
  Scratch ws(a.workspace);
  float* sumsq = ws.take<float>(static_cast<size_t>(cfg_.K));
  float* sumuw = ws.take<float>(static_cast<size_t>(cfg_.K));
  float* dgain = ws.take<float>(static_cast<size_t>(cfg_.K));
  std::fill(sumsq, sumsq + cfg_.K, 0.0f);
  std::fill(sumuw, sumuw + cfg_.K, 0.0f);
  std::fill(dgain, dgain + cfg_.K, 0.0f);
  for (int64_t blk = 0; blk < layout_.nnz; ++blk) {
    const int64_t k = layout_.row_cols[blk];
    for (int64_t r = 0; r < b; ++r)
      for (int64_t j = 0; j < b; ++j) {
        const int64_t col = k * b + j;
        const float wv = to_float(w[(blk * b + r) * b + j]);
        sumsq[col] += wv * wv;
        if (a.grad) {
          const float g = gate_of(a.gain, col);
          sumuw[col] += g * to_float(in[(blk * b + r) * b + j]) * wv;
        }
      }
  }
  for (int64_t blk = 0; blk < layout_.nnz; ++blk) {
    const int64_t k = layout_.row_cols[blk];
    for (int64_t r = 0; r < b; ++r)
      for (int64_t j = 0; j < b; ++j) {
        const int64_t col = k * b + j, e = (blk * b + r) * b + j;
        const float s = std::max(sumsq[col], a.epsilon);
        const float inv = 1.0f / std::sqrt(s);
        const float g = gate_of(a.gain, col);
        const float wv = to_float(w[e]);
        if (!a.grad) {
          out[e] = from_float<T>(wv * inv * g);
        } else {
          const float dyv = to_float(in[e]);
          dgain[col] += dyv * wv * inv;
          const float keep = sumsq[col] >= a.epsilon ? 1.0f : 0.0f;
          out[e] = from_float<T>((g * dyv - wv * keep * sumuw[col] / s) * inv);
        }
      }
  }
  if (a.dgain) std::memcpy(a.dgain, dgain, static_cast<size_t>(cfg_.K) * sizeof(float));
}

void CpuBsmm::l2_normalize(const BsmmL2NormArgs& a) const {
  dispatch_dtype(cfg_.dtype, [&](auto t) { l2_typed<decltype(t)>(a); });
}

}  // namespace cpu
}  // namespace bs
