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

// exp on the GPU with the fast ex2-based intrinsic (relative error ~2 + 1.2·|x| fp32 ulp: below
// 1e-5 on the tested ranges), libm on the host.
BS_HOST_DEVICE inline float exp_fast(float x) {
#ifdef __CUDA_ARCH__
  return __expf(x);
#else
  return expf(x);
#endif
}

// tanh of a result that will be rounded to bf16 (kBf16) or stored at a wider precision. For bf16 on
// the GPU: the hardware tanh.approx.f32 (one MUFU op; libm's tanhf is ~30 instructions and made
// the bf16 paths compute bound). Its maximum relative error of about 2^-11 (PTX ISA, tanh) is a
// quarter of bf16's smallest half rounding step (2^-9 relative), so the stored value moves by at
// most one bf16 step and only where the exact value lies within 2^-11 of a rounding boundary.
template <bool kBf16>
BS_HOST_DEVICE inline float tanh_out(float x) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 750
  if constexpr (kBf16) {
    float y;
    asm("tanh.approx.f32 %0, %1;" : "=f"(y) : "f"(x));
    return y;
  }
#endif
  return tanhf(x);
}

// sigmoid(2z) = (1 + tanh z) / 2 and sech²(z) = 1 - tanh² z from one exponential e = exp(-2|z|) in
// (0, 1]: neither form cancels (1 ± tanh z computed from a rounded tanh loses all relative accuracy
// where tanh z -> ∓1), so gradients stay accurate to a few fp32 ulp at every |z|.
struct TanhParts {
  float sig2;   // sigmoid(2z)
  float sech2;  // 1 - tanh²(z)
};
BS_HOST_DEVICE inline TanhParts tanh_parts(float z) {
  const float e = exp_fast(-2.0f * fabsf(z));
#ifdef __CUDA_ARCH__
  const float r = __fdividef(1.0f, 1.0f + e);  // 1 + e in [1, 2]: no range issue
#else
  const float r = 1.0f / (1.0f + e);
#endif
  return {z >= 0.0f ? r : e * r, 4.0f * e * r * r};
}

constexpr float kSqrt2OverPi = 0.7978845608028654f;
constexpr float kGeluAlpha = 0.044715f;
constexpr float kFastGeluAlpha = 1.702f;

// Argument of tanh in the tanh-form GELU: 0.5·x·(1 + tanh z) = x·sigmoid(2z).
BS_HOST_DEVICE inline float gelu_z(float x, float alpha) { return kSqrt2OverPi * (x + alpha * x * x * x); }

// kBf16: the result is rounded to bf16 (see tanh_out).
template <bool kBf16 = false>
BS_HOST_DEVICE inline float unary_fwd(int32_t op, float x, float alpha) {
  switch (op) {
    case BS_EW_NEGATIVE: return -x;
    case BS_EW_RECIPROCAL: return 1.0f / x;
    case BS_EW_SQUARE: return x * x;
    case BS_EW_SQRT: return sqrtf(x);
    case BS_EW_EXP: return expf(x);
    case BS_EW_LOG: return logf(x);
    case BS_EW_SIGMOID: return sigmoid(x);
    case BS_EW_TANH: return tanh_out<kBf16>(x);
    case BS_EW_RELU: return x > 0.0f ? x : 0.0f;
    case BS_EW_ELU: return x > 0.0f ? x : alpha * (expf(x) - 1.0f);
    case BS_EW_GELU: return x * sigmoid(2.0f * gelu_z(x, alpha));
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
    case BS_EW_TANH: return tanh_parts(x).sech2;
    case BS_EW_RELU: return x > 0.0f ? 1.0f : 0.0f;
    case BS_EW_ELU: return x > 0.0f ? 1.0f : alpha * expf(x);
    case BS_EW_GELU: {  // d/dx x·sigmoid(2z) = sigmoid(2z) + x/2 · sech²(z) · dz/dx
      const TanhParts t = tanh_parts(gelu_z(x, alpha));
      return t.sig2 + 0.5f * x * t.sech2 * kSqrt2OverPi * (1.0f + 3.0f * alpha * x * x);
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
    case BS_ACT_GELU: return z * sigmoid(2.0f * gelu_z(z, kGeluAlpha));
    case BS_ACT_FAST_GELU: return z * sigmoid(kFastGeluAlpha * z);
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
BS_HOST_DEVICE inline PhiloxKeys philox_round_keys(uint32_t key0, uint32_t key1) {
  PhiloxKeys keys{};
  for (int r = 0; r < 10; ++r) {
    keys.k[r][0] = key0 + static_cast<uint32_t>(r) * 0x9E3779B9u;
    keys.k[r][1] = key1 + static_cast<uint32_t>(r) * 0xBB67AE85u;
  }
  return keys;
}

// hi:lo = m·c. On the GPU as mul.hi + mul.lo: ptxas fuses the pair into one IMAD.WIDE, and the
// 64-bit product written out in C++ cost the dropout kernel ~10 % more instructions.
BS_HOST_DEVICE inline void mulhilo32(uint32_t m, uint32_t c, uint32_t& hi, uint32_t& lo) {
#ifdef __CUDA_ARCH__
  hi = __umulhi(m, c);
  lo = m * c;
#else
  const uint64_t p = static_cast<uint64_t>(m) * c;
  hi = static_cast<uint32_t>(p >> 32);
  lo = static_cast<uint32_t>(p);
#endif
}

BS_HOST_DEVICE inline void philox4x32_10(const uint32_t ctr_in[4], const PhiloxKeys& keys, uint32_t out[4]) {
  uint32_t c0 = ctr_in[0], c1 = ctr_in[1], c2 = ctr_in[2], c3 = ctr_in[3];
  for (int r = 0; r < 10; ++r) {
    uint32_t hi0, lo0, hi1, lo1;
    mulhilo32(0xD2511F53u, c0, hi0, lo0);
    mulhilo32(0xCD9E8D57u, c2, hi1, lo1);
    c0 = hi1 ^ c1 ^ keys.k[r][0];
    c1 = lo1;
    c2 = hi0 ^ c3 ^ keys.k[r][1];
    c3 = lo0;
  }
  out[0] = c0;
  out[1] = c1;
  out[2] = c2;
  out[3] = c3;
}

BS_HOST_DEVICE inline void philox4x32_10(const uint32_t ctr_in[4], const uint32_t key_in[2], uint32_t out[4]) {
  philox4x32_10(ctr_in, philox_round_keys(key_in[0], key_in[1]), out);
}

// Round keys of a dropout call's seed: key = {lo32(seed), hi32(seed)}.
inline PhiloxKeys dropout_keys(uint64_t seed) {
  return philox_round_keys(static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32));
}

// The four random words of counter block `block` (elements 4·block .. 4·block+3) of a dropout call.
BS_HOST_DEVICE inline void dropout_words(const PhiloxKeys& keys, uint64_t offset, uint64_t block, uint32_t out[4]) {
  const uint64_t c = offset + block;
  const uint32_t ctr[4] = {static_cast<uint32_t>(c), static_cast<uint32_t>(c >> 32), 0u, 0u};
  philox4x32_10(ctr, keys, out);
}

// The 32 keep bits of mask word `word` (elements 32·word .. 32·word+31).
BS_HOST_DEVICE inline uint32_t dropout_mask_word(const PhiloxKeys& keys, uint64_t offset, uint64_t threshold,
                                                 uint64_t word) {
  uint32_t bits = 0;
  for (int b = 0; b < 8; ++b) {
    uint32_t r[4];
    dropout_words(keys, offset, word * 8 + static_cast<uint64_t>(b), r);
    for (int j = 0; j < 4; ++j) bits |= (static_cast<uint64_t>(r[j]) < threshold ? 1u : 0u) << (4 * b + j);
  }
  return bits;
}

// ---- per-channel coefficients (bias_act, cwise_linear, batch norm) -----------------------------
struct Coef {
  float scale, pre, post, rstd;
};

// (scale, pre, post) of a channel from its values a_c, b_c (1 and 0 where a.a / a.b are NULL) and,
// for batch norm, the statistics in use. kCoef must be a.coef (the CUDA forward instantiates per
// kind, so that bias_act's per-element code holds no batch-norm branch).
template <CoefKind kCoef>
BS_HOST_DEVICE inline Coef channel_coef_as(const ChannelArgs& a, float a_c, float b_c, float mean_c, float var_c) {
  Coef k{};
  if constexpr (kCoef == CoefKind::kBatchnorm) {
    k.rstd = 1.0f / sqrtf(var_c + a.epsilon);
    k.scale = a_c * k.rstd;
    k.pre = -mean_c;
    k.post = b_c;
  } else {
    k.rstd = 1.0f;
    k.scale = a_c;
    k.pre = a.bias_first ? b_c : 0.0f;
    k.post = a.bias_first ? 0.0f : b_c;
  }
  return k;
}

// (scale, pre, post) of channel c; for batch norm `mean_c`/`var_c` are the statistics in use.
BS_HOST_DEVICE inline Coef channel_coef(const ChannelArgs& a, int64_t c, float mean_c, float var_c) {
  const float a_c = a.a ? a.a[c] : 1.0f, b_c = a.b ? a.b[c] : 0.0f;
  return a.coef == CoefKind::kBatchnorm ? channel_coef_as<CoefKind::kBatchnorm>(a, a_c, b_c, mean_c, var_c)
                                        : channel_coef_as<CoefKind::kAffine>(a, a_c, b_c, mean_c, var_c);
}

// Final per-channel outputs of a backward from the sums R1 = Σg, R2 = Σg·(x+pre).
BS_HOST_DEVICE inline void channel_finish(const ChannelArgs& a, int64_t c, const Coef& k, float r1, float r2) {
  if (a.r1_out) a.r1_out[c] = a.coef == CoefKind::kAffine && a.bias_first ? r1 * k.scale : r1;
  if (a.r2_out) a.r2_out[c] = r2 * k.rstd;
}

// ---- LSTM gates -------------------------------------------------------------------------------
// kBf16: the results are rounded to bf16 (see tanh_out).
template <bool kBf16 = false>
BS_HOST_DEVICE inline void lstm_fwd(float c, float i, float u, float f, float o, float& c_next, float& h_next) {
  c_next = sigmoid(f) * c + sigmoid(i) * tanh_out<kBf16>(u);
  h_next = sigmoid(o) * tanh_out<kBf16>(c_next);
}

// i, u, f, o are pre-activations with bias and forget bias already added. 1 - tanh² comes from
// tanh_parts (no cancellation where |tanh| -> 1).
template <bool kBf16 = false>
BS_HOST_DEVICE inline void lstm_bwd(float c, float i, float u, float f, float o, float dc_next, float dh_next,
                                    float& dc, float& di, float& du, float& df, float& d_o) {
  const float ig = sigmoid(i), ug = tanh_out<kBf16>(u), fg = sigmoid(f), og = sigmoid(o);
  const float cn = fg * c + ig * ug;
  const float t = tanh_out<kBf16>(cn);
  const float dct = dc_next + dh_next * og * tanh_parts(cn).sech2;
  dc = dct * fg;
  di = dct * ug * ig * (1.0f - ig);
  du = dct * ig * tanh_parts(u).sech2;
  df = dct * c * fg * (1.0f - fg);
  d_o = dh_next * t * og * (1.0f - og);
}

// ---- layer norm row decomposition ---------------------------------------------------------------
// With features last, sample n / segment s is the contiguous row r = n·S + s of Ks = K/S elements;
// its gain slice starts at s·Ks and its statistics live at s·N + n.
BS_HOST_DEVICE inline int64_t ln_stat_index(int64_t r, int64_t S, int64_t N) { return (r % S) * N + r / S; }

}  // namespace bs::ops
