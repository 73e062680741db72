// fprop (y = x·W) and bprop (dx = dy·Wᵀ) on the CPU.
//
// A task owns an output tile: up to nr rows of N x one output block (a layout column for fprop,
// a layout row for bprop, walked through the BSC resp. BSR lookup). It sums the tile's blocks kc
// at a time into an fp32 accumulator tile; within a chunk the micro-kernel walks 16-column panels
// (B panel of kc·b x 16 floats, L1-resident) over 6-row micro-tiles of the input rows.
//
// Operands the micro-kernel reads as they are: fp32 input with feature_axis 1, fp32 weight
// blocks for ungated fprop. Otherwise the input is converted once per call into an fp32 (N, F)
// copy in the workspace, and each task packs its chunk's blocks (times the gate, transposed for
// bprop) into its thread slot.
#include <omp.h>

#include <algorithm>
#include <type_traits>

#include "cpu/bsmm_cpu.hpp"
#include "cpu/pack.hpp"

namespace bs {
namespace cpu {

template <typename T>
void CpuBsmm::xprop_typed(const BsmmXpropArgs& a) const {
  const int64_t b = cfg_.block_size, N = a.N;
  const int axis = cfg_.feature_axis;
  const bool bprop = a.bprop;
  const int64_t in_features = bprop ? cfg_.K : cfg_.C, out_features = bprop ? cfg_.C : cfg_.K;
  const int64_t out_blocks = bprop ? layout_.CB : layout_.KB;
  const bool pack_in = xprop_packs_input();
  const bool pack_w = !std::is_same<T, float>::value || a.gate != nullptr || bprop;
  const T* in = static_cast<const T*>(a.in);
  const T* w = static_cast<const T*>(a.w);
  T* out = static_cast<T*>(a.out);

  Scratch ws(a.workspace);
  float* in_f32 = pack_in ? ws.take<float>(static_cast<size_t>(N * in_features)) : nullptr;
  const size_t slot_bytes = xprop_thread_bytes();
  char* slots = ws.take<char>(static_cast<size_t>(threads_) * slot_bytes);
  // The fp32 (N, in_features) matrix the micro-kernel reads.
  const float* in_rows = pack_in ? in_f32 : reinterpret_cast<const float*>(in);

  const int64_t ntile = xprop_row_tiles(N, out_blocks);
  const int64_t nr = (N + ntile - 1) / ntile;
  const int nv = tile_.nv, mr = tile_.mr;
  const int64_t kc = tile_.kc, panel = 8 * nv;

#pragma omp parallel num_threads(threads_)
  {
    if (pack_in) {
      constexpr int64_t kT = 64;  // 64 x 64 tiles: both the source and the copy stay in cache
      const int64_t row_tiles = (N + kT - 1) / kT, col_tiles = (in_features + kT - 1) / kT;
#pragma omp for schedule(static)
      for (int64_t t = 0; t < row_tiles * col_tiles; ++t) {
        const int64_t n0 = (t / col_tiles) * kT, f0 = (t % col_tiles) * kT;
        pack_activation(in, axis, N, in_features, n0, std::min(kT, N - n0), f0, std::min(kT, in_features - f0),
                        in_f32 + n0 * in_features + f0, in_features);
      }
    }
    Scratch slot(slots + static_cast<size_t>(omp_get_thread_num()) * slot_bytes);
    float* acc = slot.take<float>(static_cast<size_t>(tile_.nr_max * b));
    float* wpack = slot.take<float>(static_cast<size_t>(kc * b * b));
    int64_t* a_off = slot.take<int64_t>(static_cast<size_t>(kc));
    const float** b_ptr = slot.take<const float*>(static_cast<size_t>(kc));

#pragma omp for schedule(dynamic)
    for (int64_t task = 0; task < out_blocks * ntile; ++task) {
      const int64_t ob = task / ntile, n0 = (task % ntile) * nr;
      const int64_t rows = std::min(nr, N - n0);
      const int64_t begin = bprop ? layout_.row_ptr[ob] : layout_.col_ptr[ob];
      const int64_t end = bprop ? layout_.row_ptr[ob + 1] : layout_.col_ptr[ob + 1];
      bool any = false;  // acc holds a partial sum
      for (int64_t e = begin; e < end;) {
        // Gather up to kc blocks with a nonzero gate.
        int64_t ns = 0;
        for (; e < end && ns < kc; ++e) {
          const int64_t blk = bprop ? e : layout_.col_blocks[e];
          const float g = gate_of(a.gate, blk);
          if (g == 0.0f) continue;
          a_off[ns] = (bprop ? layout_.row_cols[e] : layout_.col_rows[e]) * b;
          if (pack_w) {
            pack_block(w + blk * b * b, b, g, bprop, wpack + ns * b * b);
            b_ptr[ns] = wpack + ns * b * b;
          } else {
            b_ptr[ns] = reinterpret_cast<const float*>(w) + blk * b * b;
          }
          ++ns;
        }
        if (ns == 0) break;
        MicroArgs m;
        m.ar = in_features;
        m.ap = 1;
        m.a_off = a_off;
        m.b_ptr = b_ptr;
        m.bp = b;
        m.nseg = ns;
        m.depth = b;
        m.ldc = b;
        m.accumulate = any;
        for (int64_t j0 = 0; j0 < b; j0 += panel) {
          m.b_col = j0;
          for (int64_t r0 = 0; r0 < rows; r0 += mr) {
            m.a = in_rows + (n0 + r0) * in_features;
            m.c = acc + r0 * b + j0;
            kernels_->get(nv, static_cast<int>(std::min<int64_t>(mr, rows - r0)))(m);
          }
        }
        any = true;
      }
      if (!any) std::fill(acc, acc + rows * b, 0.0f);
      store_activation(acc, b, rows, b, out, axis, N, out_features, n0, ob * b, a.alpha, a.beta);
    }
  }
}

void CpuBsmm::xprop(const BsmmXpropArgs& a) const {
  dispatch_dtype(cfg_.dtype, [&](auto t) { xprop_typed<decltype(t)>(a); });
}

}  // namespace cpu
}  // namespace bs
