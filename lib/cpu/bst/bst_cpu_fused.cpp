// Fused block-sparse attention on the CPU (FlashAttention-2's algorithm on block tiles): the forward
// with an online softmax over the key blocks of each query block row, saving the log-sum-exp; the
// backward recomputing the probabilities, in two passes that each own their outputs: dk, dv per key
// block column, then dq per query block row (no reduction across tasks: deterministic).
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <initializer_list>

#include "cpu/bst/bst_cpu.hpp"
#include "cpu/bst/bst_cpu_tile.hpp"

namespace bs::cpu {

using bst::kNegInf;
using bst::Task;
using bst::Tiles;

namespace {

// exp(x - m) for a row maximum m that may be -inf (a row with no allowed key so far): 0.
inline float exp_shifted(float x, float m) { return m == kNegInf ? 0.0f : std::exp(x - m); }

}  // namespace

template <typename T>
void CpuBst::fprop(const BstAttentionArgs& a) const {
  const BstLayout& l = layout_;
  const int b = static_cast<int>(l.b), D = cfg_.head_dim;
  const int64_t stride = cfg_.row_stride(), bb = l.b * l.b;
  const T* Q = static_cast<const T*>(a.q);
  const T* K = static_cast<const T*>(a.k);
  const T* V = static_cast<const T*>(a.v);
  T* O = static_cast<T*>(a.o_out);
  const ops::PhiloxKeys keys = ops::dropout_keys(a.dropout.seed);
  const int64_t tasks = a.batch * static_cast<int64_t>(rows_.size());
#pragma omp parallel for num_threads(threads_) schedule(dynamic, 1)
  for (int64_t t = 0; t < tasks; ++t) {
    const Task k = bst::task_of(t, rows_, l.QB, a.batch);
    const int64_t lr = l.layout_head(k.h) * l.QB + k.blk;
    const int64_t s0 = k.blk * l.b;
    Tiles tiles(slot(a.workspace, omp_get_thread_num()));
    float* qt = tiles.take(l.b * D);
    float* kt = tiles.take(l.b * D);
    float* vt = tiles.take(l.b * D);
    float* acc = tiles.take(l.b * D);
    float* s = tiles.take(bb);
    float* z = tiles.take(bb);
    float* m = tiles.take(l.b);
    float* sum = tiles.take(l.b);
    bst::zero(acc, l.b * D);
    std::fill(m, m + b, kNegInf);
    bst::zero(sum, l.b);
    bst::load_tile(Q + cfg_.offset(k.n, s0, k.h, cfg_.Sq), stride, b, D, qt);
    for (int64_t g = l.row_ptr[lr]; g < l.row_ptr[lr + 1]; ++g) {
      const int64_t t0 = l.col_of[g] * l.b;
      if (cfg_.causal.allows_none(s0, l.b, t0)) continue;
      bst::load_tile_t(K + cfg_.offset(k.n, t0, k.h, cfg_.Sk), stride, b, D, kt);
      bst::load_tile(V + cfg_.offset(k.n, t0, k.h, cfg_.Sk), stride, b, D, vt);
      gemm_.nt(qt, kt, b, b, D, s);
      for (int64_t e = 0; e < bb; ++e) s[e] *= a.scale;
      bst::mask_block(l, cfg_.causal, g, s0, t0, s);
      if (a.dropout.active())
        bst::dropout_block(a.dropout, keys, dropout_element(k.n, k.h, s0, t0, cfg_.heads, cfg_.Sq, cfg_.Sk), cfg_.Sk,
                           b, z);
      for (int r = 0; r < b; ++r) {
        float* row = s + r * b;
        const float m_new = std::max(m[r], *std::max_element(row, row + b));
        const float alpha = exp_shifted(m[r], m_new);
        float add = 0.0f;
        for (int c = 0; c < b; ++c) {
          row[c] = exp_shifted(row[c], m_new);
          add += row[c];
          if (a.dropout.active()) row[c] *= z[r * b + c];
        }
        sum[r] = sum[r] * alpha + add;
        m[r] = m_new;
        if (alpha != 1.0f)
          for (int d = 0; d < D; ++d) acc[r * D + d] *= alpha;
      }
      gemm_.nn_acc(s, vt, b, b, D, acc);
    }
    T* o = O + cfg_.offset(k.n, s0, k.h, cfg_.Sq);
    for (int r = 0; r < b; ++r) {
      const float inv = sum[r] > 0.0f ? 1.0f / sum[r] : 0.0f;  // no allowed key: output 0
      for (int d = 0; d < D; ++d) o[r * stride + d] = from_float<T>(acc[r * D + d] * inv);
      if (a.lse_out)
        a.lse_out[(k.n * cfg_.heads + k.h) * cfg_.Sq + s0 + r] = sum[r] > 0.0f ? m[r] + std::log(sum[r]) : kNegInf;
    }
  }
}

namespace {

// One block pair of the backward: from the scores s (scaled, masked to -inf) of query rows with
// log-sum-exp `lse`, the probabilities p = exp(s - lse) (into s) and, with dO·Vᵀ in dp, the score
// gradient dS = p∘(dp∘Z − δ) (into dp). With dropout, pz = p∘Z for the dv product (else pz = s).
void block_grad(int b, const float* lse, const float* delta, const float* z, bool dropout, float* s, float* dp,
                float* pz) {
  for (int r = 0; r < b; ++r)
    for (int c = 0; c < b; ++c) {
      const int e = r * b + c;
      const float p = lse[r] == kNegInf ? 0.0f : std::exp(s[e] - lse[r]);
      s[e] = p;
      const float zf = dropout ? z[e] : 1.0f;
      if (dropout) pz[e] = p * zf;
      dp[e] = p * (dp[e] * zf - delta[r]);
    }
}

}  // namespace

template <typename T>
void CpuBst::bprop(const BstAttentionArgs& a) const {
  const BstLayout& l = layout_;
  const int b = static_cast<int>(l.b), D = cfg_.head_dim;
  const int64_t stride = cfg_.row_stride(), bb = l.b * l.b, H = cfg_.heads;
  const T* Q = static_cast<const T*>(a.q);
  const T* K = static_cast<const T*>(a.k);
  const T* V = static_cast<const T*>(a.v);
  const T* O = static_cast<const T*>(a.o);
  const T* dO = static_cast<const T*>(a.dout);
  const bool dropout = a.dropout.active();
  const ops::PhiloxKeys keys = ops::dropout_keys(a.dropout.seed);
  float* delta = slot(a.workspace, threads_);  // (batch, H, Sq), after the per-thread slots

  // δ[n, h, s] = Σ_d do·o: Σ_t P∘Z∘dP' of the row, the softmax gradient's row term.
  const int64_t n_rows = a.batch * H * cfg_.Sq;
#pragma omp parallel for num_threads(threads_) schedule(static)
  for (int64_t i = 0; i < n_rows; ++i) {
    const int64_t s = i % cfg_.Sq, h = (i / cfg_.Sq) % H, n = i / (cfg_.Sq * H);
    const int64_t off = cfg_.offset(n, s, h, cfg_.Sq);
    float acc = 0.0f;
    for (int d = 0; d < D; ++d) acc += to_float(dO[off + d]) * to_float(O[off + d]);
    delta[i] = acc;
  }

  // Loads the query-side tiles of query block i (q, do, lse, δ) of task (n, h).
  auto load_query_side = [&](int64_t n, int64_t h, int64_t i, float* qt, float* dot, float* lse, float* dl) {
    const int64_t off = cfg_.offset(n, i * l.b, h, cfg_.Sq);
    bst::load_tile(Q + off, stride, b, D, qt);
    bst::load_tile(dO + off, stride, b, D, dot);
    const int64_t row0 = (n * H + h) * cfg_.Sq + i * l.b;
    std::copy(a.lse + row0, a.lse + row0 + b, lse);
    std::copy(delta + row0, delta + row0 + b, dl);
  };

  // The tiles both passes use; each pass adds its accumulators.
  struct PairTiles {
    float *kt, *vt, *qt, *dot, *s, *dp, *z, *pz, *lse, *dl;
  };
  auto take_pair_tiles = [&](Tiles& tiles) {
    PairTiles p;
    for (float** t : {&p.kt, &p.vt, &p.qt, &p.dot}) *t = tiles.take(l.b * D);
    for (float** t : {&p.s, &p.dp, &p.z, &p.pz}) *t = tiles.take(bb);
    p.lse = tiles.take(l.b);
    p.dl = tiles.take(l.b);
    return p;
  };
  // Recomputes block g (queries from s0, keys from t0) of batch n, head h from the loaded tiles:
  // probabilities into p.s (p.pz with dropout) and the score gradient into p.dp.
  auto recompute = [&](const PairTiles& p, int64_t n, int64_t h, int64_t g, int64_t s0, int64_t t0) {
    gemm_.nt(p.qt, p.kt, b, b, D, p.s);
    for (int64_t i = 0; i < bb; ++i) p.s[i] *= a.scale;
    bst::mask_block(l, cfg_.causal, g, s0, t0, p.s);
    gemm_.nt(p.dot, p.vt, b, b, D, p.dp);
    if (dropout)
      bst::dropout_block(a.dropout, keys, dropout_element(n, h, s0, t0, H, cfg_.Sq, cfg_.Sk), cfg_.Sk, b, p.z);
    block_grad(b, p.lse, p.dl, p.z, dropout, p.s, p.dp, p.pz);
  };

  // Pass 1: dk, dv per key block column.
  const int64_t col_tasks = a.batch * static_cast<int64_t>(cols_.size());
#pragma omp parallel for num_threads(threads_) schedule(dynamic, 1)
  for (int64_t t = 0; t < col_tasks; ++t) {
    const Task k = bst::task_of(t, cols_, l.KB, a.batch);
    const int64_t lc = l.layout_head(k.h) * l.KB + k.blk;
    const int64_t t0 = k.blk * l.b;
    Tiles tiles(slot(a.workspace, omp_get_thread_num()));
    const PairTiles p = take_pair_tiles(tiles);
    float* dk = tiles.take(l.b * D);
    float* dv = tiles.take(l.b * D);
    bst::zero(dk, l.b * D);
    bst::zero(dv, l.b * D);
    const int64_t koff = cfg_.offset(k.n, t0, k.h, cfg_.Sk);
    bst::load_tile_t(K + koff, stride, b, D, p.kt);
    bst::load_tile_t(V + koff, stride, b, D, p.vt);
    for (int64_t e = l.col_ptr[lc]; e < l.col_ptr[lc + 1]; ++e) {
      const int64_t s0 = l.col_row[e] * l.b;
      if (cfg_.causal.allows_none(s0, l.b, t0)) continue;
      load_query_side(k.n, k.h, l.col_row[e], p.qt, p.dot, p.lse, p.dl);
      recompute(p, k.n, k.h, l.col_block[e], s0, t0);
      gemm_.tn_acc(dropout ? p.pz : p.s, p.dot, b, b, D, dv);
      gemm_.tn_acc(p.dp, p.qt, b, b, D, dk);
    }
    bst::store_tile(dk, b, D, a.scale, static_cast<T*>(a.dk) + koff, stride);
    bst::store_tile(dv, b, D, 1.0f, static_cast<T*>(a.dv) + koff, stride);
  }

  // Pass 2: dq per query block row.
  const int64_t row_tasks = a.batch * static_cast<int64_t>(rows_.size());
#pragma omp parallel for num_threads(threads_) schedule(dynamic, 1)
  for (int64_t t = 0; t < row_tasks; ++t) {
    const Task k = bst::task_of(t, rows_, l.QB, a.batch);
    const int64_t lr = l.layout_head(k.h) * l.QB + k.blk;
    const int64_t s0 = k.blk * l.b;
    Tiles tiles(slot(a.workspace, omp_get_thread_num()));
    const PairTiles p = take_pair_tiles(tiles);
    float* kn = tiles.take(l.b * D);
    float* dq = tiles.take(l.b * D);
    bst::zero(dq, l.b * D);
    load_query_side(k.n, k.h, k.blk, p.qt, p.dot, p.lse, p.dl);
    for (int64_t g = l.row_ptr[lr]; g < l.row_ptr[lr + 1]; ++g) {
      const int64_t t0 = l.col_of[g] * l.b;
      if (cfg_.causal.allows_none(s0, l.b, t0)) continue;
      const int64_t koff = cfg_.offset(k.n, t0, k.h, cfg_.Sk);
      bst::load_tile_t(K + koff, stride, b, D, p.kt);
      bst::load_tile(K + koff, stride, b, D, kn);
      bst::load_tile_t(V + koff, stride, b, D, p.vt);
      recompute(p, k.n, k.h, g, s0, t0);
      gemm_.nn_acc(p.dp, kn, b, b, D, dq);
    }
    bst::store_tile(dq, b, D, a.scale, static_cast<T*>(a.dq) + cfg_.offset(k.n, s0, k.h, cfg_.Sq), stride);
  }
}

void CpuBst::attention_fprop(const BstAttentionArgs& a) const {
  dispatch_dtype(cfg_.dtype, [&](auto t) { fprop<decltype(t)>(a); });
}

void CpuBst::attention_bprop(const BstAttentionArgs& a) const {
  dispatch_dtype(cfg_.dtype, [&](auto t) { bprop<decltype(t)>(a); });
}

}  // namespace bs::cpu
