// updat on the CPU: dW[i] = alpha·gate[i]·Σ_p x_p[:, c]ᵀ·dy_p[:, k] + beta·dW[i].
//
// A task owns a few consecutive blocks of one layout row c (plan-time list). For every pair and
// every chunk of nc rows of N it takes the x slice x_p[n-chunk, c-block] (fp32, (rows, b)
// row-major) and per block the dy slice dy_p[n-chunk, k-block] (fp32, 16-column panels), and
// accumulates the b x b product on the micro-kernel (u_mr x 16 tiles, depth = the chunk's rows)
// into the block's fp32 accumulator in the thread slot. Every block's sum runs over pairs, then
// chunks, then rows, in that fixed order.
//
// Where the slices come from: with one pair (the common case) x and dy are first copied into
// block-major panels in the workspace, once per call, and slices are views into them. The blocks
// of a layout column all read the same dy columns, which in dy sit b floats out of every row, a
// pattern the hardware prefetcher does not follow; gathering them per block costs as much as the
// arithmetic. With several pairs the workspace (sized without knowing the number of pairs) holds
// no panels, and each task gathers its slices into its thread slot.
#include <omp.h>

#include <algorithm>

#include "cpu/bsmm_cpu.hpp"
#include "cpu/pack.hpp"

namespace bs {
namespace cpu {

template <typename T>
void CpuBsmm::updat_typed(const BsmmUpdatArgs& a) const {
  const int64_t b = cfg_.block_size, N = a.N, C = cfg_.C, K = cfg_.K;
  const int axis = cfg_.feature_axis;
  T* dw = static_cast<T*>(a.dw);
  const int nv = tile_.u_nv, mr = tile_.u_mr;
  const int64_t nc = tile_.nc, panel = 8 * nv;
  const int64_t ntasks = static_cast<int64_t>(updat_tasks_.size());
  const bool use_panels = a.n_pairs == 1 && N > 0;

  Scratch ws(a.workspace);
  float* x_panels = ws.take<float>(static_cast<size_t>(N * C));    // (CB, N, b)
  float* dy_panels = ws.take<float>(static_cast<size_t>(N * K));   // (KB, b / panel, N, panel)
  const size_t slot_bytes = updat_thread_bytes();
  char* slots = ws.take<char>(static_cast<size_t>(threads_) * slot_bytes);

#pragma omp parallel num_threads(threads_)
  {
    if (use_panels) {
      const T* x = static_cast<const T*>(a.x[0]);
      const T* dy = static_cast<const T*>(a.dy[0]);
#pragma omp for schedule(dynamic, 4) nowait
      for (int64_t c = 0; c < layout_.CB; ++c) pack_activation(x, axis, N, C, 0, N, c * b, b, b, x_panels + c * N * b);
#pragma omp for schedule(dynamic, 4)
      for (int64_t k = 0; k < layout_.KB; ++k)
        pack_activation(dy, axis, N, K, 0, N, k * b, b, panel, dy_panels + k * N * b);
    }
    Scratch slot(slots + static_cast<size_t>(omp_get_thread_num()) * slot_bytes);
    float* acc = slot.take<float>(static_cast<size_t>(updat_group_ * b * b));
    float* x_slot = slot.take<float>(static_cast<size_t>(nc * b));
    float* dy_slot = slot.take<float>(static_cast<size_t>(nc * b));
    const int64_t zero_off = 0;

#pragma omp for schedule(dynamic)
    for (int64_t t = 0; t < ntasks; ++t) {
      const UpdatTask task = updat_tasks_[t];
      const int64_t c = layout_.block_rows[task.begin];
      bool any = false;  // accumulators hold partial sums
      for (int32_t p = 0; p < a.n_pairs && N > 0; ++p) {
        const T* x = static_cast<const T*>(a.x[p]);
        const T* dy = static_cast<const T*>(a.dy[p]);
        for (int64_t n0 = 0; n0 < N; n0 += nc) {
          const int64_t rows = std::min(nc, N - n0);
          const float* xs = x_panels + c * N * b + n0 * b;
          if (!use_panels) {
            pack_activation(x, axis, N, C, n0, rows, c * b, b, b, x_slot);
            xs = x_slot;
          }
          for (int64_t e = task.begin; e < task.end; ++e) {
            if (gate_of(a.gate, e) == 0.0f) continue;
            const int64_t k = layout_.row_cols[e];
            const float* ds = dy_panels + k * N * b + n0 * panel;
            int64_t panel_stride = N * panel;
            if (!use_panels) {
              pack_activation(dy, axis, N, K, n0, rows, k * b, b, panel, dy_slot);
              ds = dy_slot;
              panel_stride = rows * panel;
            }
            float* blk_acc = acc + (e - task.begin) * b * b;
            MicroArgs m;
            m.ar = 1;
            m.ap = b;
            m.a_off = &zero_off;
            m.b_ptr = &ds;
            m.bp = panel;
            m.nseg = 1;
            m.depth = rows;
            m.ldc = b;
            m.accumulate = any;
            for (int64_t j0 = 0; j0 < b; j0 += panel) {
              m.b_col = (j0 / panel) * panel_stride;
              // b rows in near-equal tiles of at most mr rows (32 = 6+6+5+5+5+5): a short
              // last tile would leave too few accumulators to hide the FMA latency.
              const int64_t tiles = (b + mr - 1) / mr;
              for (int64_t it = 0; it < tiles; ++it) {
                const int64_t i0 = it * b / tiles, i1 = (it + 1) * b / tiles;
                m.a = xs + i0;
                m.c = blk_acc + i0 * b + j0;
                kernels_->get(nv, static_cast<int>(i1 - i0))(m);
              }
            }
          }
          any = true;
        }
      }
      for (int64_t e = task.begin; e < task.end; ++e) {
        const float g = gate_of(a.gate, e);
        float* blk_acc = acc + (e - task.begin) * b * b;
        if (!any || g == 0.0f) std::fill(blk_acc, blk_acc + b * b, 0.0f);  // empty sum: beta·dW only
        store_scaled(blk_acc, 1, dw + e * b * b, b * b, a.alpha * g, a.beta);
      }
    }
  }
}

void CpuBsmm::updat(const BsmmUpdatArgs& a) const {
  dispatch_dtype(cfg_.dtype, [&](auto t) { updat_typed<decltype(t)>(a); });
}

}  // namespace cpu
}  // namespace bs
