#pragma once
// Element math of the optimizers (bs_optim.h), shared by the CPU loops and the CUDA kernels so
// that both backends compute the same formulas in the same order (fp32 throughout).
#include <cmath>
#include <cstdint>

#include "core/dtype.hpp"

namespace bs {

// The gradient filter of bs_grad_filter_t with its scales folded: g -> filter(g)·scale.
struct GradFilter {
  float scale = 1.0f;     // grad_scale (times norm_scale once read)
  float saturate = 0.0f;  // 0 = off
  int32_t zero_infs = 0, zero_nans = 0;
};

BS_HOST_DEVICE inline float filter_grad(float g, const GradFilter& f) {
  const uint32_t bits = float_bits(g) & 0x7fffffffu;
  if (bits > 0x7f800000u) {
    if (f.zero_nans) g = 0.0f;
  } else if (bits == 0x7f800000u) {
    if (f.zero_infs) g = 0.0f;
  }
  if (f.saturate > 0.0f) g = fmaxf(fminf(g, f.saturate), -f.saturate);  // NaN stays NaN
  return g * f.scale;
}

// One Adam step's scalars, prepared on the host from bs_adam_hparams_t (bias corrections folded):
// p -= step_size·m / (sqrt(v)·denom_scale + eps), step_size = lr/(1-β1ᵗ) (torch) or
// lr·sqrt(1-β2ᵗ)/(1-β1ᵗ) (original); denom_scale = 1/sqrt(1-β2ᵗ) (torch) or 1 (original).
struct AdamScalars {
  int32_t adamw = 1;
  float beta1 = 0.9f, beta2 = 0.999f, eps = 1e-8f;
  float weight_decay = 0.0f;
  float lr = 1e-3f, lr_sel = 1e-3f;                 // learning rates (weight decay of AdamW)
  float step_size = 1e-3f, step_size_sel = 1e-3f;  // with the bias corrections
  float denom_scale = 1.0f;
  float clip_sigma = 0.0f;
  GradFilter filter;
};

// One element; `sel` picks the block's learning rate. g arrives raw (the filter is applied here).
BS_HOST_DEVICE inline void adam_element(const AdamScalars& s, bool sel, float g, float& p, float& m, float& v) {
  g = filter_grad(g, s.filter);
  if (s.adamw)
    p *= 1.0f - (sel ? s.lr_sel : s.lr) * s.weight_decay;
  else
    g += s.weight_decay * p;
  v = s.beta2 * v + (1.0f - s.beta2) * g * g;
  if (s.clip_sigma > 0.0f) {
    const float c = s.clip_sigma * sqrtf(v);
    g = fmaxf(fminf(g, c), -c);
  }
  m = s.beta1 * m + (1.0f - s.beta1) * g;
  p -= (sel ? s.step_size_sel : s.step_size) * m / (sqrtf(v) * s.denom_scale + s.eps);
}

// clip_by_global_norm's scale: clip/max(norm, clip), 1 for an infinite clip, 0 (the "skip this step"
// sentinel) when the norm is not finite.
BS_HOST_DEVICE inline bool is_finite_bits(float v) { return (float_bits(v) & 0x7f800000u) != 0x7f800000u; }
BS_HOST_DEVICE inline float clip_scale(float norm, float clip_norm) {
  if (!is_finite_bits(norm)) return 0.0f;
  if (!is_finite_bits(clip_norm)) return 1.0f;
  return clip_norm / fmaxf(norm, clip_norm);
}

BS_HOST_DEVICE inline float ema_element(float decay, float e, float p) { return e - (1.0f - decay) * (e - p); }

}  // namespace bs
