#pragma once
// Scalar math of the element-wise ops, shared by the CPU backend and the CUDA kernels so that both
// compute the same formulas (fp32 in, fp32 out). Ops are selected at run time with a switch on a
// uniform value: the kernels are memory bound, and one instantiation per dtype keeps the CUDA
// build small.
#include <blocksparse/bs_ew.h>

#include <cmath>
#include <cstdint>

#include "core/dtype.hpp"
#include "ops/ops_backend.hpp"

namespace bs::ops {

// On the GPU with the fast exp and division (a few ulp; the libm pair costs ~3x the instructions and
// made the LSTM gates and swish compute bound). __fdividef(1, inf) is 0, the right limit.
BS_HOST_DEVICE inline float sigmoid(float x) {
#ifdef __CUDA_ARCH__
  return __fdividef(1.0f, 1.0f + __expf(-x));
#else
  return 1.0f / (1.0f + expf(-x));
#endif
}

constexpr float kSqrt2OverPi = 0.7978845608028654f;
constexpr float kGeluAlpha = 0.044715f;
constexpr float kFastGeluAlpha = 1.702f;

BS_HOST_DEVICE inline float unary_fwd(int32_t op, float x, float alpha) {
  switch (op) {
    case BS_EW_NEGATIVE: return -x;
    case BS_EW_RECIPROCAL: return 1.0f / x;
    case BS_EW_SQUARE: return x * x;
    case BS_EW_SQRT: return sqrtf(x);
    case BS_EW_EXP: return expf(x);
    case BS_EW_LOG: return logf(x);
    case BS_EW_SIGMOID: return sigmoid(x);
    case BS_EW_TANH: return tanhf(x);
    case BS_EW_RELU: return x > 0.0f ? x : 0.0f;
    case BS_EW_ELU: return x > 0.0f ? x : alpha * (expf(x) - 1.0f);
    case BS_EW_GELU: return 0.5f * x * (1.0f + tanhf(kSqrt2OverPi * (x + alpha * x * x * x)));
    default: return x * sigmoid(alpha * x);  // BS_EW_SWISH
  }
}

// d op(x) / dx
BS_HOST_DEVICE inline float unary_deriv(int32_t op, float x, float alpha) {
  switch (op) {
    case BS_EW_NEGATIVE: return -1.0f;
    case BS_EW_RECIPROCAL: return -1.0f / (x * x);
    case BS_EW_SQUARE: return 2.0f * x;
    case BS_EW_SQRT: return 0.5f / sqrtf(x);
    case BS_EW_EXP: return expf(x);
    case BS_EW_LOG: return 1.0f / x;
    case BS_EW_SIGMOID: {
      const float s = sigmoid(x);
      return s * (1.0f - s);
    }
    case BS_EW_TANH: {
      const float t = tanhf(x);
      return 1.0f - t * t;
    }
    case BS_EW_RELU: return x > 0.0f ? 1.0f : 0.0f;
    case BS_EW_ELU: return x > 0.0f ? 1.0f : alpha * expf(x);
    case BS_EW_GELU: {
      const float t = tanhf(kSqrt2OverPi * (x + alpha * x * x * x));
      return 0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * kSqrt2OverPi * (1.0f + 3.0f * alpha * x * x);
    }
    default: {  // BS_EW_SWISH
      const float s = sigmoid(alpha * x);
      return s + alpha * x * s * (1.0f - s);
    }
  }
}

// Activations of bs_bias_act / cwise_linear, expressed as unary ops.
BS_HOST_DEVICE inline float act_fwd(int32_t act, float z) {
  switch (act) {
    case BS_ACT_RELU: return z > 0.0f ? z : 0.0f;
    case BS_ACT_GELU: return unary_fwd(BS_EW_GELU, z, kGeluAlpha);
    case BS_ACT_FAST_GELU: return unary_fwd(BS_EW_SWISH, z, kFastGeluAlpha);
    default: return z;
  }
}

BS_HOST_DEVICE inline float act_deriv(int32_t act, float z) {
  switch (act) {
    case BS_ACT_RELU: return z > 0.0f ? 1.0f : 0.0f;
    case BS_ACT_GELU: return unary_deriv(BS_EW_GELU, z, kGeluAlpha);
    case BS_ACT_FAST_GELU: return unary_deriv(BS_EW_SWISH, z, kFastGeluAlpha);
    default: return 1.0f;
  }
}

BS_HOST_DEVICE inline float binary_fwd(int32_t op, float x, float y) {
  switch (op) {
    case BS_EW_ADD: return x + y;
    case BS_EW_SUBTRACT: return x - y;
    case BS_EW_MULTIPLY: return x * y;
    case BS_EW_DIVIDE: return x / y;
    case BS_EW_MAXIMUM: return x >= y ? x : y;
    default: return x <= y ? x : y;  // BS_EW_MINIMUM
  }
}

BS_HOST_DEVICE inline void binary_grad(int32_t op, float x, float y, float dz, float& dx, float& dy) {
  switch (op) {
    case BS_EW_ADD: dx = dz; dy = dz; return;
    case BS_EW_SUBTRACT: dx = dz; dy = -dz; return;
    case BS_EW_MULTIPLY: dx = dz * y; dy = dz * x; return;
    case BS_EW_DIVIDE: dx = dz / y; dy = -dz * x / (y * y); return;
    case BS_EW_MAXIMUM: dx = x >= y ? dz : 0.0f; dy = x >= y ? 0.0f : dz; return;
    default: dx = x <= y ? dz : 0.0f; dy = x <= y ? 0.0f : dz; return;  // BS_EW_MINIMUM
  }
}

// ---- Philox4x32-10 (Salmon et al., SC 2011), key schedule and rounds as in Random123 -----------
BS_HOST_DEVICE inline void philox4x32_10(const uint32_t ctr_in[4], const uint32_t key_in[2], uint32_t out[4]) {
  uint32_t c0 = ctr_in[0], c1 = ctr_in[1], c2 = ctr_in[2], c3 = ctr_in[3];
  uint32_t k0 = key_in[0], k1 = key_in[1];
  for (int r = 0; r < 10; ++r) {
    if (r > 0) {
      k0 += 0x9E3779B9u;
      k1 += 0xBB67AE85u;
    }
    const uint64_t p0 = static_cast<uint64_t>(0xD2511F53u) * c0;
    const uint64_t p1 = static_cast<uint64_t>(0xCD9E8D57u) * c2;
    const uint32_t hi0 = static_cast<uint32_t>(p0 >> 32), lo0 = static_cast<uint32_t>(p0);
    const uint32_t hi1 = static_cast<uint32_t>(p1 >> 32), lo1 = static_cast<uint32_t>(p1);
    c0 = hi1 ^ c1 ^ k0;
    c1 = lo1;
    c2 = hi0 ^ c3 ^ k1;
    c3 = lo0;
  }
  out[0] = c0;
  out[1] = c1;
  out[2] = c2;
  out[3] = c3;
}

// The four random words of counter block `block` (elements 4·block .. 4·block+3) of a dropout call.
BS_HOST_DEVICE inline void dropout_words(uint64_t seed, uint64_t offset, uint64_t block, uint32_t out[4]) {
  const uint64_t c = offset + block;
  const uint32_t ctr[4] = {static_cast<uint32_t>(c), static_cast<uint32_t>(c >> 32), 0u, 0u};
  const uint32_t key[2] = {static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32)};
  philox4x32_10(ctr, key, out);
}

// The 32 keep bits of mask word `word` (elements 32·word .. 32·word+31).
BS_HOST_DEVICE inline uint32_t dropout_mask_word(uint64_t seed, uint64_t offset, uint64_t threshold, uint64_t word) {
  uint32_t bits = 0;
  for (int b = 0; b < 8; ++b) {
    uint32_t r[4];
    dropout_words(seed, offset, word * 8 + static_cast<uint64_t>(b), r);
    for (int j = 0; j < 4; ++j) bits |= (static_cast<uint64_t>(r[j]) < threshold ? 1u : 0u) << (4 * b + j);
  }
  return bits;
}

// ---- per-channel coefficients (bias_act, cwise_linear, batch norm) -----------------------------
struct Coef {
  float scale, pre, post, rstd;
};

// (scale, pre, post) of channel c; for batch norm `mean_c`/`var_c` are the statistics in use.
BS_HOST_DEVICE inline Coef channel_coef(const ChannelArgs& a, int64_t c, float mean_c, float var_c) {
  Coef k{};
  if (a.coef == CoefKind::kBatchnorm) {
    k.rstd = 1.0f / sqrtf(var_c + a.epsilon);
    k.scale = (a.a ? a.a[c] : 1.0f) * k.rstd;
    k.pre = -mean_c;
    k.post = a.b ? a.b[c] : 0.0f;
  } else {
    k.rstd = 1.0f;
    k.scale = a.a ? a.a[c] : 1.0f;
    const float bias = a.b ? a.b[c] : 0.0f;
    k.pre = a.bias_first ? bias : 0.0f;
    k.post = a.bias_first ? 0.0f : bias;
  }
  return k;
}

// Final per-channel outputs of a backward from the sums R1 = Σg, R2 = Σg·(x+pre).
BS_HOST_DEVICE inline void channel_finish(const ChannelArgs& a, int64_t c, const Coef& k, float r1, float r2) {
  if (a.r1_out) a.r1_out[c] = a.coef == CoefKind::kAffine && a.bias_first ? r1 * k.scale : r1;
  if (a.r2_out) a.r2_out[c] = r2 * k.rstd;
}

// ---- LSTM gates -------------------------------------------------------------------------------
BS_HOST_DEVICE inline void lstm_fwd(float c, float i, float u, float f, float o, float& c_next, float& h_next) {
  c_next = sigmoid(f) * c + sigmoid(i) * tanhf(u);
  h_next = sigmoid(o) * tanhf(c_next);
}

// i, u, f, o are pre-activations with bias and forget bias already added.
BS_HOST_DEVICE inline void lstm_bwd(float c, float i, float u, float f, float o, float dc_next, float dh_next,
                                    float& dc, float& di, float& du, float& df, float& d_o) {
  const float ig = sigmoid(i), ug = tanhf(u), fg = sigmoid(f), og = sigmoid(o);
  const float cn = fg * c + ig * ug;
  const float t = tanhf(cn);
  const float dct = dc_next + dh_next * og * (1.0f - t * t);
  dc = dct * fg;
  di = dct * ug * ig * (1.0f - ig);
  du = dct * ig * (1.0f - ug * ug);
  df = dct * c * fg * (1.0f - fg);
  d_o = dh_next * t * og * (1.0f - og);
}

// ---- layer norm row decomposition ---------------------------------------------------------------
// With features last, sample n / segment s is the contiguous row r = n·S + s of Ks = K/S elements;
// its gain slice starts at s·Ks and its statistics live at s·N + n.
BS_HOST_DEVICE inline int64_t ln_stat_index(int64_t r, int64_t S, int64_t N) { return (r % S) * N + r / S; }

}  // namespace bs::ops
