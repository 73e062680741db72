#pragma once
// The tile engine shared by every bsmm kernel: a 128 x 128 fp32 output tile per CTA (8 warps),
// reduced over a list of k-chunks that a *problem* (xprop.cuh, updat.cuh) streams into shared
// memory through a kStages-deep cp.async pipeline. The problem decides what the A (M side, 128
// rows) and B (N side, 128 columns) tiles hold and where results go; this file owns the shared
// memory geometry, the fragment loads and the math:
//   Math::kMma16  bf16/fp16 mma.sync m16n8k16 (m16n8k8 when a chunk is 8 deep), ldmatrix(.trans)
//   Math::kTf32   fp32 data on tf32 mma.sync m16n8k8, scalar fragment loads
//   Math::kFfma   exact fp32 FFMA, 8 x 8 outputs per thread
// Either operand tile may sit in shared memory with k or with m/n contiguous (runtime flags
// a_km / b_nk), so one kernel serves both feature axes and both W orientations (fprop, bprop)
// without transposed copies. Rows are padded (not swizzled) to keep ldmatrix and the scalar
// loads free of bank conflicts.
#include "kernels/bsmm/ops.hpp"
#include "kernels/common/mma.cuh"

namespace bs {
namespace cuda {

constexpr int kThreads = 256;
constexpr int kTile = 128;       // rows (M) and columns (N) of a CTA tile
constexpr int kStages = 4;       // cp.async pipeline depth
constexpr int kMetaBytes = 2048; // per-stage gates and the problem's record, before the pipeline
constexpr int kStageGates = 16;  // floats of per-stage gates (one per 8-wide column block at most)
constexpr int kCsLd = kTile + 4; // fp32 staging tile row stride (floats)

template <int A, int B>
constexpr int cmax() {
  return A > B ? A : B;
}

// KC: reduction depth of one pipeline stage; GB: width of the column groups that per-stage gates
// address (the block size for xprop).
template <typename T, Math M, int KC, int GB>
struct TileMath {
  static constexpr int kES = sizeof(T);
  static constexpr int kPadK = 16 / kES;  // rows with k contiguous: 16 bytes of padding
  static constexpr int kPadMN = 8;        // rows with m/n contiguous: 16 B (16-bit) / 32 B (fp32)
  static constexpr int kLdK = KC + kPadK;
  static constexpr int kLdMN = kTile + kPadMN;
  static constexpr int kOperandElems = cmax<kTile * kLdK, KC * kLdMN>();
  static constexpr int kStageElems = 2 * kOperandElems;
  static constexpr int kKStep = M == Math::kMma16 ? (KC >= 16 ? 16 : 8) : (M == Math::kTf32 ? 8 : 1);
  static constexpr int kPipeBytes = kStages * kStageElems * kES;
  static constexpr int kCsBytes = kTile * kCsLd * 4;
  static constexpr int kSmemBytes = kMetaBytes + cmax<kPipeBytes, kCsBytes>();
  static_assert(KC % kKStep == 0, "stage depth must be a multiple of the MMA depth");

  // Element offsets inside an operand tile. A: (m, k); B: (k, n).
  __device__ static int a_off(bool km, int m, int k) { return km ? k * kLdMN + m : m * kLdK + k; }
  __device__ static int b_off(bool nk, int k, int n) { return nk ? n * kLdK + k : k * kLdMN + n; }

  __device__ static T* stage_a(unsigned char* smem, int s) {
    return reinterpret_cast<T*>(smem + kMetaBytes) + s * kStageElems;
  }
  __device__ static T* stage_b(unsigned char* smem, int s) { return stage_a(smem, s) + kOperandElems; }
  __device__ static float* staging(unsigned char* smem) { return reinterpret_cast<float*>(smem + kMetaBytes); }

  // acc layout: tensor cores: [mt 4][nt 4][4] per warp tile 64 x 32 (warp grid 2 x 4);
  // FFMA: [i 8][j 8] at rows tm + 16 i and columns ffma_col(j). Column pair j>>1 of every thread
  // of a warp lies in [32 (j>>1), 32 (j>>1) + 32): one block for b >= 32, so skipping absent
  // blocks is warp-uniform there. fprop reads a float2 per pair; bprop (n rows) reads scalars
  // whose rows differ by one across the warp (2-way bank conflicts at most).
  __device__ static int ffma_col(bool b_nk, int tn, int j) {
    return (b_nk ? tn + 16 * (j & 1) : 2 * tn + (j & 1)) + 32 * (j >> 1);
  }

  // One stage of the reduction. `col_gate` (per GB-wide column group, may be null): 0 skips the
  // group, otherwise (when `gated`) it scales B. `mask` bit (mt*4 + nt) = 0 skips that MMA tile.
  // Dispatches once per stage to a body specialised for the operand orientations, so that the
  // k-loop holds no orientation branches and the compiler can software-pipeline it.
  __device__ static void compute(const T* As, const T* Bs, bool a_km, bool b_nk, float (&acc)[64],
                                 const float* col_gate, uint32_t mask, bool gated) {
    if (a_km) {
      if (b_nk) compute_o<true, true>(As, Bs, acc, col_gate, mask, gated);
      else compute_o<true, false>(As, Bs, acc, col_gate, mask, gated);
    } else {
      if (b_nk) compute_o<false, true>(As, Bs, acc, col_gate, mask, gated);
      else compute_o<false, false>(As, Bs, acc, col_gate, mask, gated);
    }
  }

  // Tensor cores: a warp whose whole 64 x 32 tile is live (the common case: for b >= 32 an xprop
  // warp's 32 columns lie in one block) runs a k-loop without per-MMA predicates; a partly live
  // one (small blocks, updat super-blocks) tests each MMA tile. A dead one returns at once.
  template <bool a_km, bool b_nk>
  __device__ static void compute_o(const T* As, const T* Bs, float (&acc)[64], const float* col_gate, uint32_t mask,
                                   bool gated) {
    if constexpr (M == Math::kFfma) {
      compute_t<a_km, b_nk, false>(As, Bs, acc, col_gate, mask, gated);
    } else {
      const int wn = (threadIdx.x >> 5) & 3;
      uint32_t live = mask;
#pragma unroll
      for (int nt = 0; nt < 4; ++nt)
        if (col_gate && col_gate[(wn * 32 + nt * 8) / GB] == 0.0f) live &= ~(0x1111u << nt);
      if (live == 0xffffu) compute_t<a_km, b_nk, false>(As, Bs, acc, col_gate, live, gated);
      else if (live != 0u) compute_t<a_km, b_nk, true>(As, Bs, acc, col_gate, live, gated);
    }
  }

  template <bool a_km, bool b_nk, bool kMasked>
  __device__ static void compute_t(const T* As, const T* Bs, float (&acc)[64], const float* col_gate, uint32_t mask,
                                   bool gated) {
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    if constexpr (M == Math::kFfma) {
      const int tm = tid >> 4, tn = tid & 15;
      float g[8];
      bool pair_live[4];
#pragma unroll
      for (int j = 0; j < 8; ++j) g[j] = col_gate ? col_gate[ffma_col(b_nk, tn, j) / GB] : 1.0f;
#pragma unroll
      for (int q = 0; q < 4; ++q) pair_live[q] = GB < 32 || g[2 * q] != 0.0f;  // absent: zero-filled anyway
#pragma unroll
      for (int j = 0; j < 8; ++j) g[j] = gated ? g[j] : 1.0f;
#pragma unroll 4
      for (int k = 0; k < KC; ++k) {
        float a[8];
#pragma unroll
        for (int i = 0; i < 8; ++i) a[i] = As[a_off(a_km, tm + 16 * i, k)];
#pragma unroll
        for (int q = 0; q < 4; ++q) {
          if (!pair_live[q]) continue;
          float b0, b1;
          if (b_nk) {
            b0 = Bs[b_off(true, k, ffma_col(true, tn, 2 * q))];
            b1 = Bs[b_off(true, k, ffma_col(true, tn, 2 * q + 1))];
          } else {
            const float2 v = *reinterpret_cast<const float2*>(Bs + b_off(false, k, ffma_col(false, tn, 2 * q)));
            b0 = v.x, b1 = v.y;
          }
          b0 *= g[2 * q], b1 *= g[2 * q + 1];
#pragma unroll
          for (int i = 0; i < 8; ++i) {
            acc[i * 8 + 2 * q] = fmaf(a[i], b0, acc[i * 8 + 2 * q]);
            acc[i * 8 + 2 * q + 1] = fmaf(a[i], b1, acc[i * 8 + 2 * q + 1]);
          }
        }
      }
      (void)mask;
      (void)lane;
      (void)warp;
    } else {
      const int wm = warp >> 2, wn = warp & 3, g = lane >> 2, t = lane & 3;
      float gv[4];
      const uint32_t live = mask;  // already combined with the column gates by compute_o
#pragma unroll
      for (int nt = 0; nt < 4; ++nt) gv[nt] = col_gate ? col_gate[(wn * 32 + nt * 8) / GB] : 1.0f;
#pragma unroll
      for (int kb = 0; kb < KC; kb += kKStep) {
        uint32_t a[4][4];
        uint32_t b[4][2];
        if constexpr (M == Math::kMma16) {
          const int r = lane & 7, j = lane >> 3;
#pragma unroll
          for (int mt = 0; mt < 4; ++mt) {
            const int mb = wm * 64 + mt * 16;
            if constexpr (kKStep == 16) {
              if (!a_km) ldmatrix_x4(a[mt], As + a_off(false, mb + (lane & 15), kb + (lane >> 4) * 8));
              else ldmatrix_x4_trans(a[mt], As + a_off(true, mb + (j & 1) * 8, kb + r + (j >> 1) * 8));
            } else {
              uint32_t a2[2];
              if (!a_km) ldmatrix_x2(a2, As + a_off(false, mb + (lane & 15), kb));
              else ldmatrix_x2_trans(a2, As + a_off(true, mb + (j & 1) * 8, kb + r));
              a[mt][0] = a2[0], a[mt][1] = a2[1], a[mt][2] = 0u, a[mt][3] = 0u;
            }
          }
#pragma unroll
          for (int np = 0; np < 2; ++np) {
            const int nb = wn * 32 + np * 16;
            if constexpr (kKStep == 16) {
              uint32_t q[4];
              if (b_nk) ldmatrix_x4(q, Bs + b_off(true, kb + (j & 1) * 8, nb + r + (j >> 1) * 8));
              else ldmatrix_x4_trans(q, Bs + b_off(false, kb + r + (j & 1) * 8, nb + (j >> 1) * 8));
              b[2 * np][0] = q[0], b[2 * np][1] = q[1], b[2 * np + 1][0] = q[2], b[2 * np + 1][1] = q[3];
            } else {
              uint32_t q[2];
              if (b_nk) ldmatrix_x2(q, Bs + b_off(true, kb, nb + r + (j & 1) * 8));
              else ldmatrix_x2_trans(q, Bs + b_off(false, kb + r, nb + (j & 1) * 8));
              b[2 * np][0] = q[0], b[2 * np][1] = 0u, b[2 * np + 1][0] = q[1], b[2 * np + 1][1] = 0u;
            }
          }
          if (gated) {
#pragma unroll
            for (int nt = 0; nt < 4; ++nt) b[nt][0] = scale_pair<T>(b[nt][0], gv[nt]), b[nt][1] = scale_pair<T>(b[nt][1], gv[nt]);
          }
        } else {  // tf32: scalar loads, rounded to tf32 (rna)
#pragma unroll
          for (int mt = 0; mt < 4; ++mt) {
            const int m = wm * 64 + mt * 16 + g;
            a[mt][0] = to_tf32(As[a_off(a_km, m, kb + t)]);
            a[mt][1] = to_tf32(As[a_off(a_km, m + 8, kb + t)]);
            a[mt][2] = to_tf32(As[a_off(a_km, m, kb + t + 4)]);
            a[mt][3] = to_tf32(As[a_off(a_km, m + 8, kb + t + 4)]);
          }
#pragma unroll
          for (int nt = 0; nt < 4; ++nt) {
            const int n = wn * 32 + nt * 8 + g;
            const float s = gated ? gv[nt] : 1.0f;
            b[nt][0] = to_tf32(s * Bs[b_off(b_nk, kb + t, n)]);
            b[nt][1] = to_tf32(s * Bs[b_off(b_nk, kb + t + 4, n)]);
          }
        }
#pragma unroll
        for (int mt = 0; mt < 4; ++mt)
#pragma unroll
          for (int nt = 0; nt < 4; ++nt) {
            if (kMasked && !((live >> (mt * 4 + nt)) & 1u)) continue;
            float(&d)[4] = *reinterpret_cast<float(*)[4]>(&acc[(mt * 4 + nt) * 4]);
            if constexpr (M == Math::kTf32) mma_tf32(d, a[mt], b[nt][0], b[nt][1]);
            else if constexpr (kKStep == 16) mma_k16<T>(d, a[mt], b[nt][0], b[nt][1]);
            else mma_k8<T>(d, a[mt], b[nt][0]);
          }
      }
    }
  }

  // Writes the accumulators to the fp32 staging tile cs[m][n] (row stride kCsLd).
  __device__ static void stage_acc(const float (&acc)[64], float* cs, bool b_nk) {
    const int tid = threadIdx.x;
    if constexpr (M == Math::kFfma) {
      const int tm = tid >> 4, tn = tid & 15;
#pragma unroll
      for (int i = 0; i < 8; ++i)
#pragma unroll
        for (int j = 0; j < 8; ++j) cs[(tm + 16 * i) * kCsLd + ffma_col(b_nk, tn, j)] = acc[i * 8 + j];
    } else {
      (void)b_nk;
      const int lane = tid & 31, warp = tid >> 5, wm = warp >> 2, wn = warp & 3, g = lane >> 2, t = lane & 3;
#pragma unroll
      for (int mt = 0; mt < 4; ++mt)
#pragma unroll
        for (int nt = 0; nt < 4; ++nt) {
          const float* d = &acc[(mt * 4 + nt) * 4];
          const int m = wm * 64 + mt * 16 + g, n = wn * 32 + nt * 8 + 2 * t;
          *reinterpret_cast<float2*>(&cs[m * kCsLd + n]) = make_float2(d[0], d[1]);
          *reinterpret_cast<float2*>(&cs[(m + 8) * kCsLd + n]) = make_float2(d[2], d[3]);
        }
    }
  }
};

// 16 bytes of T, for vectorised global loads and stores.
template <typename T>
struct alignas(16) Vec16 {
  static constexpr int kN = 16 / sizeof(T);
  T v[kN];
};

// The kernel: for each unit of work the problem names (blockIdx.x, then a loop over its y range),
// run the pipeline over the problem's stages and hand the fp32 tile to its epilogue.
template <class P>
__global__ void __launch_bounds__(kThreads, 1) tile_kernel(const typename P::Params params) {
  extern __shared__ __align__(16) unsigned char smem[];
  using TM = typename P::Tile;
  P prob(params, smem);
  for (int wy = blockIdx.y; wy < prob.work_y(); wy += gridDim.y) {
    prob.begin(wy);
    const int iters = prob.iterations();
    float acc[64];
#pragma unroll
    for (int i = 0; i < 64; ++i) acc[i] = 0.0f;
#pragma unroll
    for (int s = 0; s < kStages - 1; ++s) {
      if (s < iters) prob.load(s, s);
      cp_async_commit();
    }
    for (int it = 0; it < iters; ++it) {
      cp_async_wait<kStages - 2>();
      __syncthreads();
      const int next = it + kStages - 1;
      if (next < iters) prob.load(next, next % kStages);
      cp_async_commit();
      prob.compute(it % kStages, acc);
    }
    cp_async_wait<0>();
    __syncthreads();
    TM::stage_acc(acc, TM::staging(smem), prob.b_nk());
    __syncthreads();
    prob.epilogue(TM::staging(smem));
    __syncthreads();
  }
}

}  // namespace cuda
}  // namespace bs
