// updat on the CPU: dW[i] = alpha·gate[i]·Σ_p x_p[:, c]ᵀ·dy_p[:, k] + beta·dW[i].
//
// A task owns a few consecutive blocks of one layout row c (plan-time list). For every pair and
// every chunk of nc rows of N it packs the x slice x_p[n-chunk, c-block] once into fp32, then per
// block the dy slice, and accumulates the b x b product on the micro-kernel (u_mr x 16 tiles;
// depth = the chunk's rows) into the block's fp32 accumulator in the thread slot. Every block's
// sum runs over pairs, then chunks, then rows, in that fixed order.
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

  Scratch ws(a.workspace);
  const size_t slot_bytes = updat_thread_bytes();
  char* slots = ws.take<char>(static_cast<size_t>(threads_) * slot_bytes);

#pragma omp parallel num_threads(threads_)
  {
    Scratch slot(slots + static_cast<size_t>(omp_get_thread_num()) * slot_bytes);
    float* acc = slot.take<float>(static_cast<size_t>(updat_group_ * b * b));
    float* xs = slot.take<float>(static_cast<size_t>(nc * b));
    float* ds = slot.take<float>(static_cast<size_t>(nc * b));
    const int64_t zero_off = 0;
    const float* ds_ptr = ds;

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
          pack_activation(x, axis, N, C, n0, rows, c * b, b, xs, b);
          for (int64_t e = task.begin; e < task.end; ++e) {
            if (gate_of(a.gate, e) == 0.0f) continue;
            pack_activation(dy, axis, N, K, n0, rows, layout_.row_cols[e] * b, b, ds, b);
            float* blk_acc = acc + (e - task.begin) * b * b;
            MicroArgs m;
            m.ar = 1;
            m.ap = b;
            m.a_off = &zero_off;
            m.b_ptr = &ds_ptr;
            m.bp = b;
            m.nseg = 1;
            m.depth = rows;
            m.ldc = b;
            m.accumulate = any;
            for (int64_t j0 = 0; j0 < b; j0 += panel) {
              m.b_col = j0;
              for (int64_t i0 = 0; i0 < b; i0 += mr) {
                m.a = xs + i0;
                m.c = blk_acc + i0 * b + j0;
                kernels_->get(nv, mr)(m);
              }
            }
          }
          any = true;
        }
      }
      for (int64_t e = task.begin; e < task.end; ++e) {
        const float g = gate_of(a.gate, e);
        const float* blk_acc = acc + (e - task.begin) * b * b;
        T* o = dw + e * b * b;
        const bool zero = !any || g == 0.0f;
        for (int64_t q = 0; q < b * b; ++q) store_scaled(o[q], zero ? 0.0f : blk_acc[q], a.alpha * g, a.beta);
      }
    }
  }
}

void CpuBsmm::updat(const BsmmUpdatArgs& a) const {
  dispatch_dtype(cfg_.dtype, [&](auto t) { updat_typed<decltype(t)>(a); });
}

}  // namespace cpu
}  // namespace bs
