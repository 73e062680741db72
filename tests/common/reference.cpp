#include "common/reference.hpp"

#include <algorithm>
#include <cmath>

namespace bs_test {
namespace {

size_t at(int64_t i) { return static_cast<size_t>(i); }

// out = alpha·(in·op(Wd)) + beta·out_in over the blocks of the layout, where op(Wd) is Wd (fprop,
// in has C features) or Wdᵀ (bprop, in has K features).
Vec ref_xprop(const RefGeometry& g, bool bprop, int64_t N, const Vec& in, const Vec& w, const Vec* gate, double alpha,
              double beta, const Vec& out_in) {
  const int64_t C = g.C(), K = g.K(), b = g.b;
  const int64_t fin = bprop ? K : C, fout = bprop ? C : K;
  const Vec wd = dense_weight(g, w, gate);
  Vec acc(at(N * fout), 0.0);
  for (const auto& ck : g.layout.blocks()) {
    for (int64_t n = 0; n < N; ++n)
      for (int64_t r = 0; r < b; ++r)
        for (int64_t s = 0; s < b; ++s) {
          const int64_t i = ck[0] * b + r, j = ck[1] * b + s;  // dense row (input feature), column
          const double wv = wd[at(i * K + j)];
          if (!bprop)
            acc[at(g.act(n, j, N, fout))] += in[at(g.act(n, i, N, fin))] * wv;
          else
            acc[at(g.act(n, i, N, fout))] += in[at(g.act(n, j, N, fin))] * wv;
        }
  }
  for (size_t e = 0; e < acc.size(); ++e) acc[e] = alpha * acc[e] + (beta == 0.0 ? 0.0 : beta * out_in[e]);
  return acc;
}

double gain_of(const Vec* gain, int64_t j) { return gain ? (*gain)[at(j)] : 1.0; }

}  // namespace

Vec dense_weight(const RefGeometry& g, const Vec& w, const Vec* gate) {
  const int64_t K = g.K(), b = g.b;
  Vec wd(at(g.C() * K), 0.0);
  const auto blocks = g.layout.blocks();
  for (size_t i = 0; i < blocks.size(); ++i) {
    const double gv = gate ? (*gate)[i] : 1.0;
    if (gv == 0.0) continue;
    for (int64_t r = 0; r < b; ++r)
      for (int64_t s = 0; s < b; ++s)
        wd[at((blocks[i][0] * b + r) * K + blocks[i][1] * b + s)] = gv * w[at((static_cast<int64_t>(i) * b + r) * b + s)];
  }
  return wd;
}

Vec ref_fprop(const RefGeometry& g, int64_t N, const Vec& x, const Vec& w, const Vec* gate, double alpha, double beta,
              const Vec& y_in) {
  return ref_xprop(g, false, N, x, w, gate, alpha, beta, y_in);
}

Vec ref_bprop(const RefGeometry& g, int64_t N, const Vec& dy, const Vec& w, const Vec* gate, double alpha,
              double beta, const Vec& dx_in) {
  return ref_xprop(g, true, N, dy, w, gate, alpha, beta, dx_in);
}

Vec ref_updat(const RefGeometry& g, int64_t N, const std::vector<Vec>& xs, const std::vector<Vec>& dys,
              const Vec* gate, double alpha, double beta, const Vec& dw_in) {
  const int64_t C = g.C(), K = g.K(), b = g.b;
  // Dense xᵀ·dy summed over the pairs, then the blocks of the layout picked out of it.
  Vec full(at(C * K), 0.0);
  for (size_t p = 0; p < xs.size(); ++p)
    for (int64_t n = 0; n < N; ++n)
      for (const auto& ck : g.layout.blocks())
        for (int64_t r = 0; r < b; ++r) {
          const int64_t i = ck[0] * b + r;
          const double xv = xs[p][at(g.act(n, i, N, C))];
          for (int64_t s = 0; s < b; ++s) {
            const int64_t j = ck[1] * b + s;
            full[at(i * K + j)] += xv * dys[p][at(g.act(n, j, N, K))];
          }
        }
  const auto blocks = g.layout.blocks();
  Vec dw(at(g.weight_count()));
  for (size_t blk = 0; blk < blocks.size(); ++blk) {
    const double gv = gate ? (*gate)[blk] : 1.0;
    for (int64_t r = 0; r < b; ++r)
      for (int64_t s = 0; s < b; ++s) {
        const size_t e = at((static_cast<int64_t>(blk) * b + r) * b + s);
        const double sum = full[at((blocks[blk][0] * b + r) * K + blocks[blk][1] * b + s)];
        dw[e] = alpha * gv * sum + (beta == 0.0 ? 0.0 : beta * dw_in[e]);
      }
  }
  return dw;
}

Vec ref_identity_init(const RefGeometry& g, double scale) {
  const int64_t b = g.b;
  const auto blocks = g.layout.blocks();
  Vec w(at(g.weight_count()), 0.0);
  for (size_t blk = 0; blk < blocks.size(); ++blk) {
    if (blocks[blk][0] % g.layout.KB != blocks[blk][1] % g.layout.CB) continue;
    for (int64_t r = 0; r < b; ++r) w[at((static_cast<int64_t>(blk) * b + r) * b + r)] = scale;
  }
  return w;
}

Vec ref_column_sumsq(const RefGeometry& g, const Vec& w) {
  const int64_t K = g.K();
  const Vec wd = dense_weight(g, w, nullptr);
  Vec sumsq(at(K), 0.0);
  for (int64_t i = 0; i < g.C(); ++i)
    for (int64_t j = 0; j < K; ++j) sumsq[at(j)] += wd[at(i * K + j)] * wd[at(i * K + j)];
  return sumsq;
}

Vec ref_l2_normalize(const RefGeometry& g, const Vec& w, const Vec* gain, double epsilon) {
  const int64_t b = g.b;
  const Vec sumsq = ref_column_sumsq(g, w);
  const auto blocks = g.layout.blocks();
  Vec y(w.size());
  for (size_t blk = 0; blk < blocks.size(); ++blk)
    for (int64_t r = 0; r < b; ++r)
      for (int64_t s = 0; s < b; ++s) {
        const int64_t j = blocks[blk][1] * b + s;
        const size_t e = at((static_cast<int64_t>(blk) * b + r) * b + s);
        y[e] = w[e] / std::sqrt(std::max(sumsq[at(j)], epsilon)) * gain_of(gain, j);
      }
  return y;
}

L2Grad ref_l2_normalize_grad(const RefGeometry& g, const Vec& dy, const Vec& w, const Vec* gain, double epsilon) {
  const int64_t K = g.K(), b = g.b;
  const Vec sumsq = ref_column_sumsq(g, w);
  const auto blocks = g.layout.blocks();
  // Σ u·w per output feature, u = dy·gain.
  Vec sum_uw(at(K), 0.0), sum_dyw(at(K), 0.0);
  for (size_t blk = 0; blk < blocks.size(); ++blk)
    for (int64_t r = 0; r < b; ++r)
      for (int64_t s = 0; s < b; ++s) {
        const int64_t j = blocks[blk][1] * b + s;
        const size_t e = at((static_cast<int64_t>(blk) * b + r) * b + s);
        sum_uw[at(j)] += dy[e] * gain_of(gain, j) * w[e];
        sum_dyw[at(j)] += dy[e] * w[e];
      }
  L2Grad out;
  out.dw.resize(w.size());
  for (size_t blk = 0; blk < blocks.size(); ++blk)
    for (int64_t r = 0; r < b; ++r)
      for (int64_t s = 0; s < b; ++s) {
        const int64_t j = blocks[blk][1] * b + s;
        const size_t e = at((static_cast<int64_t>(blk) * b + r) * b + s);
        const double sj = std::max(sumsq[at(j)], epsilon);
        const double keep = sumsq[at(j)] >= epsilon ? 1.0 : 0.0;
        out.dw[e] = (dy[e] * gain_of(gain, j) - w[e] * keep * sum_uw[at(j)] / sj) / std::sqrt(sj);
      }
  if (gain) {
    out.dgain.resize(at(K));
    for (int64_t j = 0; j < K; ++j)  // a feature without blocks has an empty sum: its gain gradient is 0
      out.dgain[at(j)] = g.layout.col_empty(j / b) ? 0.0 : sum_dyw[at(j)] / std::sqrt(std::max(sumsq[at(j)], epsilon));
  }
  return out;
}

}  // namespace bs_test
