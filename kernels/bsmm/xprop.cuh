#pragma once
// fprop (y = x·W) and bprop (dx = dy·Wᵀ) as a tile problem (tile.cuh).
//
// A CTA owns 128 tokens (the MMA's M side) times a stripe of 128 output features, i.e.
// S = 128/b consecutive output blocks. The plan lists, per stripe, the union of the input blocks
// that any of its S blocks reads (xprop_lut in lut.cu): one record {in_block, blk[S]} per input
// block, blk[j] = weight block of stripe column j or -1. Each record is streamed as b/KC stages:
// the x slice (128 tokens x KC features, loaded once for all S columns) and the present W blocks.
// fprop reads the stripe from the BSC lists and W as stored (k rows, n contiguous); bprop reads the
// BSR lists and the same W bytes as n rows, k contiguous (ldmatrix without .trans): no transposed
// copy of W. Absent or gate-0 blocks are skipped per 8-column MMA tile; gates scale the B operand.
#include "kernels/bsmm/tile.cuh"

namespace bs {
namespace cuda {

template <typename TT, Math M, int B>
struct Xprop {
  using T = TT;
  using Params = XpropParams;
  static constexpr int kES = sizeof(T);
  static constexpr int kS = kTile / B;
  static constexpr int kKC = B < 128 / kES ? B : 128 / kES;
  static constexpr int kChunks = B / kKC;
  static constexpr int kRec = 1 + kS;
  static constexpr int kV = 16 / kES;  // elements per 16-byte copy
  using Tile = TileMath<T, M, kKC, B>;

  // Records travel through a shared-memory ring, kAhead iterations ahead of the data they
  // describe, so issuing a stage's copies never waits on a global load (see begin() and load()).
  static constexpr int kAhead = 4;
  static constexpr int kRing = 8;
  static_assert(kStages * kStageGates * 4 + kRing * kRec * 4 <= kMetaBytes, "record ring does not fit");

  const Params& p;
  unsigned char* smem;
  int* ring;
  int stripe = 0, e0 = 0, entries = 0, iters = 0;
  long long n0 = 0;

  __device__ Xprop(const Params& prm, unsigned char* s)
      : p(prm), smem(s), ring(reinterpret_cast<int*>(s + kStages * kStageGates * 4)) {
    stripe = blockIdx.x;
    e0 = p.stripe_ptr[stripe];
    entries = p.stripe_ptr[stripe + 1] - e0;
    iters = entries * kChunks;
  }
  __device__ int work_y() const { return p.token_tiles; }
  __device__ void begin(int wy) {
    n0 = static_cast<long long>(wy) * kTile;
    // Records of the entries whose first iteration comes before kAhead are read directly.
    const int first = entries < (kAhead + kChunks - 1) / kChunks ? entries : (kAhead + kChunks - 1) / kChunks;
    for (int i = threadIdx.x; i < first * kRec; i += kThreads) ring[i] = p.recs[static_cast<long long>(e0) * kRec + i];
    __syncthreads();
  }
  __device__ int iterations() const { return iters; }
  __device__ bool a_km() const { return p.axis == 0; }
  __device__ bool b_nk() const { return p.bprop != 0; }
  __device__ float* gates(int s) const { return reinterpret_cast<float*>(smem) + s * kStageGates; }

  __device__ void load(int it, int s) const {
    const int tid = threadIdx.x;
    {  // prefetch the record of the entry that starts kAhead iterations later (same commit group)
      const int ia = it + kAhead;
      if (ia % kChunks == 0 && ia < iters && tid < kRec)
        cp_async4(ring + (ia / kChunks % kRing) * kRec + tid, p.recs + static_cast<long long>(e0 + ia / kChunks) * kRec + tid);
    }
    const int* rec = ring + (it / kChunks % kRing) * kRec;
    const int q = it % kChunks;
    const T* in = static_cast<const T*>(p.in);
    const T* w = static_cast<const T*>(p.w);
    T* As = Tile::stage_a(smem, s);
    T* Bs = Tile::stage_b(smem, s);
    const long long fa = static_cast<long long>(rec[0]) * B + q * kKC;  // first input feature of the stage
    if (!a_km()) {  // x rows are tokens: A tile [m][k]
      constexpr int kCpr = kKC / kV, kTotal = kTile * kCpr;
#pragma unroll
      for (int u = 0; u < (kTotal + kThreads - 1) / kThreads; ++u) {
        const int c = tid + u * kThreads;
        if (kTotal % kThreads != 0 && c >= kTotal) break;
        const int m = c / kCpr, k = (c % kCpr) * kV;
        const bool ok = n0 + m < p.N;
        cp_async16(As + Tile::a_off(false, m, k), in + (ok ? (n0 + m) * p.F_in + fa + k : 0), ok);
      }
    } else {  // x rows are features: A tile [k][m], tokens contiguous
      constexpr int kCpr = kTile / kV, kTotal = kKC * kCpr;
      const bool vec = (p.N * kES) % 16 == 0;
#pragma unroll
      for (int u = 0; u < (kTotal + kThreads - 1) / kThreads; ++u) {
        const int c = tid + u * kThreads;
        if (kTotal % kThreads != 0 && c >= kTotal) break;
        const int k = c / kCpr, m = (c % kCpr) * kV;
        const T* row = in + (fa + k) * p.N;
        T* dst = As + Tile::a_off(true, m, k);
        const long long n = n0 + m;
        if (n + kV <= p.N && vec) {
          cp_async16(dst, row + n, true);
        } else if (n >= p.N) {
          cp_async16(dst, in, false);
        } else {
#pragma unroll
          for (int v = 0; v < kV; ++v) dst[v] = n + v < p.N ? row[n + v] : store_as<T>(0.0f);
        }
      }
    }
    // W: the present blocks of the record, rows q*KC.. (fprop) or columns q*KC.. (bprop).
    constexpr int kPerBlock = B * kKC / kV;  // 16-byte chunks of one block per stage
    constexpr int kTotalW = kS * kPerBlock;
#pragma unroll
    for (int u = 0; u < (kTotalW + kThreads - 1) / kThreads; ++u) {
      const int c = tid + u * kThreads;
      if (kTotalW % kThreads != 0 && c >= kTotalW) break;
      const int j = c / kPerBlock, rem = c % kPerBlock;
      const int blk = rec[1 + j];
      const bool present = blk >= 0 && (p.gate == nullptr || p.gate[blk] != 0.0f);
      if (!present && M != Math::kFfma) continue;  // tensor-core warps skip absent blocks
      const T* src = w + static_cast<long long>(present ? blk : 0) * B * B;
      T* dst;
      if (!b_nk()) {  // fprop: block row k = q*KC + kk, columns contiguous
        constexpr int kCpr = B / kV;
        const int kk = rem / kCpr, n = (rem % kCpr) * kV;
        src += (q * kKC + kk) * B + n;
        dst = Bs + Tile::b_off(false, kk, j * B + n);
      } else {  // bprop: block row r is output column n = j*B + r, k contiguous
        constexpr int kCpr = kKC / kV;
        const int r = rem / kCpr, kk = (rem % kCpr) * kV;
        src += r * B + q * kKC + kk;
        dst = Bs + Tile::b_off(true, kk, j * B + r);
      }
      cp_async16(dst, src, present);  // FFMA: absent blocks are zero-filled
    }
    if (tid < kS) {
      const int blk = rec[1 + tid];
      gates(s)[tid] = blk < 0 ? 0.0f : (p.gate ? p.gate[blk] : 1.0f);
    }
  }

  __device__ void compute(int s, float (&acc)[64]) const {
    Tile::compute(Tile::stage_a(smem, s), Tile::stage_b(smem, s), a_km(), b_nk(), acc, gates(s), 0xffffu,
                  p.gate != nullptr);
  }

  // out = alpha·acc + beta·out over the valid part of the 128 x 128 tile (beta = 0: out not read).
  __device__ void epilogue(const float* cs) const {
    T* out = static_cast<T*>(p.out);
    const long long f0 = static_cast<long long>(stripe) * kTile;
    const int tid = threadIdx.x;
    constexpr int kVpr = kTile / kV;
    for (int c = tid; c < kTile * kVpr; c += kThreads) {
      const int r = c / kVpr, e = (c % kVpr) * kV;
      if (!a_km()) {  // row r = token, e.. = features (always whole vectors: F_out % kV == 0)
        const long long n = n0 + r, f = f0 + e;
        if (n >= p.N || f >= p.F_out) continue;
        Vec16<T>* dst = reinterpret_cast<Vec16<T>*>(out + n * p.F_out + f);
        Vec16<T> v;
        Vec16<T> old;
        if (p.beta != 0.0f) old = *dst;
#pragma unroll
        for (int i = 0; i < kV; ++i) {
          const float a = p.alpha * cs[r * kCsLd + e + i];
          v.v[i] = store_as<T>(p.beta != 0.0f ? a + p.beta * load_float(old.v[i]) : a);
        }
        *dst = v;
      } else {  // row r = feature, e.. = tokens
        const long long f = f0 + r, n = n0 + e;
        if (f >= p.F_out || n >= p.N) continue;
        T* dst = out + f * p.N + n;
        if (n + kV <= p.N && (p.N * kES) % 16 == 0) {
          Vec16<T> v;
          Vec16<T> old;
          if (p.beta != 0.0f) old = *reinterpret_cast<const Vec16<T>*>(dst);
#pragma unroll
          for (int i = 0; i < kV; ++i) {
            const float a = p.alpha * cs[(e + i) * kCsLd + r];
            v.v[i] = store_as<T>(p.beta != 0.0f ? a + p.beta * load_float(old.v[i]) : a);
          }
          *reinterpret_cast<Vec16<T>*>(dst) = v;
        } else {
          for (int i = 0; i < kV && n + i < p.N; ++i) {
            const float a = p.alpha * cs[(e + i) * kCsLd + r];
            dst[i] = store_as<T>(p.beta != 0.0f ? a + p.beta * load_float(dst[i]) : a);
          }
        }
      }
    }
  }
};

}  // namespace cuda
}  // namespace bs
