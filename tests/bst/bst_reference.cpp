#include "bst_reference.hpp"

#include <cmath>
#include <limits>

namespace bs_test {

BstReference::BstReference(const BstCase& c) : c_(c) {
  const int64_t Sq = c.Sq(), Sk = c.Sk(), b = c.b;
  mask_block_.assign(static_cast<size_t>(c.layout_heads * c.QB * c.KB), -1);
  int64_t g = 0;
  for (int64_t e = 0; e < c.layout_heads * c.QB * c.KB; ++e)
    if (c.layout[static_cast<size_t>(e)]) mask_block_[static_cast<size_t>(e)] = g++;
  for (int64_t h = 0; h < c.H; ++h) {
    const int64_t lh = c.layout_heads == 1 ? 0 : h;
    for (int64_t i = 0; i < c.QB; ++i)
      for (int64_t j = 0; j < c.KB; ++j)
        if (c.layout[static_cast<size_t>((lh * c.QB + i) * c.KB + j)]) blocks_.push_back({h, i, j});
  }
  allowed_.assign(static_cast<size_t>(c.H * Sq * Sk), 0);
  for (int64_t h = 0; h < c.H; ++h)
    for (int64_t s = 0; s < Sq; ++s)
      for (int64_t t = 0; t < Sk; ++t) {
        if (!in_layout(h, s, t)) continue;
        const int64_t lh = c.layout_heads == 1 ? 0 : h;
        const int64_t blk = mask_block_[static_cast<size_t>((lh * c.QB + s / b) * c.KB + t / b)];
        bool ok = true;
        if (!c.masks.empty()) {
          const int64_t r = s % b, col = t % b;
          ok = (c.masks[static_cast<size_t>((blk * b + r) * (b / 8) + col / 8)] >> (col % 8)) & 1;
        }
        if (c.causal && !(t <= s || t < c.prefix)) ok = false;
        allowed_[static_cast<size_t>((h * Sq + s) * Sk + t)] = ok;
      }
}

bool BstReference::in_layout(int64_t h, int64_t s, int64_t t) const {
  const int64_t lh = c_.layout_heads == 1 ? 0 : h;
  return c_.layout[static_cast<size_t>((lh * c_.QB + s / c_.b) * c_.KB + t / c_.b)] != 0;
}

int64_t BstReference::offset(int64_t n, int64_t s, int64_t h, int64_t S) const {
  return c_.format == 0 ? ((n * S + s) * c_.H + h) * c_.D : ((n * c_.H + h) * S + s) * c_.D;
}

void BstReference::softmax(const std::vector<double>& q, const std::vector<double>& k, double scale,
                           std::vector<double>& P, std::vector<double>& lse) const {
  const int64_t Sq = c_.Sq(), Sk = c_.Sk();
  P.assign(static_cast<size_t>(c_.batch * c_.H * Sq * Sk), 0.0);
  lse.assign(static_cast<size_t>(c_.batch * c_.H * Sq), -std::numeric_limits<double>::infinity());
  std::vector<double> row(static_cast<size_t>(Sk));
  for (int64_t n = 0; n < c_.batch; ++n)
    for (int64_t h = 0; h < c_.H; ++h)
      for (int64_t s = 0; s < Sq; ++s) {
        double mx = -std::numeric_limits<double>::infinity();
        for (int64_t t = 0; t < Sk; ++t) {
          if (!allowed(h, s, t)) continue;
          double dot = 0.0;
          for (int64_t d = 0; d < c_.D; ++d)
            dot += q[static_cast<size_t>(offset(n, s, h, Sq) + d)] * k[static_cast<size_t>(offset(n, t, h, Sk) + d)];
          row[static_cast<size_t>(t)] = scale * dot;
          mx = std::max(mx, scale * dot);
        }
        if (std::isinf(mx)) continue;  // no allowed key: P = 0, lse = -inf
        double sum = 0.0;
        for (int64_t t = 0; t < Sk; ++t)
          if (allowed(h, s, t)) sum += std::exp(row[static_cast<size_t>(t)] - mx);
        const int64_t base = ((n * c_.H + h) * Sq + s) * Sk;
        for (int64_t t = 0; t < Sk; ++t)
          if (allowed(h, s, t)) P[static_cast<size_t>(base + t)] = std::exp(row[static_cast<size_t>(t)] - mx) / sum;
        lse[static_cast<size_t>((n * c_.H + h) * Sq + s)] = mx + std::log(sum);
      }
}

void BstReference::fprop(const std::vector<double>& q, const std::vector<double>& k, const std::vector<double>& v,
                         double scale, const std::vector<double>& Z, std::vector<double>& o,
                         std::vector<double>& lse) const {
  const int64_t Sq = c_.Sq(), Sk = c_.Sk();
  std::vector<double> P;
  softmax(q, k, scale, P, lse);
  o.assign(q.size(), 0.0);
  for (int64_t n = 0; n < c_.batch; ++n)
    for (int64_t h = 0; h < c_.H; ++h)
      for (int64_t s = 0; s < Sq; ++s)
        for (int64_t t = 0; t < Sk; ++t) {
          const size_t e = static_cast<size_t>(((n * c_.H + h) * Sq + s) * Sk + t);
          const double p = P[e] * (Z.empty() ? 1.0 : Z[e]);
          if (p == 0.0) continue;
          for (int64_t d = 0; d < c_.D; ++d)
            o[static_cast<size_t>(offset(n, s, h, Sq) + d)] += p * v[static_cast<size_t>(offset(n, t, h, Sk) + d)];
        }
}

void BstReference::bprop(const std::vector<double>& q, const std::vector<double>& k, const std::vector<double>& v,
                         const std::vector<double>& dout, double scale, const std::vector<double>& Z,
                         std::vector<double>& dq, std::vector<double>& dk, std::vector<double>& dv) const {
  const int64_t Sq = c_.Sq(), Sk = c_.Sk(), D = c_.D;
  std::vector<double> P, lse, o;
  softmax(q, k, scale, P, lse);
  fprop(q, k, v, scale, Z, o, lse);
  dq.assign(q.size(), 0.0);
  dk.assign(k.size(), 0.0);
  dv.assign(v.size(), 0.0);
  for (int64_t n = 0; n < c_.batch; ++n)
    for (int64_t h = 0; h < c_.H; ++h)
      for (int64_t s = 0; s < Sq; ++s) {
        const int64_t qo = offset(n, s, h, Sq);
        double delta = 0.0;
        for (int64_t d = 0; d < D; ++d) delta += dout[static_cast<size_t>(qo + d)] * o[static_cast<size_t>(qo + d)];
        for (int64_t t = 0; t < Sk; ++t) {
          const size_t e = static_cast<size_t>(((n * c_.H + h) * Sq + s) * Sk + t);
          if (P[e] == 0.0) continue;
          const int64_t ko = offset(n, t, h, Sk);
          const double z = Z.empty() ? 1.0 : Z[e];
          double dp = 0.0;
          for (int64_t d = 0; d < D; ++d) dp += dout[static_cast<size_t>(qo + d)] * v[static_cast<size_t>(ko + d)];
          const double ds = P[e] * (dp * z - delta);
          for (int64_t d = 0; d < D; ++d) {
            dv[static_cast<size_t>(ko + d)] += P[e] * z * dout[static_cast<size_t>(qo + d)];
            dq[static_cast<size_t>(qo + d)] += scale * ds * k[static_cast<size_t>(ko + d)];
            dk[static_cast<size_t>(ko + d)] += scale * ds * q[static_cast<size_t>(qo + d)];
          }
        }
      }
}

std::vector<double> BstReference::sdd(const std::vector<double>& a, const std::vector<double>& bt) const {
  const int64_t b = c_.b, nb = static_cast<int64_t>(blocks_.size());
  std::vector<double> out(static_cast<size_t>(c_.batch * nb * b * b));
  for (int64_t n = 0; n < c_.batch; ++n)
    for (int64_t x = 0; x < nb; ++x) {
      const Block& B = blocks_[static_cast<size_t>(x)];
      for (int64_t r = 0; r < b; ++r)
        for (int64_t col = 0; col < b; ++col) {
          double dot = 0.0;
          for (int64_t d = 0; d < c_.D; ++d)
            dot += a[static_cast<size_t>(offset(n, B.i * b + r, B.h, c_.Sq()) + d)] *
                   bt[static_cast<size_t>(offset(n, B.j * b + col, B.h, c_.Sk()) + d)];
          out[static_cast<size_t>(((n * nb + x) * b + r) * b + col)] = dot;
        }
    }
  return out;
}

// Visits every element of the score tensors as (index, n, h, query s, key t).
template <typename F>
static void for_scores(const BstCase& c, const std::vector<BstReference::Block>& blocks, F f) {
  const int64_t b = c.b, nb = static_cast<int64_t>(blocks.size());
  for (int64_t n = 0; n < c.batch; ++n)
    for (int64_t x = 0; x < nb; ++x)
      for (int64_t r = 0; r < b; ++r)
        for (int64_t col = 0; col < b; ++col) {
          const auto& B = blocks[static_cast<size_t>(x)];
          f(static_cast<size_t>(((n * nb + x) * b + r) * b + col), n, B.h, B.i * b + r, B.j * b + col);
        }
}

std::vector<double> BstReference::block_softmax(const std::vector<double>& scores, double scale) const {
  const int64_t Sq = c_.Sq();
  const size_t rows = static_cast<size_t>(c_.batch * c_.H * Sq);
  std::vector<double> mx(rows, -std::numeric_limits<double>::infinity()), sum(rows, 0.0), out(scores.size(), 0.0);
  auto row = [&](int64_t n, int64_t h, int64_t s) { return static_cast<size_t>((n * c_.H + h) * Sq + s); };
  for_scores(c_, blocks_, [&](size_t e, int64_t n, int64_t h, int64_t s, int64_t t) {
    if (allowed(h, s, t)) mx[row(n, h, s)] = std::max(mx[row(n, h, s)], scale * scores[e]);
  });
  for_scores(c_, blocks_, [&](size_t e, int64_t n, int64_t h, int64_t s, int64_t t) {
    if (allowed(h, s, t)) sum[row(n, h, s)] += std::exp(scale * scores[e] - mx[row(n, h, s)]);
  });
  for_scores(c_, blocks_, [&](size_t e, int64_t n, int64_t h, int64_t s, int64_t t) {
    if (allowed(h, s, t)) out[e] = std::exp(scale * scores[e] - mx[row(n, h, s)]) / sum[row(n, h, s)];
  });
  return out;
}

std::vector<double> BstReference::block_softmax_grad(const std::vector<double>& probs,
                                                     const std::vector<double>& dprobs, double scale) const {
  const int64_t Sq = c_.Sq();
  std::vector<double> dot(static_cast<size_t>(c_.batch * c_.H * Sq), 0.0), out(probs.size(), 0.0);
  auto row = [&](int64_t n, int64_t h, int64_t s) { return static_cast<size_t>((n * c_.H + h) * Sq + s); };
  for_scores(c_, blocks_, [&](size_t e, int64_t n, int64_t h, int64_t s, int64_t t) {
    if (allowed(h, s, t)) dot[row(n, h, s)] += probs[e] * dprobs[e];
  });
  for_scores(c_, blocks_, [&](size_t e, int64_t n, int64_t h, int64_t s, int64_t t) {
    if (allowed(h, s, t)) out[e] = scale * probs[e] * (dprobs[e] - dot[row(n, h, s)]);
  });
  return out;
}

std::vector<double> BstReference::dsd(const std::vector<double>& scores, const std::vector<double>& bt) const {
  std::vector<double> out(static_cast<size_t>(c_.batch * c_.Sq() * c_.H * c_.D), 0.0);
  for_scores(c_, blocks_, [&](size_t e, int64_t n, int64_t h, int64_t s, int64_t t) {
    for (int64_t d = 0; d < c_.D; ++d)
      out[static_cast<size_t>(offset(n, s, h, c_.Sq()) + d)] +=
          scores[e] * bt[static_cast<size_t>(offset(n, t, h, c_.Sk()) + d)];
  });
  return out;
}

std::vector<double> BstReference::dsd_t(const std::vector<double>& scores, const std::vector<double>& a) const {
  std::vector<double> out(static_cast<size_t>(c_.batch * c_.Sk() * c_.H * c_.D), 0.0);
  for_scores(c_, blocks_, [&](size_t e, int64_t n, int64_t h, int64_t s, int64_t t) {
    for (int64_t d = 0; d < c_.D; ++d)
      out[static_cast<size_t>(offset(n, t, h, c_.Sk()) + d)] +=
          scores[e] * a[static_cast<size_t>(offset(n, s, h, c_.Sq()) + d)];
  });
  return out;
}

}  // namespace bs_test
