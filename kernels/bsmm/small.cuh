#pragma once
// The split kernel of the small-N path (small.hpp explains the scheme): one CTA per (chunk, 64-token
// tile) computes the fp32 partial product P[token][j] = Σ_{records of the chunk} gate·x_in·W of one
// output block and stores it in the workspace.
//
// A stage holds kKC rows of the reduction (64 bytes of a token row): for b >= kKC a kKC-row slice
// of one weight block, for b < kKC the whole of kKC/b consecutive blocks of the chunk. The x slice
// (64 tokens x kKC) is the A operand, the W slice the B operand, both streamed by cp.async through a
// kStages-deep ring. Operand orientations follow the tile engine (tile.cuh): x rows are tokens
// (feature axis 1, A [m][k]) or features (axis 0, A [k][m]); fprop reads W as stored (B [k][n]),
// bprop reads the same bytes as [n][k] (no transposed copy). Padding records, absent gates and
// gate-0 blocks zero-fill both operands, so they add exactly 0 whatever x holds.
// Math: 16-bit types on mma.sync m16n8k16 (warp w: tokens 16w..16w+15, all b columns); fp32 (exact,
// and also under BS_MATH_TF32, which permits but does not require TF32) on FFMA, 4 x b/8 outputs per
// thread. Each CTA reads its chunk's records (and gates) into shared memory once, before the
// pipeline, so issuing a stage never waits on a global load.
#include "kernels/bsmm/ops.hpp"
#include "kernels/bsmm/small.hpp"
#include "kernels/common/mma.cuh"

namespace bs {
namespace cuda {

// Row stride (elements) of a shared-memory tile whose rows hold n elements: a multiple of 16 bytes
// with an odd number of 16-byte units, so 8 consecutive rows of an ldmatrix fall in distinct bank
// groups, and rows 4 floats apart in the FFMA loads hit distinct banks.
constexpr int small_ld(int n, int es) { return (n * es / 16) % 2 == 1 ? n : n + 16 / es; }
constexpr int small_max(int a, int b) { return a > b ? a : b; }

template <typename TT, Math M, int B>
struct SmallXprop {
  using T = TT;
  static constexpr bool kFfma = M != Math::kMma16;  // fp32 data: FFMA (see the file comment)
  static constexpr int kES = sizeof(T);
  static constexpr int kKC = small_kc(kES);
  static constexpr int kRps = small_recs_per_stage(B, kES);  // records per stage
  static constexpr int kRows = B < kKC ? B : kKC;             // stage rows per record
  static constexpr int kSpr = B > kKC ? B / kKC : 1;          // stages per record
  static constexpr int kV = 16 / kES;                         // elements per 16-byte copy
  static constexpr int kStages = B >= 64 ? 4 : 6;
  static constexpr int kMinBlocks = B >= 128 ? 2 : 4;         // launch bounds: registers for >= this many CTAs/SM
  static constexpr int kLdAK = small_ld(kKC, kES);            // A [m][k]
  static constexpr int kLdAM = small_ld(kSmallTokens, kES);   // A [k][m]
  static constexpr int kLdBN = small_ld(B, kES);              // B [k][n] (fprop)
  static constexpr int kLdBK = small_ld(kKC, kES);            // B [n][k] (bprop)
  static constexpr int kAElems = small_max(kSmallTokens * kLdAK, kKC * kLdAM);
  static constexpr int kBElems = small_max(kKC * kLdBN, B * kLdBK);
  static constexpr int kStageElems = kAElems + kBElems;
  static constexpr int kRecBytes = kSmallMaxRecs * 12;  // input block, weight block, gate per record
  static constexpr int kSmemBytes = kRecBytes + kStages * kStageElems * kES;
  static constexpr int kAcc = B / 2;  // 64 x B outputs over 128 threads (layouts: compute())
  static_assert(kRows % kV == 0, "a 16-byte copy never straddles two records");
  static_assert(kKC % 16 == 0 || kFfma, "16-bit stages are whole k16 steps");
  static_assert(kSmallMaxRecs % kRps == 0, "chunks are padded to whole stages");
  static_assert((kAElems * kES) % 16 == 0 && (kStageElems * kES) % 16 == 0 && kRecBytes % 16 == 0,
                "16-byte aligned operand tiles");

  const SmallParams& p;
  unsigned char* smem;
  int* s_in;     // input block per record, -1 = contributes nothing
  int* s_blk;    // weight block per record, -1 = contributes nothing
  float* s_gate; // gate per record
  long long n0 = 0;
  int q = 0;

  __device__ SmallXprop(const SmallParams& prm, unsigned char* s)
      : p(prm),
        smem(s),
        s_in(reinterpret_cast<int*>(s)),
        s_blk(reinterpret_cast<int*>(s) + kSmallMaxRecs),
        s_gate(reinterpret_cast<float*>(s) + 2 * kSmallMaxRecs) {}

  __device__ T* stage_a(int s) const { return reinterpret_cast<T*>(smem + kRecBytes) + s * kStageElems; }
  __device__ T* stage_b(int s) const { return stage_a(s) + kAElems; }

  __device__ void run() {
    q = static_cast<int>(blockIdx.x / p.tiles);
    n0 = static_cast<long long>(blockIdx.x % p.tiles) * kSmallTokens;
    const int rb = p.chunks[2 * q], rc = p.chunks[2 * q + 1];
    for (int i = threadIdx.x; i < rc; i += kSmallThreads) {
      const int in = p.recs[2 * (static_cast<long long>(rb) + i)];
      const int blk = p.recs[2 * (static_cast<long long>(rb) + i) + 1];
      const float g = blk < 0 ? 0.0f : (p.gate ? p.gate[blk] : 1.0f);
      s_in[i] = g != 0.0f ? in : -1;
      s_blk[i] = g != 0.0f ? blk : -1;
      s_gate[i] = g;
    }
    __syncthreads();
    const int stages = rc / kRps * kSpr;
    if (p.axis == 0) {
      if (p.bprop) run_o<true, true>(stages);
      else run_o<true, false>(stages);
    } else {
      if (p.bprop) run_o<false, true>(stages);
      else run_o<false, false>(stages);
    }
  }

  // The pipeline (the same ring discipline as tile_kernel in tile.cuh), then the partial's store.
  template <bool AKM, bool BNK>
  __device__ void run_o(int stages) const {
    float acc[kAcc];
#pragma unroll
    for (int i = 0; i < kAcc; ++i) acc[i] = 0.0f;
#pragma unroll
    for (int s = 0; s < kStages - 1; ++s) {
      if (s < stages) load<AKM, BNK>(s, s);
      cp_async_commit();
    }
    for (int it = 0; it < stages; ++it) {
      cp_async_wait<kStages - 2>();
      __syncthreads();
      const int next = it + kStages - 1;
      if (next < stages) load<AKM, BNK>(next, next % kStages);
      cp_async_commit();
      compute<AKM, BNK>(it, it % kStages, acc);
    }
    cp_async_wait<0>();
    store(acc);
  }

  // Stage `st` of the chunk into ring slot s. Record of stage row kk: (st / kSpr)·kRps + kk / kRows;
  // row inside its weight block: (st % kSpr)·kKC + kk % kRows.
  template <bool AKM, bool BNK>
  __device__ void load(int st, int s) const {
    const int tid = threadIdx.x;
    const int r0 = st / kSpr * kRps, sub = st % kSpr * kKC;
    const T* in = static_cast<const T*>(p.in);
    const T* w = static_cast<const T*>(p.w);
    T* As = stage_a(s);
    T* Bs = stage_b(s);
    if (!AKM) {  // x rows are tokens: A [m][k]
      constexpr int kCpr = kKC / kV, kTotal = kSmallTokens * kCpr;
      static_assert(kTotal % kSmallThreads == 0, "whole copies per thread");
#pragma unroll
      for (int u = 0; u < kTotal / kSmallThreads; ++u) {
        const int c = tid + u * kSmallThreads;
        const int m = c / kCpr, kk = (c % kCpr) * kV;
        const int ib = s_in[r0 + kk / kRows];
        const long long n = n0 + m;
        const bool ok = ib >= 0 && n < p.N;
        const long long off = ok ? n * p.F_in + static_cast<long long>(ib) * B + sub + kk % kRows : 0;
        cp_async16(As + m * kLdAK + kk, in + off, ok);
      }
    } else {  // x rows are features: A [k][m], tokens contiguous
      constexpr int kCpr = kSmallTokens / kV, kTotal = kKC * kCpr;
      static_assert(kTotal % kSmallThreads == 0, "whole copies per thread");
      const bool vec = (p.N * kES) % 16 == 0;
#pragma unroll
      for (int u = 0; u < kTotal / kSmallThreads; ++u) {
        const int c = tid + u * kSmallThreads;
        const int kk = c / kCpr, m = (c % kCpr) * kV;
        const int ib = s_in[r0 + kk / kRows];
        const long long n = n0 + m;
        T* dst = As + kk * kLdAM + m;
        if (ib < 0 || n >= p.N) {
          cp_async16(dst, in, false);
        } else {
          const T* row = in + (static_cast<long long>(ib) * B + sub + kk % kRows) * p.N;
          if (vec && n + kV <= p.N) {
            cp_async16(dst, row + n, true);
          } else {  // ragged tail of the tokens: element copies (visible after the stage's barrier)
#pragma unroll
            for (int v = 0; v < kV; ++v) dst[v] = n + v < p.N ? row[n + v] : store_as<T>(0.0f);
          }
        }
      }
    }
    if (!BNK) {  // fprop: B [k][n] = rows of the weight block, columns contiguous
      constexpr int kCpr = B / kV, kTotal = kKC * kCpr;
#pragma unroll
      for (int u = 0; u < (kTotal + kSmallThreads - 1) / kSmallThreads; ++u) {
        const int c = tid + u * kSmallThreads;
        if (kTotal % kSmallThreads != 0 && c >= kTotal) break;
        const int kk = c / kCpr, n = (c % kCpr) * kV;
        const int blk = s_blk[r0 + kk / kRows];
        const long long off = blk >= 0 ? (static_cast<long long>(blk) * B + sub + kk % kRows) * B + n : 0;
        cp_async16(Bs + kk * kLdBN + n, w + off, blk >= 0);
      }
    } else {  // bprop: B [n][k]: block row n (an output feature), k = block column, contiguous
      constexpr int kCpr = kKC / kV, kTotal = B * kCpr;
#pragma unroll
      for (int u = 0; u < (kTotal + kSmallThreads - 1) / kSmallThreads; ++u) {
        const int c = tid + u * kSmallThreads;
        if (kTotal % kSmallThreads != 0 && c >= kTotal) break;
        const int n = c / kCpr, kk = (c % kCpr) * kV;
        const int blk = s_blk[r0 + kk / kRows];
        const long long off = blk >= 0 ? (static_cast<long long>(blk) * B + n) * B + sub + kk % kRows : 0;
        cp_async16(Bs + n * kLdBK + kk, w + off, blk >= 0);
      }
    }
  }

  template <bool AKM, bool BNK>
  __device__ void compute(int st, int s, float (&acc)[kAcc]) const {
    const T* As = stage_a(s);
    const T* Bs = stage_b(s);
    const int r0 = st / kSpr * kRps;
    const bool gated = p.gate != nullptr;
    const int tid = threadIdx.x;
    if constexpr (kFfma) {
      // acc[i * (B/8) + j]: token tm + 16 i, column tn + 8 j.
      const int tm = tid >> 3, tn = tid & 7;
#pragma unroll
      for (int k = 0; k < kKC; ++k) {
        const float g = gated ? s_gate[r0 + k / kRows] : 1.0f;
        float a[4], b[B / 8];
#pragma unroll
        for (int i = 0; i < 4; ++i) a[i] = AKM ? As[k * kLdAM + tm + 16 * i] : As[(tm + 16 * i) * kLdAK + k];
#pragma unroll
        for (int j = 0; j < B / 8; ++j) b[j] = g * (BNK ? Bs[(tn + 8 * j) * kLdBK + k] : Bs[k * kLdBN + tn + 8 * j]);
#pragma unroll
        for (int i = 0; i < 4; ++i)
#pragma unroll
          for (int j = 0; j < B / 8; ++j) acc[i * (B / 8) + j] = fmaf(a[i], b[j], acc[i * (B / 8) + j]);
      }
    } else {
      // acc[nt * 4 + c]: the m16n8 accumulator of n-tile nt (tokens 16 warp + .., columns 8 nt + ..).
      const int lane = tid & 31, mb = (tid >> 5) * 16, r = lane & 7, j = lane >> 3;
#pragma unroll
      for (int kb = 0; kb < kKC; kb += 16) {
        uint32_t a[4];
        if (!AKM) ldmatrix_x4(a, As + (mb + (lane & 15)) * kLdAK + kb + (lane >> 4) * 8);
        else ldmatrix_x4_trans(a, As + (kb + r + (j >> 1) * 8) * kLdAM + mb + (j & 1) * 8);
        uint32_t b[B / 8][2];
        if constexpr (B >= 16) {
#pragma unroll
          for (int np = 0; np < B / 16; ++np) {
            const int nb = np * 16;
            uint32_t qv[4];
            if (BNK) ldmatrix_x4(qv, Bs + (nb + r + (j >> 1) * 8) * kLdBK + kb + (j & 1) * 8);
            else ldmatrix_x4_trans(qv, Bs + (kb + r + (j & 1) * 8) * kLdBN + nb + (j >> 1) * 8);
            b[2 * np][0] = qv[0], b[2 * np][1] = qv[1], b[2 * np + 1][0] = qv[2], b[2 * np + 1][1] = qv[3];
          }
        } else {  // b = 8: one n-tile; lanes 0-7 address k rows kb.., lanes 8-15 kb+8..
          uint32_t qv[2];
          if (BNK) ldmatrix_x2(qv, Bs + r * kLdBK + kb + (j & 1) * 8);
          else ldmatrix_x2_trans(qv, Bs + (kb + r + (j & 1) * 8) * kLdBN);
          b[0][0] = qv[0], b[0][1] = qv[1];
        }
        if (gated) {  // b[.][0] holds k rows kb..kb+7, b[.][1] rows kb+8..kb+15 (two records when b = 8)
          const float g0 = s_gate[r0 + kb / kRows], g1 = s_gate[r0 + (kb + 8) / kRows];
#pragma unroll
          for (int nt = 0; nt < B / 8; ++nt) b[nt][0] = scale_pair<T>(b[nt][0], g0), b[nt][1] = scale_pair<T>(b[nt][1], g1);
        }
#pragma unroll
        for (int nt = 0; nt < B / 8; ++nt) mma_k16<T>(*reinterpret_cast<float(*)[4]>(&acc[nt * 4]), a, b[nt][0], b[nt][1]);
      }
    }
  }

  // ws[(q·N + token)·B + j] = partial (rows at or past N are not stored).
  __device__ void store(const float (&acc)[kAcc]) const {
    float* dst = p.ws + static_cast<long long>(q) * p.N * B;
    const int tid = threadIdx.x;
    if constexpr (kFfma) {
      const int tm = tid >> 3, tn = tid & 7;
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        const long long n = n0 + tm + 16 * i;
        if (n >= p.N) continue;
#pragma unroll
        for (int j = 0; j < B / 8; ++j) dst[n * B + tn + 8 * j] = acc[i * (B / 8) + j];
      }
    } else {
      const int lane = tid & 31, g = lane >> 2, t = lane & 3;
      const long long n = n0 + (tid >> 5) * 16 + g;
#pragma unroll
      for (int nt = 0; nt < B / 8; ++nt) {
        const int col = nt * 8 + 2 * t;
        if (n < p.N) *reinterpret_cast<float2*>(dst + n * B + col) = make_float2(acc[nt * 4], acc[nt * 4 + 1]);
        if (n + 8 < p.N) *reinterpret_cast<float2*>(dst + (n + 8) * B + col) = make_float2(acc[nt * 4 + 2], acc[nt * 4 + 3]);
      }
    }
  }
};

template <class P>
__global__ void __launch_bounds__(kSmallThreads, P::kMinBlocks) small_kernel(const SmallParams params) {
  extern __shared__ __align__(16) unsigned char smem[];
  P prob(params, smem);
  prob.run();
}

}  // namespace cuda
}  // namespace bs
