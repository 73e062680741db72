#pragma once
// updat (dW[i] = Σ_p x_p[:, c]ᵀ·dy_p[:, k] on the layout) as a tile problem (tile.cuh).
//
// A CTA owns a super-block: R = 128/b consecutive input blocks (N side, x features) times up to
// G = 128/b output blocks gathered from the union of those rows' columns (M side, dy features),
// with the reduction over tokens. The x and dy slices of a token chunk are loaded once for every
// block of the super-block; MMA tiles of absent (or gate-0) blocks are skipped. Records (updat_lut
// in lut.cu): {rows[R], cols[G], blk[R*G]} with -1 for absent.
// The token range can be split over gridDim.y (few super-blocks, long N): each split then writes
// fp32 partial blocks into the workspace and a second kernel (misc.cu) sums them in split order,
// so the result is deterministic. mode: 0 = final (alpha, gate, beta applied here), 1 = store the
// partial, 2 = add to the partial (later chunks of more than kMaxPairs pairs).
#include "kernels/bsmm/tile.cuh"

namespace bs {
namespace cuda {

template <typename TT, Math M, int B>
struct Updat {
  using T = TT;
  using Params = UpdatParams;
  static constexpr int kES = sizeof(T);
  static constexpr int kR = kTile / B, kG = kTile / B;
  static constexpr int kKC = 128 / kES;  // tokens per stage
  static constexpr int kRec = kR + kG + kR * kG;
  static constexpr int kV = 16 / kES;
  using Tile = TileMath<T, M, kKC, B>;
  static_assert(kRec * 4 + kStages * kStageGates * 4 <= kMetaBytes, "record does not fit the meta area");

  const Params& p;
  unsigned char* smem;
  int* rec;  // the CTA's record in shared memory
  long long t_begin = 0, t_end = 0;
  int chunks = 0, split = 0;
  uint32_t warp_mask = 0;

  __device__ Updat(const Params& prm, unsigned char* s)
      : p(prm), smem(s), rec(reinterpret_cast<int*>(s + kStages * kStageGates * 4)) {
    const int* src = p.tiles + static_cast<long long>(blockIdx.x) * kRec;
    for (int i = threadIdx.x; i < kRec; i += kThreads) rec[i] = src[i];
    __syncthreads();
    // Bit (mt*4 + nt) of the warp's 64 x 32 tile: does it touch a present, non-gated-off block?
    if (M != Math::kFfma) {
      const int warp = threadIdx.x >> 5, wm = warp >> 2, wn = warp & 3;
      for (int mt = 0; mt < 4; ++mt)
        for (int nt = 0; nt < 4; ++nt) {
          const int m = wm * 64 + mt * 16, n = wn * 32 + nt * 8;
          bool any = false;
          for (int mm = m; mm < m + 16; mm += B) any = any || live(n / B, mm / B);
          if (any) warp_mask |= 1u << (mt * 4 + nt);
        }
    }
  }
  __device__ bool live(int r, int g) const {
    const int blk = rec[kR + kG + r * kG + g];
    return blk >= 0 && (p.gate == nullptr || p.gate[blk] != 0.0f);
  }
  __device__ int work_y() const { return p.splits; }
  __device__ void begin(int wy) {
    split = wy;
    t_begin = static_cast<long long>(wy) * p.tokens_per_split;
    t_end = t_begin + p.tokens_per_split < p.N ? t_begin + p.tokens_per_split : p.N;
    chunks = t_end > t_begin ? static_cast<int>((t_end - t_begin + kKC - 1) / kKC) : 0;
  }
  __device__ int iterations() const { return chunks * p.n_pairs; }
  __device__ bool a_km() const { return p.axis == 1; }  // dy rows are tokens
  __device__ bool b_nk() const { return p.axis == 0; }  // x rows are features

  // One operand: 128 gathered features (groups of B from `ids`, -1 = absent) x kKC tokens.
  // tokens_major: the tensor is (N, F) and the tile is [token][feature]; else (F, N), [feature][token].
  __device__ void load_operand(const T* src, int F, const int* ids, long long t0, T* dst_tile, bool tokens_major,
                               bool is_a) const {
    const int tid = threadIdx.x;
    if (tokens_major) {
      constexpr int kCpr = kTile / kV, kTotal = kKC * kCpr;
      static_assert(kTotal % kThreads == 0, "whole chunks per thread");
#pragma unroll
      for (int u = 0; u < kTotal / kThreads; ++u) {
        const int c = tid + u * kThreads;
        const int k = c / kCpr, f = (c % kCpr) * kV;
        const int id = ids[f / B];
        const long long t = t0 + k;
        const bool ok = id >= 0 && t < t_end;
        T* dst = dst_tile + (is_a ? Tile::a_off(true, f, k) : Tile::b_off(false, k, f));
        cp_async16(dst, src + (ok ? t * F + static_cast<long long>(id) * B + f % B : 0), ok);
      }
    } else {
      constexpr int kCpr = kKC / kV, kTotal = kTile * kCpr;
      static_assert(kTotal % kThreads == 0, "whole chunks per thread");
      const bool vec = (p.N * kES) % 16 == 0;
#pragma unroll
      for (int u = 0; u < kTotal / kThreads; ++u) {
        const int c = tid + u * kThreads;
        const int f = c / kCpr, k = (c % kCpr) * kV;
        const int id = ids[f / B];
        const long long t = t0 + k;
        T* dst = dst_tile + (is_a ? Tile::a_off(false, f, k) : Tile::b_off(true, k, f));
        const T* row = src + (static_cast<long long>(id < 0 ? 0 : id) * B + f % B) * p.N;
        if (id >= 0 && t + kV <= t_end && vec) {
          cp_async16(dst, row + t, true);
        } else if (id < 0 || t >= t_end) {
          cp_async16(dst, src, false);
        } else {
#pragma unroll
          for (int v = 0; v < kV; ++v) dst[v] = t + v < t_end ? row[t + v] : store_as<T>(0.0f);
        }
      }
    }
  }

  __device__ void load(int it, int s) const {
    const int pair = it / chunks;
    const long long t0 = t_begin + static_cast<long long>(it % chunks) * kKC;
    load_operand(static_cast<const T*>(p.dy[pair]), p.K, rec + kR, t0, Tile::stage_a(smem, s), a_km(), true);
    load_operand(static_cast<const T*>(p.x[pair]), p.C, rec, t0, Tile::stage_b(smem, s), !b_nk(), false);
  }

  __device__ void compute(int s, float (&acc)[64]) const {
    Tile::compute(Tile::stage_a(smem, s), Tile::stage_b(smem, s), a_km(), b_nk(), acc, nullptr, warp_mask, false);
  }

  // cs[m][n]: m = dy feature (g*B + j), n = x feature (r*B + i); dW[blk][i][j].
  __device__ void epilogue(const float* cs) const {
    constexpr int kVpb = B * B / kV;  // vectors per block
    T* dw = static_cast<T*>(p.dw);
    for (int c = threadIdx.x; c < kR * kG * kVpb; c += kThreads) {
      const int pair = c / kVpb, e = (c % kVpb) * kV;
      const int r = pair / kG, g = pair % kG;
      const int blk = rec[kR + kG + pair];
      if (blk < 0) continue;
      const int i = e / B, j = e % B;
      float a[kV];
#pragma unroll
      for (int v = 0; v < kV; ++v) a[v] = cs[(g * B + j + v) * kCsLd + r * B + i];
      const long long off = static_cast<long long>(blk) * B * B + e;
      if (p.mode == 0) {
        const float gv = p.gate ? p.gate[blk] : 1.0f;
        Vec16<T>* dst = reinterpret_cast<Vec16<T>*>(dw + off);
        Vec16<T> out;
        Vec16<T> old;
        if (p.beta != 0.0f) old = *dst;
#pragma unroll
        for (int v = 0; v < kV; ++v) {
          const float val = gv == 0.0f ? 0.0f : p.alpha * gv * a[v];
          out.v[v] = store_as<T>(p.beta != 0.0f ? val + p.beta * load_float(old.v[v]) : val);
        }
        *dst = out;
      } else {
        float* dst = p.ws + static_cast<long long>(split) * p.nnz * B * B + off;
#pragma unroll
        for (int v = 0; v < kV; v += 4) {
          float4 x4 = make_float4(a[v], a[v + 1], a[v + 2], a[v + 3]);
          if (p.mode == 2) {
            const float4 o = *reinterpret_cast<const float4*>(dst + v);
            x4.x += o.x, x4.y += o.y, x4.z += o.z, x4.w += o.w;
          }
          *reinterpret_cast<float4*>(dst + v) = x4;
        }
      }
    }
  }
};

}  // namespace cuda
}  // namespace bs
