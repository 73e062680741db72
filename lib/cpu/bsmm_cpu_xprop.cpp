// fprop (y = x·W) and bprop (dx = dy·Wᵀ) on the CPU.
//
// 1. The input is copied once per call into block-major fp32 panels in the workspace:
//    panel f holds input features f·b .. f·b+b-1 of all N rows, (N, b) row-major. This converts
//    fp16/bf16, undoes feature_axis 0, and turns "the rows of one input block", which every task
//    reads, into one contiguous stream the hardware prefetcher follows (in x they sit b floats
//    out of every row, re-read from L3 for every output block).
// 2. A task owns an output tile: up to nr rows of N x one output block (a layout column for
//    fprop, a layout row for bprop, walked through the BSC resp. BSR lookup). It sums the tile's
//    blocks kc at a time into an fp32 accumulator tile in its thread slot: it packs the chunk's
//    weight blocks (times the gate, transposed for bprop) as 16-column panels, then for each panel
//    (kc·b x 16 floats, L1-resident) runs the micro-kernel over the tile's 6-row micro-tiles.
// 3. The tile is written once: alpha·acc + beta·out, rounded to the storage type.
#include <omp.h>

#include <algorithm>

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
  const int64_t in_blocks = bprop ? layout_.KB : layout_.CB;
  const int64_t out_blocks = bprop ? layout_.CB : layout_.KB;
  const T* in = static_cast<const T*>(a.in);
  const T* w = static_cast<const T*>(a.w);
  T* out = static_cast<T*>(a.out);

  Scratch ws(a.workspace);
  float* panels = ws.take<float>(static_cast<size_t>(N * in_features));
  const size_t slot_bytes = xprop_thread_bytes();
  char* slots = ws.take<char>(static_cast<size_t>(threads_) * slot_bytes);

  // Rows per tile, then the number of tiles those rows need (rounding nr up can leave fewer
  // tiles than asked for; a tile past N would have a negative row count).
  const int64_t want_tiles = xprop_row_tiles(N, out_blocks);
  const int64_t nr = (N + want_tiles - 1) / want_tiles;
  const int64_t ntile = (N + nr - 1) / nr;
  const int nv = tile_.nv, mr = tile_.mr;
  const int64_t kc = tile_.kc, panel = 8 * nv;
  const int64_t panel_stride = kc * b * panel;  // floats between the column panels of a packed chunk

#pragma omp parallel num_threads(threads_)
  {
#pragma omp for schedule(dynamic, 4)
    for (int64_t f = 0; f < in_blocks; ++f)
      pack_activation(in, axis, N, in_features, 0, N, f * b, b, b, panels + f * N * b);

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
          a_off[ns] = (bprop ? layout_.row_cols[e] : layout_.col_rows[e]) * N * b;
          pack_block_panels(w + blk * b * b, b, g, bprop, panel, panel_stride, wpack + ns * b * panel);
          b_ptr[ns] = wpack + ns * b * panel;
          ++ns;
        }
        if (ns == 0) break;
        MicroArgs m;
        m.ar = b;
        m.ap = 1;
        m.a_off = a_off;
        m.b_ptr = b_ptr;
        m.bp = panel;
        m.nseg = ns;
        m.depth = b;
        m.ldc = b;
        m.accumulate = any;
        for (int64_t j0 = 0; j0 < b; j0 += panel) {
          m.b_col = (j0 / panel) * panel_stride;
          for (int64_t r0 = 0; r0 < rows; r0 += mr) {
            m.a = panels + (n0 + r0) * b;
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
