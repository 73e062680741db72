// CPU backend of bsconv: direct convolution over the plan's tables. Every output element is summed
// by one thread in a fixed order (blocks, channels, taps; then minibatch and positions for updat),
// so results do not depend on the thread count. fp32 accumulation, one rounding to the storage type.
#include <omp.h>

#include <algorithm>
#include <cmath>

#include "core/checks.hpp"
#include "core/dtype.hpp"
#include "dispatch/bsconv_backend.hpp"

namespace bs {
namespace cpu {
namespace {

// Element index of (n, channel c, spatial position pos) in an activation of `C` channels and
// `S` positions.
struct Act {
  int64_t C, S;
  bool last;
  int64_t at(int64_t n, int64_t c, int64_t pos) const { return last ? (n * S + pos) * C + c : (n * C + c) * S + pos; }
};

template <typename T>
float ld(const void* p, int64_t i) {
  return to_float(static_cast<const T*>(p)[i]);
}

// out = alpha·acc + beta·out (beta = 0 does not read out).
template <typename T>
void store(void* p, int64_t i, float acc, float alpha, float beta) {
  T* o = static_cast<T*>(p);
  const float v = beta == 0.0f ? alpha * acc : alpha * acc + beta * to_float(o[i]);
  o[i] = from_float<T>(v);
}

class CpuBsconv final : public BsconvBackend {
 public:
  CpuBsconv(const BsconvConfig& c, const ConvLayout& l) : cfg_(c), l_(l) {
    threads_ = c.num_threads > 0 ? c.num_threads : omp_get_max_threads();
  }
  int32_t num_threads() const override { return threads_; }
  size_t workspace_size(bsconv_op_t, int64_t) const override { return 0; }
  void check_tensor(const void*, const char*) const override {}

  void run(const BsconvArgs& a) const override {
    dispatch_dtype(cfg_.dtype, [&](auto tag) {
      using T = decltype(tag);
      const bool d = l_.deconv;
      switch (a.op) {
        case BSCONV_OP_FPROP: d ? conv_bwd<T>(a.N, a.a, a.b, a.out, a.alpha, a.beta) : conv_fwd<T>(a.N, a.a, a.b, a.out, a.alpha, a.beta); break;
        case BSCONV_OP_BPROP: d ? conv_fwd<T>(a.N, a.a, a.b, a.out, a.alpha, a.beta) : conv_bwd<T>(a.N, a.a, a.b, a.out, a.alpha, a.beta); break;
        case BSCONV_OP_UPDAT: d ? wgrad<T>(a.N, a.b, a.a, a.out, a.alpha, a.beta) : wgrad<T>(a.N, a.a, a.b, a.out, a.alpha, a.beta); break;
        case BSCONV_OP_EDGE_BIAS_FPROP: edge_fprop<T>(a); break;
        case BSCONV_OP_EDGE_BIAS_BPROP: edge_bprop<T>(a); break;
        case BSCONV_OP_L2_NORMALIZE:
        case BSCONV_OP_L2_NORMALIZE_GRAD: l2<T>(a); break;
        default: fail(BS_STATUS_INTERNAL_ERROR, "unknown bsconv op");
      }
    });
  }

 private:
  Act x_act() const { return {l_.g.Cc, l_.g.x_size(), cfg_.layout == BSCONV_LAYOUT_CHANNELS_LAST}; }
  Act y_act() const { return {l_.g.Kc, l_.g.y_size(), cfg_.layout == BSCONV_LAYOUT_CHANNELS_LAST}; }

  // Conv input position read by output coordinates o through tap `tap`; -1 in the padding.
  int64_t input_pos(const int64_t o[3], int64_t tap) const {
    const ConvGeometry& g = l_.g;
    const int64_t t[3] = {tap / (g.T[1] * g.T[2]), (tap / g.T[2]) % g.T[1], tap % g.T[2]};
    int64_t ip = 0;
    for (int dd = 0; dd < 3; ++dd) {
      const int64_t xi = o[dd] * g.stride[dd] - g.pad[dd] + t[dd] * g.dil[dd];
      if (xi < 0 || xi >= g.X[dd]) return -1;
      ip = ip * g.X[dd] + xi;
    }
    return ip;
  }

  // y(Kc, Y) = conv(x(Cc, X), F)
  template <typename T>
  void conv_fwd(int64_t N, const void* x, const void* f, void* y, float alpha, float beta) const {
    const ConvGeometry& g = l_.g;
    const Act xa = x_act(), ya = y_act();
    const int64_t taps = g.taps(), total = N * g.Kc * g.y_size();
#pragma omp parallel for schedule(static) num_threads(threads_)
    for (int64_t idx = 0; idx < total; ++idx) {
      const int64_t pos = idx % g.y_size(), k = (idx / g.y_size()) % g.Kc, n = idx / (g.y_size() * g.Kc);
      const int64_t o[3] = {pos / (g.Y[1] * g.Y[2]), (pos / g.Y[2]) % g.Y[1], pos % g.Y[2]};
      float acc = 0.0f;
      for (int64_t e = l_.out_ptr[k]; e < l_.out_ptr[k + 1]; ++e) {
        const int64_t b = l_.out_blk[e], nin = l_.cin_ptr[b + 1] - l_.cin_ptr[b];
        const int64_t row = l_.blk_off[b] + l_.out_row[e] * nin * taps;
        for (int64_t j = 0; j < nin; ++j) {
          const int64_t c = l_.cin[l_.cin_ptr[b] + j];
          for (int64_t tap = 0; tap < taps; ++tap) {
            const int64_t ip = input_pos(o, tap);
            if (ip >= 0) acc += ld<T>(f, row + j * taps + tap) * ld<T>(x, xa.at(n, c, ip));
          }
        }
      }
      store<T>(y, ya.at(n, k, pos), acc, alpha, beta);
    }
  }

  // Conv input position of output coordinate o, tap t along dd; -1 when none.
  int64_t source(int dd, int64_t xi, int64_t t) const {
    const ConvGeometry& g = l_.g;
    const int64_t q = xi + g.pad[dd] - t * g.dil[dd];
    if (q < 0 || q % g.stride[dd] != 0) return -1;
    const int64_t m = q / g.stride[dd];
    return m < g.Y[dd] ? m : -1;
  }

  // dx(Cc, X) = convᵀ(dy(Kc, Y), F)
  template <typename T>
  void conv_bwd(int64_t N, const void* dy, const void* f, void* dx, float alpha, float beta) const {
    const ConvGeometry& g = l_.g;
    const Act xa = x_act(), ya = y_act();
    const int64_t taps = g.taps(), total = N * g.Cc * g.x_size();
#pragma omp parallel for schedule(static) num_threads(threads_)
    for (int64_t idx = 0; idx < total; ++idx) {
      const int64_t pos = idx % g.x_size(), c = (idx / g.x_size()) % g.Cc, n = idx / (g.x_size() * g.Cc);
      const int64_t xi[3] = {pos / (g.X[1] * g.X[2]), (pos / g.X[2]) % g.X[1], pos % g.X[2]};
      float acc = 0.0f;
      for (int64_t e = l_.in_ptr[c]; e < l_.in_ptr[c + 1]; ++e) {
        const int64_t b = l_.in_blk[e], j = l_.in_col[e];
        const int64_t nin = l_.cin_ptr[b + 1] - l_.cin_ptr[b], nout = l_.cout_ptr[b + 1] - l_.cout_ptr[b];
        for (int64_t i = 0; i < nout; ++i) {
          const int64_t k = l_.cout[l_.cout_ptr[b] + i];
          const int64_t base = l_.blk_off[b] + (i * nin + j) * taps;
          for (int64_t tap = 0; tap < taps; ++tap) {
            const int64_t t[3] = {tap / (g.T[1] * g.T[2]), (tap / g.T[2]) % g.T[1], tap % g.T[2]};
            int64_t op = 0;
            bool inside = true;
            for (int dd = 0; dd < 3 && inside; ++dd) {
              const int64_t m = source(dd, xi[dd], t[dd]);
              inside = m >= 0;
              op = op * g.Y[dd] + m;
            }
            if (inside) acc += ld<T>(f, base + tap) * ld<T>(dy, ya.at(n, k, op));
          }
        }
      }
      store<T>(dx, xa.at(n, c, pos), acc, alpha, beta);
    }
  }

  // dF[b](i, j, tap) = Σ_n Σ_pos dy(n, cout_i, pos) · x(n, cin_j, pos·stride − pad + tap·dil)
  template <typename T>
  void wgrad(int64_t N, const void* x, const void* dy, void* df, float alpha, float beta) const {
    const ConvGeometry& g = l_.g;
    const Act xa = x_act(), ya = y_act();
    const int64_t taps = g.taps();
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads_)
    for (int64_t b = 0; b < l_.n_blocks; ++b) {
      const int64_t nin = l_.cin_ptr[b + 1] - l_.cin_ptr[b], nout = l_.cout_ptr[b + 1] - l_.cout_ptr[b];
      for (int64_t r = 0; r < nout * nin * taps; ++r) {
        const int64_t tap = r % taps, j = (r / taps) % nin, i = r / (taps * nin);
        const int64_t c = l_.cin[l_.cin_ptr[b] + j], k = l_.cout[l_.cout_ptr[b] + i];
        float acc = 0.0f;
        for (int64_t n = 0; n < N; ++n)
          for (int64_t pos = 0; pos < g.y_size(); ++pos) {
            const int64_t o[3] = {pos / (g.Y[1] * g.Y[2]), (pos / g.Y[2]) % g.Y[1], pos % g.Y[2]};
            const int64_t ip = input_pos(o, tap);
            if (ip >= 0) acc += ld<T>(dy, ya.at(n, k, pos)) * ld<T>(x, xa.at(n, c, ip));
          }
        store<T>(df, l_.blk_off[b] + r, acc, alpha, beta);
      }
    }
  }

  // The plan output's activation view and the index of edge parameter (e, k).
  Act out_act() const { return l_.deconv ? x_act() : y_act(); }
  int64_t eidx(int64_t e, int64_t k) const {
    return cfg_.layout == BSCONV_LAYOUT_CHANNELS_LAST ? e * cfg_.K + k : k * l_.edge_entries + e;
  }

  template <typename T>
  void edge_fprop(const BsconvArgs& a) const {
    const Act oa = out_act();
    const int64_t total = a.N * oa.C * oa.S;
#pragma omp parallel for schedule(static) num_threads(threads_)
    for (int64_t idx = 0; idx < total; ++idx) {
      const int64_t pos = idx % oa.S, k = (idx / oa.S) % oa.C, n = idx / (oa.S * oa.C);
      const int64_t i = oa.at(n, k, pos), e = l_.edge_of_pos[pos];
      const float v = ld<T>(a.a, i);
      static_cast<T*>(a.out)[i] = from_float<T>(e < 0 ? v : v * a.g[eidx(e, k)] + a.bias[eidx(e, k)]);
    }
  }

  // a.a = dy, a.b = x. dg and db first: dx may overwrite dy.
  template <typename T>
  void edge_bprop(const BsconvArgs& a) const {
    const Act oa = out_act();
    const int64_t E = l_.edge_entries;
#pragma omp parallel for schedule(static) num_threads(threads_)
    for (int64_t ek = 0; ek < E * oa.C; ++ek) {
      const int64_t e = ek / oa.C, k = ek % oa.C;
      float sg = 0.0f, sb = 0.0f;
      for (int64_t n = 0; n < a.N; ++n)
        for (int64_t p = l_.edge_pos_ptr[e]; p < l_.edge_pos_ptr[e + 1]; ++p) {
          const int64_t i = oa.at(n, k, l_.edge_pos[p]);
          const float dy = ld<T>(a.a, i);
          sg += dy * ld<T>(a.b, i);
          sb += dy;
        }
      a.dg[eidx(e, k)] = sg;
      a.db[eidx(e, k)] = sb;
    }
    const int64_t total = a.N * oa.C * oa.S;
#pragma omp parallel for schedule(static) num_threads(threads_)
    for (int64_t idx = 0; idx < total; ++idx) {
      const int64_t pos = idx % oa.S, k = (idx / oa.S) % oa.C, n = idx / (oa.S * oa.C);
      const int64_t i = oa.at(n, k, pos), e = l_.edge_of_pos[pos];
      const float v = ld<T>(a.a, i);
      static_cast<T*>(a.out)[i] = from_float<T>(e < 0 ? v : v * a.g[eidx(e, k)]);
    }
  }

  // Weight normalisation rows (bsconv_layout.hpp): forward when a.op is L2_NORMALIZE (a.a = f),
  // gradient otherwise (a.a = dy, a.b = f).
  template <typename T>
  void l2(const BsconvArgs& a) const {
    const bool grad = a.op == BSCONV_OP_L2_NORMALIZE_GRAD;
    const void* f = grad ? a.b : a.a;
    const int64_t taps = l_.g.taps(), rows = static_cast<int64_t>(l_.row_base.size());
    auto elem = [&](int64_t r, int64_t e) { return l_.row_base[r] + (e / taps) * l_.row_stride[r] + e % taps; };
    // Σ f² and Σ dy·f of a row.
    auto sums = [&](int64_t r, float& ss, float& dyw) {
      ss = dyw = 0.0f;
      for (int64_t e = 0; e < l_.row_count[r] * taps; ++e) {
        const float w = ld<T>(f, elem(r, e));
        ss += w * w;
        if (grad) dyw += ld<T>(a.a, elem(r, e)) * w;
      }
    };
    // Gain gradients first: df may overwrite dy.
    if (grad && a.dg) {
#pragma omp parallel for schedule(static) num_threads(threads_)
      for (int64_t k = 0; k < cfg_.K; ++k) {
        float s = 0.0f;
        for (int64_t p = l_.k_row_ptr[k]; p < l_.k_row_ptr[k + 1]; ++p) {
          float ss, dyw;
          sums(l_.k_rows[p], ss, dyw);
          s += dyw / std::sqrt(std::max(ss, a.epsilon));
        }
        a.dg[k] = s;
      }
    }
#pragma omp parallel for schedule(static) num_threads(threads_)
    for (int64_t r = 0; r < rows; ++r) {
      const int64_t len = l_.row_count[r] * taps;
      float ss, dyw;
      sums(r, ss, dyw);
      const float s = std::max(ss, a.epsilon), inv = 1.0f / std::sqrt(s);
      const float gain = a.g ? a.g[l_.row_k[r]] : 1.0f;
      T* out = static_cast<T*>(a.out);
      // With u = gain·dy: Σ u·f = gain·Σ dy·f.
      const float coef = grad && ss >= a.epsilon ? gain * dyw / s : 0.0f;
      for (int64_t e = 0; e < len; ++e) {
        const int64_t i = elem(r, e);
        const float w = ld<T>(f, i);
        out[i] = from_float<T>(grad ? (ld<T>(a.a, i) * gain - w * coef) * inv : w * inv * gain);
      }
    }
  }

  BsconvConfig cfg_;
  const ConvLayout& l_;
  int32_t threads_ = 1;
};

}  // namespace
}  // namespace cpu

std::unique_ptr<BsconvBackend> make_bsconv_cpu_backend(const BsconvConfig& config, const ConvLayout& layout) {
  return std::make_unique<cpu::CpuBsconv>(config, layout);
}

}  // namespace bs
