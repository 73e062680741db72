// CUDA ops backend: unary and binary element-wise ops and their gradients, float cast, add_n,
// dropout. One kernel instantiation per dtype; the op is a uniform run-time switch.
#include <algorithm>
#include <type_traits>

#include "kernels/ew/ops_cuda.cuh"
#include "ops/ew_math.hpp"

namespace bs::ops {
namespace {

// Calls f(std::integral_constant<int32_t, op>{}) for the run-time op: each case then holds the
// whole 8-element loop of one op (no switch per element, and the 8 elements' MUFU latencies overlap).
template <typename F>
__device__ __forceinline__ void with_unary_op(int32_t op, F&& f) {
  using std::integral_constant;
  switch (op) {
    case BS_EW_NEGATIVE: return f(integral_constant<int32_t, BS_EW_NEGATIVE>{});
    case BS_EW_RECIPROCAL: return f(integral_constant<int32_t, BS_EW_RECIPROCAL>{});
    case BS_EW_SQUARE: return f(integral_constant<int32_t, BS_EW_SQUARE>{});
    case BS_EW_SQRT: return f(integral_constant<int32_t, BS_EW_SQRT>{});
    case BS_EW_EXP: return f(integral_constant<int32_t, BS_EW_EXP>{});
    case BS_EW_LOG: return f(integral_constant<int32_t, BS_EW_LOG>{});
    case BS_EW_SIGMOID: return f(integral_constant<int32_t, BS_EW_SIGMOID>{});
    case BS_EW_TANH: return f(integral_constant<int32_t, BS_EW_TANH>{});
    case BS_EW_RELU: return f(integral_constant<int32_t, BS_EW_RELU>{});
    case BS_EW_ELU: return f(integral_constant<int32_t, BS_EW_ELU>{});
    case BS_EW_GELU: return f(integral_constant<int32_t, BS_EW_GELU>{});
    default: return f(integral_constant<int32_t, BS_EW_SWISH>{});
  }
}

template <bool kBf16>  // results rounded to bf16: tanh may use the hardware approximation (tanh_out)
struct UnaryOp {
  int32_t op;
  float alpha;
  __device__ void operator()(int64_t, const float (&x)[1][8], float (&y)[1][8]) const {
    with_unary_op(op, [&](auto k) {
      for (int j = 0; j < 8; ++j) y[0][j] = unary_fwd<kBf16>(k.value, x[0][j], alpha);
    });
  }
};

struct UnaryGradOp {  // in: dy, x
  int32_t op;
  float alpha;
  __device__ void operator()(int64_t, const float (&x)[2][8], float (&y)[1][8]) const {
    with_unary_op(op, [&](auto k) {
      for (int j = 0; j < 8; ++j) y[0][j] = x[0][j] * unary_deriv(k.value, x[1][j], alpha);
    });
  }
};

struct BinaryOp {
  int32_t op;
  __device__ void operator()(int64_t, const float (&x)[2][8], float (&y)[1][8]) const {
    for (int j = 0; j < 8; ++j) y[0][j] = binary_fwd(op, x[0][j], x[1][j]);
  }
};

template <typename T>
struct BinaryVecOp {  // y is a (cols) vector read through the cache
  int32_t op;
  const void* yv;
  int64_t cols;
  __device__ void operator()(int64_t i, const float (&x)[1][8], float (&y)[1][8]) const {
    for (int j = 0; j < 8; ++j) y[0][j] = binary_fwd(op, x[0][j], ld<T>(yv, (i + j) % cols));
  }
};

struct BinaryGradOp {  // in: dz, x, y; out: dx, dy
  int32_t op;
  __device__ void operator()(int64_t, const float (&x)[3][8], float (&y)[2][8]) const {
    for (int j = 0; j < 8; ++j) binary_grad(op, x[1][j], x[2][j], x[0][j], y[0][j], y[1][j]);
  }
};

struct CopyOp {
  __device__ void operator()(int64_t, const float (&x)[1][8], float (&y)[1][8]) const {
    for (int j = 0; j < 8; ++j) y[0][j] = x[0][j];
  }
};

// dy of a broadcast vector y: column sums of binary_grad's dy, dx written on the way.
template <typename T>
struct BinaryVecGrad {
  BinaryArgs a;
  struct State {
    float y;
  };
  __device__ State init(int64_t c) const { return {ld<T>(a.y, c)}; }
  __device__ void term(State& s, int64_t e, int64_t, int64_t, float& r1, float&) const {
    float dx, dy;
    binary_grad(a.op, ld<T>(a.x, e), s.y, ld<T>(a.dz, e), dx, dy);
    if (a.dx) st<T>(a.dx, e, dx);
    r1 += dy;
  }
  __device__ void finish(State&, int64_t c, float r1, float, bool write) const {
    if (write && a.dy) st<T>(a.dy, c, r1);
  }
  __device__ bool apply_pass() const { return false; }
  __device__ void apply(const State&, int64_t, int64_t, int64_t, float, float) const {}
};

template <typename T>
__global__ void __launch_bounds__(kMapThreads) add_n_kernel(AddNArgs a, bool vec) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * kMapThreads;
  for (int64_t p = static_cast<int64_t>(blockIdx.x) * kMapThreads + threadIdx.x; p * 8 < a.n; p += stride) {
    const int64_t i = p * 8;
    float acc[8] = {}, v[8];
    for (int k = 0; k < a.count; ++k) {
      load8_clip<T>(a.xs[k], i, a.n, vec, v);
      for (int j = 0; j < 8; ++j) acc[j] += v[j];
    }
    store8_clip<T>(a.y, i, a.n, vec, acc);
  }
}

// One thread per 8-element pack (coalesced 16-byte loads and stores): the pack's 8 keep bits are a
// byte of its 32-element mask word, and the 4 lanes sharing a word OR their bytes together with two
// xor-shuffles before one of them stores it (no atomics); every lane of a warp with work reaches the
// shuffles. x is loaded before the two Philox blocks are computed, so the load's latency hides
// behind them. For 16-bit data the drawing kernel is bound by instruction issue, not memory (the two
// Philox blocks are ~100 of its ~190 instructions per pack), so it is kept lean: round keys from the
// host (DropoutArgs::keys), 32-bit keep tests and block indices (Ix, when every index fits), one
// instantiation per mode, so that the keep tests' predicates select the outputs directly, no
// grid-stride loop (dropout_kernel), and no bounds logic where none is needed (kFull). Each of these
// measured 3-15 % of its time (bench/notes/ops.md).
enum class DropMode { kMaskOnly, kFprop, kFpropMask, kApply };

template <typename Ix>
__device__ __forceinline__ uint32_t dropout_bits8(const DropoutArgs& a, Ix p) {
  const bool all = a.threshold > 0xffffffffu;  // keep_prob = 1
  const uint32_t threshold = static_cast<uint32_t>(a.threshold);
  uint32_t bits = 0;
  for (int b = 0; b < 2; ++b) {
    uint32_t r[4];
    dropout_words(a.keys, a.offset, static_cast<uint64_t>(2 * p + static_cast<Ix>(b)), r);
    for (int j = 0; j < 4; ++j) bits |= (all || r[j] < threshold ? 1u : 0u) << (4 * b + j);
  }
  return bits;
}

// kFull: every pack of the launch is whole and its data 16-byte aligned (whole 256-pack blocks, so
// mask words are whole too): no bounds logic. The launch that follows it covers the rest (under 2048
// elements) with the checks, which cost the bf16 drawing kernel ~10 % of its instructions.
template <typename T, typename Ix, DropMode kMode, bool kFull>
__device__ __forceinline__ void dropout_pack(const DropoutArgs& a, Ix p, bool vec) {
  constexpr bool kStoreMask = kMode == DropMode::kMaskOnly || kMode == DropMode::kFpropMask;
  const Ix n = static_cast<Ix>(a.n), packs = (n + 7) / 8;
  const int byte = static_cast<int>(threadIdx.x % 4);
  const bool active = kFull || p < packs;
  const Ix i = p * 8, end = kFull ? i + 8 : n;
  Raw8<T> rx{};
  if (kMode != DropMode::kMaskOnly && active) raw8_clip<T>(a.x, i, end, kFull || vec, rx);  // unpacked after Philox
  uint32_t bits8 = 0;
  if constexpr (kMode == DropMode::kApply) {
    if (active) bits8 = (a.mask_in[p / 4] >> (8 * byte)) & 0xffu;
  } else if (active) {
    bits8 = dropout_bits8(a, p);
  }
  if constexpr (kStoreMask) {  // bits past n are 0 in the stored mask
    uint32_t word = (!kFull && n - i < 8 ? bits8 & (0xffu >> (8 - (n - i))) : bits8) << (8 * byte);
    word |= __shfl_xor_sync(0xffffffffu, word, 1);
    word |= __shfl_xor_sync(0xffffffffu, word, 2);
    if (active && byte == 0) a.mask_out[p / 4] = word;
  }
  if (kMode == DropMode::kMaskOnly || !active) return;
  float v[8];
  unpack8(rx, v);
  for (int j = 0; j < 8; ++j) v[j] = (bits8 >> j) & 1u ? v[j] * a.scale : 0.0f;
  store8_clip<T>(a.y, i, end, kFull || vec, v);
}

// Packs [p0, limit), lanes of a warp together (the mask shuffles). The drawing modes take one pack
// per thread and no loop; the memory-bound apply keeps a grid-stride loop (with a grid of all packs
// it runs once), which measured 97 % of copy speed against 90 % without it (H200, bf16; not
// explained by the instruction count, which is the same).
template <typename T, typename Ix, DropMode kMode, bool kFull>
__global__ void __launch_bounds__(kMapThreads) dropout_kernel(DropoutArgs a, Ix p0, Ix limit, bool vec) {
  const int lane = static_cast<int>(threadIdx.x % 32);
  Ix p = p0 + static_cast<Ix>(blockIdx.x) * kMapThreads + threadIdx.x;
  if constexpr (kMode == DropMode::kApply) {
    for (; p - lane < limit; p += static_cast<Ix>(gridDim.x) * kMapThreads)
      dropout_pack<T, Ix, kMode, kFull>(a, p, vec);
  } else if (p - lane < limit) {
    dropout_pack<T, Ix, kMode, kFull>(a, p, vec);
  }
}

template <typename T, DropMode kMode>
void launch_dropout(const DropoutArgs& a, bool vec) {
  const int64_t packs = (a.n + 7) / 8;
  const int64_t full = vec ? a.n / (8 * kMapThreads) : 0;  // blocks of kFull
  const int64_t rest = (packs - full * kMapThreads + kMapThreads - 1) / kMapThreads;
  if (std::max(full, rest) > 0x7fffffff)
    fail(BS_STATUS_INVALID_VALUE, "dropout: n = ", a.n, " is past the CUDA grid limit");
  auto run = [&](auto ix) {
    using Ix = decltype(ix);
    const cudaStream_t s = as_stream(a.stream);
    const Ix split = static_cast<Ix>(full * kMapThreads);
    if (full > 0)
      dropout_kernel<T, Ix, kMode, true><<<static_cast<unsigned>(full), kMapThreads, 0, s>>>(a, Ix{0}, split, vec);
    if (rest > 0)
      dropout_kernel<T, Ix, kMode, false>
          <<<static_cast<unsigned>(rest), kMapThreads, 0, s>>>(a, split, static_cast<Ix>(packs), vec);
  };
  if (a.n + 32 * 8 < (int64_t{1} << 32))  // 32-bit indices when every one (and a warp's overshoot) fits
    run(uint32_t{});
  else
    run(int64_t{});
}

}  // namespace

void CudaOps::ew_unary(const UnaryArgs& a) const {
  dispatch_dtype(a.dtype, [&](auto tag) {
    using T = decltype(tag);
    MapIO io;
    io.out[0] = a.out;
    if (a.grad) {
      io.in[0] = a.dy;
      io.in[1] = a.x;
      launch_map<T, T, 2, 1>(a.n, io, UnaryGradOp{a.op, a.alpha}, a.stream, "bs_ew_unary_grad kernel");
    } else {
      io.in[0] = a.x;
      launch_map<T, T, 1, 1>(a.n, io, UnaryOp<std::is_same_v<T, bf16_t>>{a.op, a.alpha}, a.stream,
                             "bs_ew_unary kernel");
    }
  });
}

void CudaOps::ew_binary(const BinaryArgs& a) const {
  dispatch_dtype(a.dtype, [&](auto tag) {
    using T = decltype(tag);
    MapIO io;
    io.in[0] = a.x;
    io.out[0] = a.z;
    if (a.y_vec) {
      launch_map<T, T, 1, 1>(a.rows * a.cols, io, BinaryVecOp<T>{a.op, a.y, a.cols}, a.stream, "bs_ew_binary kernel");
    } else {
      io.in[1] = a.y;
      launch_map<T, T, 2, 1>(a.rows * a.cols, io, BinaryOp{a.op}, a.stream, "bs_ew_binary kernel");
    }
  });
}

void CudaOps::ew_binary_grad(const BinaryArgs& a) const {
  dispatch_dtype(a.dtype, [&](auto tag) {
    using T = decltype(tag);
    if (a.y_vec) {
      launch_channel_reduce(BinaryVecGrad<T>{a}, a.rows, a.cols, 1, a.stream, "bs_ew_binary_grad kernel");
      return;
    }
    MapIO io;
    io.in[0] = a.dz;
    io.in[1] = a.x;
    io.in[2] = a.y;
    io.out[0] = a.dx;
    io.out[1] = a.dy;
    launch_map<T, T, 3, 2>(a.rows * a.cols, io, BinaryGradOp{a.op}, a.stream, "bs_ew_binary_grad kernel");
  });
}

void CudaOps::float_cast(const CastArgs& a) const {
  dispatch_dtype(a.src, [&](auto s) {
    dispatch_dtype(a.dst, [&](auto d) {
      MapIO io;
      io.in[0] = a.x;
      io.out[0] = a.y;
      launch_map<decltype(s), decltype(d), 1, 1>(a.n, io, CopyOp{}, a.stream, "bs_float_cast kernel");
    });
  });
}

void CudaOps::add_n(const AddNArgs& a) const {
  bool vec = aligned16(a.y);
  for (int k = 0; k < a.count; ++k) vec = vec && aligned16(a.xs[k]);
  dispatch_dtype(a.dtype, [&](auto tag) {
    add_n_kernel<decltype(tag)><<<grid_for((a.n + 7) / 8, kMapThreads), kMapThreads, 0, as_stream(a.stream)>>>(a, vec);
  });
  check_launch("bs_add_n kernel");
}

void CudaOps::dropout(const DropoutArgs& a) const {
  const bool vec = (!a.x || aligned16(a.x)) && (!a.y || aligned16(a.y));
  dispatch_dtype(a.dtype, [&](auto tag) {
    using T = decltype(tag);
    if (!a.x)
      launch_dropout<T, DropMode::kMaskOnly>(a, vec);
    else if (a.mask_in)
      launch_dropout<T, DropMode::kApply>(a, vec);
    else if (a.mask_out)
      launch_dropout<T, DropMode::kFpropMask>(a, vec);
    else
      launch_dropout<T, DropMode::kFprop>(a, vec);
  });
  check_launch("bs_dropout kernel");
}

}  // namespace bs::ops
