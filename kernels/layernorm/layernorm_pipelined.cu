// Fast CUDA layer norm, features last (see layernorm_pipelined.cuh).
//
// Why: a kernel that loads a row into registers, reduces, then stores has loads in flight only
// during its first phase, and at ~100 registers per thread too few rows fit on an SM to cover the
// memory latency (measured: 57% of copy bandwidth for fp32, 28% for bf16 on an H200). Here a
// persistent CTA owns one row at a time and keeps the next two rows in flight with cp.async into a
// 3-stage shared-memory ring (4 for the 16-bit forward), so loads never stop while it reduces and
// stores; registers hold the current row's own slice (NP packs of 8 elements per thread) and, in the
// forward with one segment, the gain/bias of the thread's columns. The forward needs one CTA-wide
// exchange per row (merged moments, cta_moments).
//
// Backward also fuses dgain/dbias: every thread owns fixed columns across all rows of its CTA and
// accumulates g·xhat and g for them in registers; CTAs write their partials to the workspace and a
// second kernel sums them over CTAs in a fixed order (deterministic for a given device, no atomics,
// no second read of x and dy).
#include "core/checks.hpp"
#include "kernels/ew/ops_cuda.cuh"
#include "kernels/layernorm/layernorm_pipelined.cuh"
#include "ops/ew_math.hpp"

namespace bs::ops {
namespace {

constexpr int kStages = 3;        // rows in the shared-memory ring (current + 2 in flight)
// The forward of 16-bit rows keeps one more row in flight: its rows are half as long, and with the
// gain/bias registers 4 CTAs (not 5) fit an SM, so 3 stages would halve the bytes in flight.
template <typename T, bool kBprop>
constexpr int kStagesOf = !kBprop && sizeof(T) == 2 ? 4 : kStages;
constexpr int kMaxThreads = 512;  // threads per CTA (= per row)
constexpr int kPreferThreads = 256;  // more packs per thread beyond this: more CTAs (rows) per SM
constexpr int kMaxWarps = kMaxThreads / 32;
constexpr size_t kMaxSmem = 227 * 1024;

// ---- cp.async (sm_80+) -------------------------------------------------------------------------
__device__ __forceinline__ void cp_async16(void* smem, const void* gmem) {
  const unsigned s = static_cast<unsigned>(__cvta_generic_to_shared(smem));
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(s), "l"(gmem));
}
__device__ __forceinline__ void cp_async4(void* smem, const void* gmem) {
  const unsigned s = static_cast<unsigned>(__cvta_generic_to_shared(smem));
  asm volatile("cp.async.ca.shared.global [%0], [%1], 4;\n" ::"r"(s), "l"(gmem));
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
// Waits until at most kSt-1 groups of this thread are pending: of the kSt rows committed (groups
// complete in order), the oldest has landed.
template <int kSt>
__device__ __forceinline__ void cp_async_wait_oldest() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(kSt - 1));
}

// Sum over the CTA; every thread gets the same total (fixed order: lanes by xor tree, then warps
// 0..W-1). `buf` alternates between two halves so one __syncthreads per reduction suffices.
template <int NV>
__device__ __forceinline__ void cta_sum(float (&v)[NV], float (*buf)[kMaxWarps][NV], int& parity) {
  warp_sum(v);
  const int warp = threadIdx.x / 32, warps = blockDim.x / 32;
  if (threadIdx.x % 32 == 0)
    for (int j = 0; j < NV; ++j) buf[parity][warp][j] = v[j];
  __syncthreads();
  for (int j = 0; j < NV; ++j) {
    float s = 0.0f;
    for (int w = 0; w < warps; ++w) s += buf[parity][w][j];
    v[j] = s;
  }
  parity ^= 1;
}

// Row moments (count, mean, sum of squared deviations) merged pairwise (Chan, Golub & LeVeque),
// so the forward needs one CTA-wide exchange per row instead of a sum and then a sum of squares.
// The merge is symmetric in its operands (no FMA contraction, commutative steps; d² is the same for
// d and -d), so both lanes of every xor-shuffle step get bit-identical results and every thread of
// the row normalises with the same mean and rstd.
struct Moments {
  float n, mean, m2;
};

__device__ __forceinline__ Moments merge(const Moments& a, const Moments& b) {
  const float n = __fadd_rn(a.n, b.n);
  if (n == 0.0f) return a;
  const float mean = __fdividef(__fadd_rn(__fmul_rn(a.n, a.mean), __fmul_rn(b.n, b.mean)), n);
  const float d = __fsub_rn(b.mean, a.mean);
  const float w = __fdividef(__fmul_rn(a.n, b.n), n);
  return {n, mean, __fadd_rn(__fadd_rn(a.m2, b.m2), __fmul_rn(__fmul_rn(d, d), w))};
}

// Moments of the CTA's row; every thread gets the same result (lanes by xor tree, then warps
// 0..W-1 in order). `buf` alternates halves so one __syncthreads per row suffices.
__device__ __forceinline__ Moments cta_moments(Moments m, Moments (*buf)[kMaxWarps], int& parity) {
  for (int o = 16; o > 0; o >>= 1) {
    const Moments other{__shfl_xor_sync(0xffffffffu, m.n, o), __shfl_xor_sync(0xffffffffu, m.mean, o),
                        __shfl_xor_sync(0xffffffffu, m.m2, o)};
    m = merge(m, other);
  }
  const int warp = threadIdx.x / 32, warps = blockDim.x / 32;
  if (threadIdx.x % 32 == 0) buf[parity][warp] = m;
  __syncthreads();
  Moments t = buf[parity][0];
  for (int w = 1; w < warps; ++w) t = merge(t, buf[parity][w]);
  parity ^= 1;
  return t;
}

struct PipeParams {
  const void* x = nullptr;
  const void* dy = nullptr;
  void* out = nullptr;  // y or dx
  const float* gain = nullptr;
  const float* bias = nullptr;
  float* mean = nullptr;
  float* rstd = nullptr;
  float* partial = nullptr;  // bprop: [gridDim.x][2][K] dgain/dbias partials, or NULL
  int64_t rows = 0, N = 0;
  int Ks = 0, S = 1, packs = 0;
  float eps = 0.0f;
  int relu = 0;
};

// Issues the cp.async copies of this thread's slice of row r (inputs x and, for bprop, dy; and
// the row's statistics) into ring stage `stage`, then commits the group (empty past the end).
template <typename T, bool kBprop, int NP>
__device__ __forceinline__ void issue_row(const PipeParams& p, unsigned char* ring, size_t stage_bytes, float* stats,
                                          int64_t r, int stage) {
  if (r < p.rows) {
    constexpr int kChunks = 8 * sizeof(T) / 16;
    const size_t row_bytes = static_cast<size_t>(p.Ks) * sizeof(T);
    unsigned char* dst = ring + stage * stage_bytes;
    const unsigned char* src[2] = {static_cast<const unsigned char*>(p.x) + r * row_bytes,
                                   kBprop ? static_cast<const unsigned char*>(p.dy) + r * row_bytes : nullptr};
#pragma unroll
    for (int q = 0; q < NP; ++q) {
      const int pk = q * static_cast<int>(blockDim.x) + static_cast<int>(threadIdx.x);
      if (pk >= p.packs) break;
#pragma unroll
      for (int in = 0; in < (kBprop ? 2 : 1); ++in)
#pragma unroll
        for (int c = 0; c < kChunks; ++c) {
          const size_t off = static_cast<size_t>(pk) * 8 * sizeof(T) + c * 16;
          cp_async16(dst + in * row_bytes + off, src[in] + off);
        }
    }
    if (kBprop) {
      const int64_t si = ln_stat_index(r, p.S, p.N);
      float* slot = stats + (stage * blockDim.x + threadIdx.x) * 2;
      cp_async4(slot, p.mean + si);
      cp_async4(slot + 1, p.rstd + si);
    }
  }
  cp_async_commit();
}

// With one segment (S = 1) every row uses the same gain/bias columns, so each thread loads its
// columns' gain and bias once into registers (re-reading them per row cost as much L1/L2 traffic as
// the row itself: 32 bytes per element against 4 or 8 of x and y).
template <typename T, int NP>
__global__ void __launch_bounds__(kMaxThreads, NP == 2 ? 2 : 1) ln_fprop_pipe(PipeParams p, size_t stage_bytes) {
  extern __shared__ __align__(16) unsigned char ring[];
  __shared__ Moments red[2][kMaxWarps];
  int parity = 0;
  const float inv_k = 1.0f / static_cast<float>(p.Ks);
  const size_t row_bytes = static_cast<size_t>(p.Ks) * sizeof(T);
  const bool resident = p.S == 1;
  float g[NP][8], b[NP][8];
#pragma unroll
  for (int q = 0; q < NP; ++q) {
    const int pk = q * static_cast<int>(blockDim.x) + static_cast<int>(threadIdx.x);
    if (resident && pk < p.packs) {
      vec8(p.gain, pk * 8, 1.0f, g[q]);
      vec8(p.bias, pk * 8, 0.0f, b[q]);
    }
  }
  constexpr int kSt = kStagesOf<T, false>;
  int64_t r = blockIdx.x;
  for (int s = 0; s < kSt - 1; ++s) issue_row<T, false, NP>(p, ring, stage_bytes, nullptr, r + s * gridDim.x, s);
  for (int it = 0; r < p.rows; ++it, r += gridDim.x) {
    issue_row<T, false, NP>(p, ring, stage_bytes, nullptr, r + (kSt - 1) * static_cast<int64_t>(gridDim.x),
                            (it + kSt - 1) % kSt);
    cp_async_wait_oldest<kSt>();
    const unsigned char* row = ring + (it % kSt) * stage_bytes;
    float v[NP][8];
    float sum = 0.0f;
    int valid = 0;
#pragma unroll
    for (int q = 0; q < NP; ++q) {
      const int pk = q * static_cast<int>(blockDim.x) + static_cast<int>(threadIdx.x);
      for (int j = 0; j < 8; ++j) v[q][j] = 0.0f;
      if (pk >= p.packs) continue;
      load8<T>(row, static_cast<int64_t>(pk) * 8, v[q]);
      for (int j = 0; j < 8; ++j) sum += v[q][j];
      valid += 8;
    }
    Moments m{static_cast<float>(valid), valid ? sum / static_cast<float>(valid) : 0.0f, 0.0f};
#pragma unroll
    for (int q = 0; q < NP; ++q)
      if (q * static_cast<int>(blockDim.x) + static_cast<int>(threadIdx.x) < p.packs)
        for (int j = 0; j < 8; ++j) m.m2 += (v[q][j] - m.mean) * (v[q][j] - m.mean);
    m = cta_moments(m, red, parity);
    const float mean = m.mean;
    const float rstd = 1.0f / sqrtf(m.m2 * inv_k + p.eps);
    const int goff = static_cast<int>(r % p.S) * p.Ks;
    unsigned char* yrow = static_cast<unsigned char*>(p.out) + r * row_bytes;
#pragma unroll
    for (int q = 0; q < NP; ++q) {
      const int pk = q * static_cast<int>(blockDim.x) + static_cast<int>(threadIdx.x);
      if (pk >= p.packs) break;
      if (!resident) {
        vec8(p.gain, goff + pk * 8, 1.0f, g[q]);
        vec8(p.bias, goff + pk * 8, 0.0f, b[q]);
      }
      float y[8];
      for (int j = 0; j < 8; ++j) {
        const float z = (v[q][j] - mean) * rstd * g[q][j] + b[q][j];
        y[j] = p.relu && z < 0.0f ? 0.0f : z;
      }
      store8<T>(yrow, static_cast<int64_t>(pk) * 8, y);
    }
    if (threadIdx.x == 0 && p.mean) {
      p.mean[ln_stat_index(r, p.S, p.N)] = mean;
      p.rstd[ln_stat_index(r, p.S, p.N)] = rstd;
    }
  }
}

template <typename T, int NP>
__global__ void __launch_bounds__(kMaxThreads, 1) ln_bprop_pipe(PipeParams p, size_t stage_bytes) {
  extern __shared__ __align__(16) unsigned char ring[];
  __shared__ float red[2][kMaxWarps][2];
  float* stats = reinterpret_cast<float*>(ring + kStages * stage_bytes);
  int parity = 0;
  const float inv_k = 1.0f / static_cast<float>(p.Ks);
  const size_t row_bytes = static_cast<size_t>(p.Ks) * sizeof(T);
  float acc_g[NP][8] = {}, acc_b[NP][8] = {};  // this thread's columns: Σ g·xhat, Σ g (S = 1 here)
  int64_t r = blockIdx.x;
  for (int s = 0; s < kStages - 1; ++s) issue_row<T, true, NP>(p, ring, stage_bytes, stats, r + s * gridDim.x, s);
  for (int it = 0; r < p.rows; ++it, r += gridDim.x) {
    issue_row<T, true, NP>(p, ring, stage_bytes, stats, r + (kStages - 1) * static_cast<int64_t>(gridDim.x),
                           (it + kStages - 1) % kStages);
    cp_async_wait_oldest<kStages>();
    const int stage = it % kStages;
    const unsigned char* row = ring + stage * stage_bytes;
    const float mean = stats[(stage * blockDim.x + threadIdx.x) * 2];
    const float rstd = stats[(stage * blockDim.x + threadIdx.x) * 2 + 1];
    const int goff = static_cast<int>(r % p.S) * p.Ks;
    float xh[NP][8], u[NP][8];
    float s[2] = {0.0f, 0.0f};
#pragma unroll
    for (int q = 0; q < NP; ++q) {
      const int pk = q * static_cast<int>(blockDim.x) + static_cast<int>(threadIdx.x);
      for (int j = 0; j < 8; ++j) xh[q][j] = u[q][j] = 0.0f;
      if (pk >= p.packs) continue;
      float d[8], g[8], b[8];
      load8<T>(row, static_cast<int64_t>(pk) * 8, xh[q]);
      load8<T>(row + row_bytes, static_cast<int64_t>(pk) * 8, d);
      vec8(p.gain, goff + pk * 8, 1.0f, g);
      vec8(p.relu ? p.bias : nullptr, goff + pk * 8, 0.0f, b);
      for (int j = 0; j < 8; ++j) {
        const float xhat = (xh[q][j] - mean) * rstd;
        const float gr = p.relu && !(xhat * g[j] + b[j] > 0.0f) ? 0.0f : d[j];
        acc_g[q][j] += gr * xhat;
        acc_b[q][j] += gr;
        xh[q][j] = xhat;
        u[q][j] = gr * g[j];
        s[0] += u[q][j];
        s[1] += u[q][j] * xhat;
      }
    }
    cta_sum<2>(s, red, parity);
    const float mu = s[0] * inv_k, mux = s[1] * inv_k;
    unsigned char* dxrow = static_cast<unsigned char*>(p.out) + r * row_bytes;
#pragma unroll
    for (int q = 0; q < NP; ++q) {
      const int pk = q * static_cast<int>(blockDim.x) + static_cast<int>(threadIdx.x);
      if (pk >= p.packs) break;
      float dx[8];
      for (int j = 0; j < 8; ++j) dx[j] = rstd * (u[q][j] - mu - xh[q][j] * mux);
      store8<T>(dxrow, static_cast<int64_t>(pk) * 8, dx);
    }
  }
  if (!p.partial) return;
  float* mine = p.partial + static_cast<size_t>(blockIdx.x) * 2 * p.Ks;
#pragma unroll
  for (int q = 0; q < NP; ++q) {
    const int pk = q * static_cast<int>(blockDim.x) + static_cast<int>(threadIdx.x);
    if (pk >= p.packs) break;
    store8<float>(mine, static_cast<int64_t>(pk) * 8, acc_g[q]);
    store8<float>(mine + p.Ks, static_cast<int64_t>(pk) * 8, acc_b[q]);
  }
}

// dgain = column sums of partial[:, 0, :], dbias = of partial[:, 1, :] (an (O, 2K) fp32 matrix).
struct PartialSum {
  const float* m;
  float* dgain;
  float* dbias;
  int64_t K;
  struct State {};
  __device__ State init(int64_t) const { return {}; }
  __device__ void term(State&, int64_t e, int64_t, int64_t, float& r1, float&) const { r1 += m[e]; }
  __device__ void finish(State&, int64_t c, float r1, float, bool write) const {
    if (!write) return;
    if (c < K) {
      if (dgain) dgain[c] = r1;
    } else if (dbias) {
      dbias[c - K] = r1;
    }
  }
  __device__ bool apply_pass() const { return false; }
  __device__ void apply(const State&, int64_t, int64_t, int64_t, float, float) const {}
};

// The launch shape of the fast path for a config, or use = false.
struct PipeShape {
  bool use = false;
  int np = 1, threads = 32;
  size_t stage_bytes = 0, smem = 0;
  unsigned grid = 0;
};

template <typename T, bool kBprop, int NP>
const void* pipe_kernel() {
  if constexpr (kBprop) return reinterpret_cast<const void*>(&ln_bprop_pipe<T, NP>);
  else return reinterpret_cast<const void*>(&ln_fprop_pipe<T, NP>);
}

template <typename T, bool kBprop>
const void* pipe_kernel_np(int np) {
  if (np == 1) return pipe_kernel<T, kBprop, 1>();
  if constexpr (kBprop) return pipe_kernel<T, true, 2>();  // backward stops at NP = 2 (accumulators)
  else return np == 2 ? pipe_kernel<T, false, 2>() : pipe_kernel<T, false, 4>();
}

template <typename T, bool kBprop>
PipeShape pipe_shape(const LnConfig& c, int64_t N) {
  PipeShape sh;
  const int64_t Ks = c.K / c.segments, rows = N * c.segments;
  if (c.feature_axis != 1 || Ks % 8 != 0 || rows < 1 || (kBprop && c.segments != 1)) return sh;
  const int64_t packs = Ks / 8;
  const int max_np = kBprop ? 2 : 4;
  int np = 1;
  while (np < max_np && (packs + np - 1) / np > kPreferThreads) np *= 2;
  const int64_t threads = ((packs + np - 1) / np + 31) / 32 * 32;
  if (threads > kMaxThreads) return sh;
  sh.np = np;
  sh.threads = static_cast<int>(threads);
  sh.stage_bytes = static_cast<size_t>(Ks) * sizeof(T) * (kBprop ? 2 : 1);
  sh.smem = kStagesOf<T, kBprop> * sh.stage_bytes + (kBprop ? kStages * 2 * sizeof(float) * threads : 0);
  if (sh.smem > kMaxSmem) return sh;
  DeviceGuard guard(c.device);
  const void* k = pipe_kernel_np<T, kBprop>(np);
  if (cudaFuncSetAttribute(k, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(sh.smem)) != cudaSuccess)
    return sh;
  int occ = 0;
  if (cudaOccupancyMaxActiveBlocksPerMultiprocessor(&occ, k, sh.threads, sh.smem) != cudaSuccess || occ < 1) {
    cudaGetLastError();
    return sh;
  }
  const int64_t slots = static_cast<int64_t>(sm_count()) * occ;
  sh.grid = static_cast<unsigned>(rows < slots ? rows : slots);
  sh.use = true;
  return sh;
}

PipeParams pipe_params(const LnConfig& c, int64_t N) {
  PipeParams p;
  p.S = c.segments;
  p.Ks = static_cast<int>(c.K / c.segments);
  p.packs = p.Ks / 8;
  p.N = N;
  p.rows = N * c.segments;
  p.eps = c.epsilon;
  p.relu = c.relu;
  return p;
}

template <typename T, bool kBprop>
void launch_pipe(const PipeShape& sh, const PipeParams& p, bs_stream_t stream) {
  const cudaStream_t s = as_stream(stream);
  if constexpr (kBprop) {
    if (sh.np == 1)
      ln_bprop_pipe<T, 1><<<sh.grid, sh.threads, sh.smem, s>>>(p, sh.stage_bytes);
    else
      ln_bprop_pipe<T, 2><<<sh.grid, sh.threads, sh.smem, s>>>(p, sh.stage_bytes);
  } else {
    if (sh.np == 1)
      ln_fprop_pipe<T, 1><<<sh.grid, sh.threads, sh.smem, s>>>(p, sh.stage_bytes);
    else if (sh.np == 2)
      ln_fprop_pipe<T, 2><<<sh.grid, sh.threads, sh.smem, s>>>(p, sh.stage_bytes);
    else
      ln_fprop_pipe<T, 4><<<sh.grid, sh.threads, sh.smem, s>>>(p, sh.stage_bytes);
  }
}

bool vec_ok(const float* v) { return !v || aligned16(v); }


// Bytes of the dgain/dbias partials of a backward launch: two fp32 vectors of K per CTA.
size_t partial_bytes(const PipeShape& sh, const LnConfig& c) {
  return checked_bytes(checked_mul(sh.grid, checked_mul(2, c.K, "layernorm workspace"), "layernorm workspace"),
                       sizeof(float), "layernorm workspace");
}

}  // namespace

size_t ln_pipelined_workspace(const LnConfig& c, int64_t N, bool bprop) {
  if (!bprop) return 0;
  return dispatch_dtype(c.dtype, [&](auto tag) -> size_t {
    const PipeShape sh = pipe_shape<decltype(tag), true>(c, N);
    return sh.use ? partial_bytes(sh, c) : 0;
  });
}

bool ln_pipelined_fprop(const LnConfig& c, const LnFpropArgs& a) {
  if (!aligned16(a.x) || !aligned16(a.y) || !vec_ok(a.gain) || !vec_ok(a.bias)) return false;
  return dispatch_dtype(c.dtype, [&](auto tag) {
    using T = decltype(tag);
    const PipeShape sh = pipe_shape<T, false>(c, a.N);
    if (!sh.use) return false;
    PipeParams p = pipe_params(c, a.N);
    p.x = a.x;
    p.out = a.y;
    p.gain = a.gain;
    p.bias = a.bias;
    p.mean = a.mean;
    p.rstd = a.rstd;
    launch_pipe<T, false>(sh, p, a.stream);
    check_launch("layernorm_fprop kernel");
    return true;
  });
}

bool ln_pipelined_bprop(const LnConfig& c, const LnBpropArgs& a) {
  if (!aligned16(a.x) || !aligned16(a.dy) || !aligned16(a.dx) || !vec_ok(a.gain) || !vec_ok(a.bias)) return false;
  return dispatch_dtype(c.dtype, [&](auto tag) {
    using T = decltype(tag);
    const PipeShape sh = pipe_shape<T, true>(c, a.N);
    const bool params = a.dgain || a.dbias;
    if (!sh.use || (params && (a.workspace_bytes < partial_bytes(sh, c) || !aligned16(a.workspace)))) return false;
    PipeParams p = pipe_params(c, a.N);
    p.x = a.x;
    p.dy = a.dy;
    p.out = a.dx;
    p.gain = a.gain;
    p.bias = a.bias;
    p.mean = const_cast<float*>(a.mean);
    p.rstd = const_cast<float*>(a.rstd);
    p.partial = params ? static_cast<float*>(a.workspace) : nullptr;
    launch_pipe<T, true>(sh, p, a.stream);
    check_launch("layernorm_bprop kernel");
    if (params)
      launch_channel_reduce(PartialSum{p.partial, a.dgain, a.dbias, c.K}, sh.grid, 2 * c.K, 1, a.stream,
                            "layernorm dgain/dbias kernel");
    return true;
  });
}

}  // namespace bs::ops
