// CPU backend: per-channel ops on (O, C, I) tensors (bias_act, cwise_linear, batch norm).
//
// A task owns whole channels (max(1, 64/I) of them) and sweeps O and I in order, so channel
// statistics and sums do not depend on the thread count. Loop order o → c → i keeps the accesses
// contiguous for I = 1 (bias along the last axis) as well as for large I (images).
#include <algorithm>

#include "ops/ew_math.hpp"
#include "ops/ops_cpu.hpp"

namespace bs::ops {
namespace {

constexpr int64_t kMaxChannels = 64;

template <typename T>
void channel_typed(const ChannelArgs& a) {
  const int64_t C = a.C, I = a.I, O = a.O;
  const int64_t cb = std::max<int64_t>(1, kMaxChannels / std::max<int64_t>(I, 1));
  const int64_t tasks = (C + cb - 1) / cb;
  const float inv_m = O * I > 0 ? 1.0f / static_cast<float>(O * I) : 0.0f;
#pragma omp parallel for schedule(static)
  for (int64_t t = 0; t < tasks; ++t) {
    const int64_t c0 = t * cb, c1 = std::min(C, c0 + cb);
    Coef k[kMaxChannels];
    float r1[kMaxChannels] = {}, r2[kMaxChannels] = {};
    auto sweep = [&](auto&& fn) {
      for (int64_t o = 0; o < O; ++o)
        for (int64_t c = c0; c < c1; ++c)
          for (int64_t i = 0; i < I; ++i) fn(c - c0, (o * C + c) * I + i);
    };
    if (a.mode == ChannelMode::kBnTrainForward) {
      float shift[kMaxChannels];
      for (int64_t c = c0; c < c1; ++c) shift[c - c0] = ld<T>(a.x, c * I);
      sweep([&](int64_t j, int64_t e) {
        const float d = ld<T>(a.x, e) - shift[j];
        r1[j] += d;
        r2[j] += d * d;
      });
      for (int64_t c = c0; c < c1; ++c) {
        const int64_t j = c - c0;
        const float m = r1[j] * inv_m;
        const float mean = shift[j] + m, var = std::max(r2[j] * inv_m - m * m, 0.0f);
        a.mean_out[c] = mean;
        a.var_out[c] = var;
        k[j] = channel_coef(a, c, mean, var);
      }
    } else {
      for (int64_t c = c0; c < c1; ++c)
        k[c - c0] = channel_coef(a, c, a.mean ? a.mean[c] : 0.0f, a.var ? a.var[c] : 0.0f);
    }
    if (a.mode == ChannelMode::kForward || a.mode == ChannelMode::kBnTrainForward) {
      sweep([&](int64_t j, int64_t e) {
        st<T>(a.out, e, act_fwd(a.act, k[j].scale * (ld<T>(a.x, e) + k[j].pre) + k[j].post));
      });
      continue;
    }
    const bool dx_now = a.mode == ChannelMode::kBackward && a.out;
    sweep([&](int64_t j, int64_t e) {
      const float xp = ld<T>(a.x, e) + k[j].pre;
      const float g = ld<T>(a.dy, e) * act_deriv(a.act, k[j].scale * xp + k[j].post);
      r1[j] += g;
      r2[j] += g * xp;
      if (dx_now) st<T>(a.out, e, k[j].scale * g);
    });
    for (int64_t c = c0; c < c1; ++c) channel_finish(a, c, k[c - c0], r1[c - c0], r2[c - c0]);
    if (a.mode == ChannelMode::kBnTrainBackward && a.out) {
      sweep([&](int64_t j, int64_t e) {
        const float xp = ld<T>(a.x, e) + k[j].pre;
        const float g = ld<T>(a.dy, e);
        st<T>(a.out, e, k[j].scale * (g - r1[j] * inv_m - xp * k[j].rstd * k[j].rstd * r2[j] * inv_m));
      });
    }
  }
}

}  // namespace

void CpuOps::channel(const ChannelArgs& a) const {
  dispatch_dtype(a.dtype, [&](auto tag) { channel_typed<decltype(tag)>(a); });
}

}  // namespace bs::ops
