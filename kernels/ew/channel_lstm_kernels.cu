// CUDA ops backend: per-channel ops (bias_act, cwise_linear, batch norm), LSTM gates,
// split4/concat4 and sparse projections.
#include <type_traits>

#include "kernels/ew/ops_cuda.cuh"
#include "ops/ew_math.hpp"

namespace bs::ops {
namespace {

// ---- per-channel ops --------------------------------------------------------------------------
// Forward (bias_act, cwise_linear, batch-norm inference): one thread per 8-element pack. The
// channel of the pack's first element costs one division (in Ix: 32-bit when every index fits, a
// 64-bit one is ~70 instructions); the other 7 follow by counting, and a channel's coefficients are
// formed once per pack it touches. Channels last (I = 1) with C % 8 == 0 and 16-byte aligned
// coefficient vectors (`vec_coef`): the pack's channels are 8 consecutive ones, read as float4 pairs.
// The coefficient kind and the activation are template parameters (host dispatch): with both decided
// per element bias_act in bf16 was bound by instruction issue at 66 % of copy speed, and with the
// activation switched per pack at 85 %; as constants, 93 % (H200, bench/notes/ops.md).
template <typename T, typename Ix, CoefKind kCoef, int32_t kAct>
__global__ void __launch_bounds__(kMapThreads) channel_fwd_kernel(ChannelArgs a, bool vec, bool vec_coef) {
  constexpr bool kBn = kCoef == CoefKind::kBatchnorm;
  const Ix C = static_cast<Ix>(a.C), I = static_cast<Ix>(a.I), n = static_cast<Ix>(a.O) * C * I;
  const Ix stride = static_cast<Ix>(gridDim.x) * kMapThreads * 8;
  for (Ix i = (static_cast<Ix>(blockIdx.x) * kMapThreads + threadIdx.x) * 8; i < n; i += stride) {
    float x[8], y[8];
    Raw8<T> rx;
    raw8_clip<T>(a.x, i, n, vec, rx);  // converted inside the branches below, after the coefficient loads
    if (vec_coef) {
      const Ix c0 = i % C;
      float s[8], b[8], m[8] = {}, v[8] = {};
      vec8(a.a, c0, 1.0f, s);
      vec8(a.b, c0, 0.0f, b);
      if constexpr (kBn) {
        vec8(a.mean, c0, 0.0f, m);
        vec8(a.var, c0, 0.0f, v);
      }
      unpack8(rx, x);
      for (int j = 0; j < 8; ++j) {
        const Coef k = channel_coef_as<kCoef>(a, s[j], b[j], m[j], v[j]);
        y[j] = act_fwd(kAct, k.scale * (x[j] + k.pre) + k.post);
      }
    } else {
      const Ix r = i / I;
      Ix q = i - r * I, c = r % C;
      Coef k{};
      unpack8(rx, x);
      for (int j = 0; j < 8; ++j) {
        if (j == 0 || q == 0)
          k = channel_coef_as<kCoef>(a, a.a ? a.a[c] : 1.0f, a.b ? a.b[c] : 0.0f, kBn && a.mean ? a.mean[c] : 0.0f,
                                     kBn && a.var ? a.var[c] : 0.0f);
        y[j] = act_fwd(kAct, k.scale * (x[j] + k.pre) + k.post);
        if (++q == I) {  // past the tail the channel keeps wrapping in range: no out-of-bounds reads
          q = 0;
          if (++c == C) c = 0;
        }
      }
    }
    store8_clip<T>(a.out, i, n, vec, y);
  }
}

// Calls f(std::integral_constant<int32_t, act>{}) for the run-time activation.
template <typename F>
void with_act(int32_t act, F&& f) {
  using std::integral_constant;
  switch (act) {
    case BS_ACT_RELU: return f(integral_constant<int32_t, BS_ACT_RELU>{});
    case BS_ACT_GELU: return f(integral_constant<int32_t, BS_ACT_GELU>{});
    case BS_ACT_FAST_GELU: return f(integral_constant<int32_t, BS_ACT_FAST_GELU>{});
    default: return f(integral_constant<int32_t, BS_ACT_NONE>{});
  }
}

template <typename T, CoefKind kCoef>
void launch_channel_fwd(const ChannelArgs& a) {
  const int64_t n = a.O * a.C * a.I;
  const bool vec = aligned16(a.x) && aligned16(a.out);
  const bool vec_coef = vec && a.I == 1 && a.C % 8 == 0 && (!a.a || aligned16(a.a)) && (!a.b || aligned16(a.b)) &&
                        (!a.mean || aligned16(a.mean)) && (!a.var || aligned16(a.var));
  const unsigned grid = grid_for((n + 7) / 8, kMapThreads);
  // 32-bit indices when the largest one (n plus a grid stride of overshoot) fits.
  const bool small = n + static_cast<int64_t>(grid) * kMapThreads * 8 < (int64_t{1} << 32);
  with_act(a.act, [&](auto act) {
    constexpr int32_t kAct = decltype(act)::value;
    if (small)
      channel_fwd_kernel<T, uint32_t, kCoef, kAct><<<grid, kMapThreads, 0, as_stream(a.stream)>>>(a, vec, vec_coef);
    else
      channel_fwd_kernel<T, int64_t, kCoef, kAct><<<grid, kMapThreads, 0, as_stream(a.stream)>>>(a, vec, vec_coef);
  });
  check_launch("per-channel forward kernel");
}

template <typename T>
struct BnTrainFwd {
  ChannelArgs a;
  float inv_m;
  struct State {
    float shift;
    Coef k;
  };
  __device__ State init(int64_t c) const { return {ld<T>(a.x, c * a.I), Coef{}}; }
  __device__ void term(State& s, int64_t e, int64_t, int64_t, float& r1, float& r2) const {
    const float d = ld<T>(a.x, e) - s.shift;
    r1 += d;
    r2 += d * d;
  }
  __device__ void finish(State& s, int64_t c, float r1, float r2, bool write) const {
    const float m = r1 * inv_m;
    const float mean = s.shift + m, var = fmaxf(r2 * inv_m - m * m, 0.0f);
    if (write) {
      a.mean_out[c] = mean;
      a.var_out[c] = var;
    }
    s.k = channel_coef(a, c, mean, var);
  }
  __device__ bool apply_pass() const { return true; }
  __device__ void apply(const State& s, int64_t e, int64_t, int64_t, float, float) const {
    st<T>(a.out, e, act_fwd(a.act, s.k.scale * (ld<T>(a.x, e) + s.k.pre) + s.k.post));
  }
};

template <typename T>
struct ChannelBwd {
  ChannelArgs a;
  float inv_m;
  struct State {
    Coef k;
  };
  __device__ State init(int64_t c) const {
    return {channel_coef(a, c, a.mean ? a.mean[c] : 0.0f, a.var ? a.var[c] : 0.0f)};
  }
  __device__ void term(State& s, int64_t e, int64_t, int64_t, float& r1, float& r2) const {
    const float xp = ld<T>(a.x, e) + s.k.pre;
    const float g = ld<T>(a.dy, e) * act_deriv(a.act, s.k.scale * xp + s.k.post);
    r1 += g;
    r2 += g * xp;
    if (a.mode == ChannelMode::kBackward && a.out) st<T>(a.out, e, s.k.scale * g);
  }
  __device__ void finish(State& s, int64_t c, float r1, float r2, bool write) const {
    if (write) channel_finish(a, c, s.k, r1, r2);
  }
  __device__ bool apply_pass() const { return a.mode == ChannelMode::kBnTrainBackward && a.out; }
  __device__ void apply(const State& s, int64_t e, int64_t, int64_t, float r1, float r2) const {
    const float xp = ld<T>(a.x, e) + s.k.pre;
    const float rr = s.k.rstd * s.k.rstd;
    st<T>(a.out, e, s.k.scale * (ld<T>(a.dy, e) - r1 * inv_m - xp * rr * r2 * inv_m));
  }
};

// ---- LSTM ---------------------------------------------------------------------------------------
// One thread per 8 features of a sample: its 5 (forward) or 7 (backward) 16-byte pack loads are
// issued before any conversion or math, so they are in flight together. Forward and backward are
// separate instantiations, so the forward's registers are its own (more CTAs per SM).
// Index math in `I` (uint32_t when every index fits: 64-bit division is ~70 instructions per pack);
// the bias is read as float4 pairs when `vec` (K % 8 == 0, every pointer 16-byte aligned), all four
// before any use: bias loads behind the clip test's branches were serialized, one L2 round trip
// each, and held the bf16 forward at 85 % of copy speed.
// bf16 results: tanh through the hardware approximation (tanh_out in ops/ew_math.hpp).
template <typename T, typename I, bool kBprop>
__global__ void __launch_bounds__(kMapThreads) lstm_kernel(LstmArgs a, bool vec) {
  constexpr bool kBf16 = std::is_same_v<T, bf16_t>;
  const I K = static_cast<I>(a.K), N = static_cast<I>(a.N), ppr = (K + 7) / 8;
  const I total = N * ppr;
  const I stride = static_cast<I>(gridDim.x) * kMapThreads;
  for (I p = static_cast<I>(blockIdx.x) * kMapThreads + threadIdx.x; p < total; p += stride) {
    const I n = p / ppr, k0 = (p - n * ppr) * 8, row = n * K, hrow = n * 4 * K;
    Raw8<T> rc, rg[4];  // every load first (raw8_clip), conversions after
    raw8_clip<T>(a.c, row + k0, row + K, vec, rc);
    for (int j = 0; j < 4; ++j) raw8_clip<T>(a.h, hrow + j * K + k0, hrow + j * K + K, vec, rg[j]);
    float c[8], g[4][8], b[4][8] = {};
    for (int j = 0; j < 4; ++j) {
      if (vec)  // whole aligned packs: one straight-line block of read-only loads
        vec8(a.bias, j * K + k0, 0.0f, b[j]);
      else if (a.bias)
        load8_clip<float>(a.bias, j * K + k0, j * K + K, false, b[j]);
    }
    for (int j = 0; j < 4; ++j) {
      unpack8(rg[j], g[j]);
      for (int e = 0; e < 8; ++e) g[j][e] += b[j][e];
    }
    unpack8(rc, c);
    if constexpr (!kBprop) {
      float cn[8], hn[8];
      for (int e = 0; e < 8; ++e) lstm_fwd<kBf16>(c[e], g[0][e], g[1][e], g[2][e] + a.forget_bias, g[3][e], cn[e], hn[e]);
      store8_clip<T>(a.c_next, row + k0, row + K, vec, cn);
      store8_clip<T>(a.h_next, row + k0, row + K, vec, hn);
    } else {
      float dcn[8] = {}, dhn[8] = {}, dc[8], d[4][8];
      Raw8<T> rdc{}, rdh{};  // zero bits = 0.0 in every dtype
      if (a.dc_next) raw8_clip<T>(a.dc_next, row + k0, row + K, vec, rdc);
      if (a.dh_next) raw8_clip<T>(a.dh_next, row + k0, row + K, vec, rdh);
      unpack8(rdc, dcn);
      unpack8(rdh, dhn);
      for (int e = 0; e < 8; ++e)
        lstm_bwd<kBf16>(c[e], g[0][e], g[1][e], g[2][e] + a.forget_bias, g[3][e], dcn[e], dhn[e], dc[e], d[0][e],
                        d[1][e], d[2][e], d[3][e]);
      store8_clip<T>(a.dc, row + k0, row + K, vec, dc);
      for (int j = 0; j < 4; ++j) store8_clip<T>(a.dh, hrow + j * K + k0, hrow + j * K + K, vec, d[j]);
    }
  }
}

template <typename T, bool kBprop>
void launch_lstm(const LstmArgs& a, bool vec) {
  const int64_t threads = a.N * ((a.K + 7) / 8);
  const unsigned grid = grid_for(threads, kMapThreads);
  // 32-bit indices when the largest index (h: N·4K, plus a grid stride of overshoot) fits.
  if (a.N * 4 * a.K + static_cast<int64_t>(grid) * kMapThreads * 8 < (int64_t{1} << 32))
    lstm_kernel<T, uint32_t, kBprop><<<grid, kMapThreads, 0, as_stream(a.stream)>>>(a, vec);
  else
    lstm_kernel<T, int64_t, kBprop><<<grid, kMapThreads, 0, as_stream(a.stream)>>>(a, vec);
}

// Column sums of a typed (O, C) matrix into fp32 (LSTM dbias over the stored dh).
template <typename T>
struct ColumnSum {
  const void* m;
  float* out;
  struct State {};
  __device__ State init(int64_t) const { return {}; }
  __device__ void term(State&, int64_t e, int64_t, int64_t, float& r1, float&) const { r1 += ld<T>(m, e); }
  __device__ void finish(State&, int64_t c, float r1, float, bool write) const {
    if (write) out[c] = r1;
  }
  __device__ bool apply_pass() const { return false; }
  __device__ void apply(const State&, int64_t, int64_t, int64_t, float, float) const {}
};

// ---- split4 / concat4: bit copies of K-element row pieces -------------------------------------
// Element g of a 4-array kernel parameter by selects: indexing it with a runtime g would copy the
// array to local memory first.
template <typename P>
__device__ __forceinline__ P pick4(const P (&v)[4], int64_t g) {
  return g == 0 ? v[0] : (g == 1 ? v[1] : (g == 2 ? v[2] : v[3]));
}

template <typename U>
__global__ void __launch_bounds__(kMapThreads) split4_kernel(Split4Args a, bool vec) {
  const int64_t K = a.K, ppr = (K + 7) / 8;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * kMapThreads;
  for (int64_t p = static_cast<int64_t>(blockIdx.x) * kMapThreads + threadIdx.x; p < a.N * 4 * ppr; p += stride) {
    const int64_t n = p / (4 * ppr), g = (p / ppr) % 4, k0 = (p % ppr) * 8;
    const int64_t whole = n * 4 * K + g * K + k0, part = n * K + k0;
    const U* src = static_cast<const U*>(a.concat ? pick4(a.src_parts, g) : a.src_whole) + (a.concat ? part : whole);
    U* dst = static_cast<U*>(a.concat ? a.dst_whole : pick4(a.parts, g)) + (a.concat ? whole : part);
    if (vec && k0 + 8 <= K) {
      for (size_t q = 0; q < sizeof(U) * 8 / 16; ++q)
        reinterpret_cast<uint4*>(dst)[q] = reinterpret_cast<const uint4*>(src)[q];
    } else {
      for (int64_t j = 0; j < 8 && k0 + j < K; ++j) dst[j] = src[j];
    }
  }
}

// ---- sparse projections -------------------------------------------------------------------------
template <typename T>
__device__ __forceinline__ float proj_combine(const ProjArgs& a, int64_t m, int64_t self_e, int64_t mapped_e) {
  switch (a.mode) {
    case ProjMode::kCopy: return m >= 0 ? ld<T>(a.b, mapped_e) : 0.0f;
    case ProjMode::kAdd: return ld<T>(a.a, self_e) + (m >= 0 ? ld<T>(a.b, mapped_e) : 0.0f);
    case ProjMode::kMul: return ld<T>(a.a, self_e) * (m >= 0 ? ld<T>(a.b, mapped_e) : 1.0f);
    default: return ld<T>(a.a, mapped_e) * ld<T>(a.b, mapped_e);
  }
}

template <typename T>
__global__ void __launch_bounds__(kMapThreads) proj_kernel(ProjArgs a) {
  const int64_t F = a.out_features, N = a.N, total = F * N;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * kMapThreads;
  for (int64_t e = static_cast<int64_t>(blockIdx.x) * kMapThreads + threadIdx.x; e < total; e += stride) {
    // Features first: consecutive threads walk one feature row (coalesced); features last: one sample.
    const int64_t f = a.feature_axis == 0 ? e / N : e % F, n = a.feature_axis == 0 ? e % N : e / F;
    const int64_t m = a.map ? a.map[f] : -1;
    const int64_t mapped = a.feature_axis == 0 ? m * N + n : n * a.in_features + m;
    st<T>(a.out, e, proj_combine<T>(a, m, e, mapped));
  }
}

}  // namespace

void CudaOps::channel(const ChannelArgs& a) const {
  const int64_t m = a.O * a.I;
  const float inv_m = m > 0 ? 1.0f / static_cast<float>(m) : 0.0f;
  dispatch_dtype(a.dtype, [&](auto tag) {
    using T = decltype(tag);
    switch (a.mode) {
      case ChannelMode::kForward:
        if (a.coef == CoefKind::kBatchnorm)
          launch_channel_fwd<T, CoefKind::kBatchnorm>(a);
        else
          launch_channel_fwd<T, CoefKind::kAffine>(a);
        break;
      case ChannelMode::kBnTrainForward:
        launch_channel_reduce(BnTrainFwd<T>{a, inv_m}, a.O, a.C, a.I, a.stream, "batch norm forward kernel");
        break;
      default:
        launch_channel_reduce(ChannelBwd<T>{a, inv_m}, a.O, a.C, a.I, a.stream, "per-channel backward kernel");
        break;
    }
  });
}

void CudaOps::lstm_fprop(const LstmArgs& a) const {
  const bool vec = a.K % 8 == 0 && aligned16(a.c) && aligned16(a.h) && aligned16(a.c_next) && aligned16(a.h_next) &&
                   (!a.bias || aligned16(a.bias));
  dispatch_dtype(a.dtype, [&](auto tag) { launch_lstm<decltype(tag), false>(a, vec); });
  check_launch("bs_lstm_gates_fprop kernel");
}

void CudaOps::lstm_bprop(const LstmArgs& a) const {
  const bool vec = a.K % 8 == 0 && aligned16(a.c) && aligned16(a.h) && aligned16(a.dc) && aligned16(a.dh) &&
                   (!a.dc_next || aligned16(a.dc_next)) && (!a.dh_next || aligned16(a.dh_next)) &&
                   (!a.bias || aligned16(a.bias));
  dispatch_dtype(a.dtype, [&](auto tag) {
    using T = decltype(tag);
    if (a.N > 0) {
      launch_lstm<T, true>(a, vec);
      check_launch("bs_lstm_gates_bprop kernel");
    }
    if (a.dbias) launch_channel_reduce(ColumnSum<T>{a.dh, a.dbias}, a.N, 4 * a.K, 1, a.stream, "LSTM dbias kernel");
  });
}

void CudaOps::split4(const Split4Args& a) const {
  bool vec = a.K % 8 == 0 && aligned16(a.concat ? a.dst_whole : a.src_whole);
  for (int g = 0; g < 4; ++g) vec = vec && aligned16(a.concat ? a.src_parts[g] : a.parts[g]);
  const unsigned grid = grid_for(a.N * 4 * ((a.K + 7) / 8), kMapThreads);
  if (a.dtype == BS_DTYPE_F32)
    split4_kernel<uint32_t><<<grid, kMapThreads, 0, as_stream(a.stream)>>>(a, vec);
  else
    split4_kernel<uint16_t><<<grid, kMapThreads, 0, as_stream(a.stream)>>>(a, vec);
  check_launch("bs_split4/bs_concat4 kernel");
}

void CudaOps::sparse_proj(const ProjArgs& a) const {
  DeviceGuard guard(a.device);
  dispatch_dtype(a.dtype, [&](auto tag) {
    proj_kernel<decltype(tag)>
        <<<grid_for(a.out_features * a.N, kMapThreads), kMapThreads, 0, as_stream(a.stream)>>>(a);
  });
  check_launch("bs_sparse_proj kernel");
}

}  // namespace bs::ops
