// The original's unfused BlocksparseTransformer ops on the CPU: SDD scores (NT), the masked block
// softmax and its gradient, DSD (NN) and the transposed DSD (TN). See bst.h for the math.
#include <omp.h>

#include <algorithm>
#include <cmath>

#include "cpu/bst/bst_cpu.hpp"
#include "cpu/bst/bst_cpu_tile.hpp"

namespace bs::cpu {

using bst::kNegInf;
using bst::Task;
using bst::Tiles;

// scores[n, blk] = a[query rows of the block]·b[key rows]ᵀ: a task per block row loads its query
// tile once.
template <typename T>
void CpuBst::sdd(const BstUnfusedArgs& a) const {
  const BstLayout& l = layout_;
  const int b = static_cast<int>(l.b), D = cfg_.head_dim;
  const int64_t stride = cfg_.row_stride(), bb = l.b * l.b;
  const T* A = static_cast<const T*>(a.a);
  const T* B = static_cast<const T*>(a.b);
  T* out = static_cast<T*>(a.out);
  const int64_t tasks = a.batch * static_cast<int64_t>(rows_.size());
#pragma omp parallel for num_threads(threads_) schedule(dynamic, 1)
  for (int64_t t = 0; t < tasks; ++t) {
    const Task k = bst::task_of(t, rows_, l.QB, a.batch);
    const int64_t lr = l.layout_head(k.h) * l.QB + k.blk;
    if (l.row_ptr[lr] == l.row_ptr[lr + 1]) continue;
    Tiles tiles(slot(a.workspace, omp_get_thread_num()));
    float* qt = tiles.take(l.b * D);
    float* kt = tiles.take(l.b * D);
    float* s = tiles.take(bb);
    bst::load_tile(A + cfg_.offset(k.n, k.blk * l.b, k.h, cfg_.Sq), stride, b, D, qt);
    for (int64_t g = l.row_ptr[lr]; g < l.row_ptr[lr + 1]; ++g) {
      bst::load_tile_t(B + cfg_.offset(k.n, l.col_of[g] * l.b, k.h, cfg_.Sk), stride, b, D, kt);
      gemm_.nt(qt, kt, b, b, D, s);
      T* dst = out + (k.n * l.score_blocks + l.score_block(k.h, g)) * bb;
      for (int64_t e = 0; e < bb; ++e) dst[e] = from_float<T>(s[e]);
    }
  }
}

// Softmax (a.op = SOFTMAX: a = scores, out = probs) or its gradient (SOFTMAX_GRAD: a = probs,
// b = dprobs, out = dscores) over each query row, across all blocks of its block row. Rows are
// read before they are written, so out may alias the input it is allowed to.
template <typename T>
void CpuBst::softmax(const BstUnfusedArgs& a) const {
  const BstLayout& l = layout_;
  const int64_t b = l.b, bb = b * b;
  const bool grad = a.op == BST_OP_SOFTMAX_GRAD;
  const T* X = static_cast<const T*>(a.a);
  const T* DY = static_cast<const T*>(a.b);
  T* out = static_cast<T*>(a.out);
  const int64_t tasks = a.batch * static_cast<int64_t>(rows_.size());
#pragma omp parallel for num_threads(threads_) schedule(dynamic, 1)
  for (int64_t t = 0; t < tasks; ++t) {
    const Task k = bst::task_of(t, rows_, l.QB, a.batch);
    const int64_t lr = l.layout_head(k.h) * l.QB + k.blk;
    const int64_t g0 = l.row_ptr[lr], g1 = l.row_ptr[lr + 1];
    const int64_t base = k.n * l.score_blocks + l.score_block(k.h, g0);  // blocks of the row are consecutive
    for (int64_t r = 0; r < b; ++r) {
      const int64_t s = k.blk * b + r;
      auto allowed = [&](int64_t g, int64_t c) {
        return mask_bit(l.mask_row(g, r), c) && cfg_.causal.allows(s, l.col_of[g] * b + c);
      };
      auto at = [&](int64_t g, int64_t c) { return (base + g - g0) * bb + r * b + c; };
      if (grad) {
        float dot = 0.0f;
        for (int64_t g = g0; g < g1; ++g)
          for (int64_t c = 0; c < b; ++c)
            if (allowed(g, c)) dot += to_float(X[at(g, c)]) * to_float(DY[at(g, c)]);
        for (int64_t g = g0; g < g1; ++g)
          for (int64_t c = 0; c < b; ++c) {
            const float y = to_float(X[at(g, c)]);
            out[at(g, c)] = from_float<T>(allowed(g, c) ? a.scale * y * (to_float(DY[at(g, c)]) - dot) : 0.0f);
          }
        continue;
      }
      float mx = kNegInf;
      for (int64_t g = g0; g < g1; ++g)
        for (int64_t c = 0; c < b; ++c)
          if (allowed(g, c)) mx = std::max(mx, a.scale * to_float(X[at(g, c)]));
      float sum = 0.0f;
      if (mx != kNegInf)
        for (int64_t g = g0; g < g1; ++g)
          for (int64_t c = 0; c < b; ++c)
            if (allowed(g, c)) sum += std::exp(a.scale * to_float(X[at(g, c)]) - mx);
      // A row without an allowed key has sum 0 and gets zeros (not the NaN of 0/0).
      const float inv = sum > 0.0f ? 1.0f / sum : 0.0f;
      for (int64_t g = g0; g < g1; ++g)
        for (int64_t c = 0; c < b; ++c) {
          const float p = allowed(g, c) ? std::exp(a.scale * to_float(X[at(g, c)]) - mx) * inv : 0.0f;
          out[at(g, c)] = from_float<T>(p);
        }
    }
  }
}

// out[query rows of block i] = Σ_blocks of row i  P·b[key rows].
template <typename T>
void CpuBst::dsd(const BstUnfusedArgs& a) const {
  const BstLayout& l = layout_;
  const int b = static_cast<int>(l.b), D = cfg_.head_dim;
  const int64_t stride = cfg_.row_stride(), bb = l.b * l.b;
  const T* P = static_cast<const T*>(a.a);
  const T* B = static_cast<const T*>(a.b);
  T* out = static_cast<T*>(a.out);
  const int64_t tasks = a.batch * static_cast<int64_t>(rows_.size());
#pragma omp parallel for num_threads(threads_) schedule(dynamic, 1)
  for (int64_t t = 0; t < tasks; ++t) {
    const Task k = bst::task_of(t, rows_, l.QB, a.batch);
    const int64_t lr = l.layout_head(k.h) * l.QB + k.blk;
    Tiles tiles(slot(a.workspace, omp_get_thread_num()));
    float* acc = tiles.take(l.b * D);
    float* vt = tiles.take(l.b * D);
    float* p = tiles.take(bb);
    bst::zero(acc, l.b * D);
    for (int64_t g = l.row_ptr[lr]; g < l.row_ptr[lr + 1]; ++g) {
      bst::load_tile(B + cfg_.offset(k.n, l.col_of[g] * l.b, k.h, cfg_.Sk), stride, b, D, vt);
      bst::load_block(P + (k.n * l.score_blocks + l.score_block(k.h, g)) * bb, bb, p);
      gemm_.nn_acc(p, vt, b, b, D, acc);
    }
    bst::store_tile(acc, b, D, 1.0f, out + cfg_.offset(k.n, k.blk * l.b, k.h, cfg_.Sq), stride);
  }
}

// out[key rows of block j] = Σ_blocks of column j  Pᵀ·a[query rows].
template <typename T>
void CpuBst::dsd_t(const BstUnfusedArgs& a) const {
  const BstLayout& l = layout_;
  const int b = static_cast<int>(l.b), D = cfg_.head_dim;
  const int64_t stride = cfg_.row_stride(), bb = l.b * l.b;
  const T* P = static_cast<const T*>(a.a);
  const T* A = static_cast<const T*>(a.b);
  T* out = static_cast<T*>(a.out);
  const int64_t tasks = a.batch * static_cast<int64_t>(cols_.size());
#pragma omp parallel for num_threads(threads_) schedule(dynamic, 1)
  for (int64_t t = 0; t < tasks; ++t) {
    const Task k = bst::task_of(t, cols_, l.KB, a.batch);
    const int64_t lc = l.layout_head(k.h) * l.KB + k.blk;
    Tiles tiles(slot(a.workspace, omp_get_thread_num()));
    float* acc = tiles.take(l.b * D);
    float* at = tiles.take(l.b * D);
    float* p = tiles.take(bb);
    bst::zero(acc, l.b * D);
    for (int64_t e = l.col_ptr[lc]; e < l.col_ptr[lc + 1]; ++e) {
      bst::load_tile(A + cfg_.offset(k.n, l.col_row[e] * l.b, k.h, cfg_.Sq), stride, b, D, at);
      bst::load_block(P + (k.n * l.score_blocks + l.score_block(k.h, l.col_block[e])) * bb, bb, p);
      gemm_.tn_acc(p, at, b, b, D, acc);
    }
    bst::store_tile(acc, b, D, 1.0f, out + cfg_.offset(k.n, k.blk * l.b, k.h, cfg_.Sk), stride);
  }
}

void CpuBst::unfused(const BstUnfusedArgs& a) const {
  dispatch_dtype(cfg_.dtype, [&](auto t) {
    using T = decltype(t);
    switch (a.op) {
      case BST_OP_SDD: sdd<T>(a); break;
      case BST_OP_SOFTMAX:
      case BST_OP_SOFTMAX_GRAD: softmax<T>(a); break;
      case BST_OP_DSD: dsd<T>(a); break;
      default: dsd_t<T>(a); break;
    }
  });
}

}  // namespace bs::cpu
