#pragma once
// Float64 reference of every bsmm op, written from the documentation in bsmm.h (not from the
// library's code): W is assembled into the dense (C, K) matrix it stands for and the ops are
// computed from that. Inputs are the exact values of the (possibly 16-bit) tensors the library
// reads, so the only differences left are the library's fp32 arithmetic and its final rounding.
#include <cstdint>
#include <vector>

#include "common/layouts.hpp"

namespace bs_test {

using Vec = std::vector<double>;

struct RefGeometry {
  Layout layout;
  int64_t b = 32;
  int32_t feature_axis = 1;

  int64_t C() const { return layout.CB * b; }
  int64_t K() const { return layout.KB * b; }
  int64_t weight_count() const { return layout.nnz() * b * b; }
  // Index of element (n, feature f) of an activation with `features` features and minibatch N.
  int64_t act(int64_t n, int64_t f, int64_t N, int64_t features) const {
    return feature_axis == 1 ? n * features + f : f * N + n;
  }
};

// Dense (C, K) row-major matrix of the weights, each block times its gate. A block whose gate is 0
// contributes exact zeros, whatever its weights hold (the op skips it).
Vec dense_weight(const RefGeometry& g, const Vec& w, const Vec* gate);

// y = alpha·(x·W) + beta·y_in (y_in ignored when beta == 0, as in BLAS).
Vec ref_fprop(const RefGeometry& g, int64_t N, const Vec& x, const Vec& w, const Vec* gate, double alpha, double beta,
              const Vec& y_in);
// dx = alpha·(dy·Wᵀ) + beta·dx_in.
Vec ref_bprop(const RefGeometry& g, int64_t N, const Vec& dy, const Vec& w, const Vec* gate, double alpha,
              double beta, const Vec& dx_in);
// dW[i] = alpha·gate[i]·Σ_p x_p[:, c]ᵀ·dy_p[:, k] + beta·dW_in[i].
Vec ref_updat(const RefGeometry& g, int64_t N, const std::vector<Vec>& xs, const std::vector<Vec>& dys,
              const Vec* gate, double alpha, double beta, const Vec& dw_in);
// Block (c, k) is scale·I when c % KB == k % CB, else 0.
Vec ref_identity_init(const RefGeometry& g, double scale);

// Per output feature j: y[:, j] = w[:, j] / sqrt(max(Σ w[:, j]², epsilon)) · gain[j].
Vec ref_l2_normalize(const RefGeometry& g, const Vec& w, const Vec* gain, double epsilon);
struct L2Grad {
  Vec dw;
  Vec dgain;  // empty without gain
};
// The gradient exactly as bsmm.h documents it (dgain of a feature without blocks: 0, an empty sum).
L2Grad ref_l2_normalize_grad(const RefGeometry& g, const Vec& dy, const Vec& w, const Vec* gain, double epsilon);
// Σ_j of w[:, j]² per output feature (K entries): lets tests keep epsilon away from the switch.
Vec ref_column_sumsq(const RefGeometry& g, const Vec& w);

}  // namespace bs_test
