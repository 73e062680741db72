// CPU backend of the optimizers (bs_optim.h): OpenMP over the plan's chunks for the element-wise
// updates; reductions sum in float64 with a partition fixed by the plan (chunks, rows, columns), so
// results do not depend on the thread count or the schedule.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/checks.hpp"
#include "core/dtype.hpp"
#include "dispatch/optim_backend.hpp"
#include "ops/ops_backend.hpp"

namespace bs {
namespace {

template <typename T>
float ld(const void* p, int64_t i) {
  return to_float(static_cast<const T*>(p)[i]);
}
template <typename T>
void st(void* p, int64_t i, float v) {
  static_cast<T*>(p)[i] = from_float<T>(v);
}

// The device scale of a step: 1 without one; the step is skipped when it is 0.
float read_scale(const float* norm_scale) { return norm_scale ? *norm_scale : 1.0f; }

class CpuOptim final : public OptimBackend {
 public:
  CpuOptim(const OptimConfig& c, const OptimWorklist& w)
      : w_(w), threads_(c.num_threads > 0 ? c.num_threads : omp_get_max_threads()) {
    for (const OptimTensor& t : w_.tensors)
      adafactor_doubles_ = std::max(adafactor_doubles_, static_cast<size_t>(t.rows + t.cols));
  }

  int32_t num_threads() const override { return threads_; }

  size_t workspace_size(bs_optim_op_t op) const override {
    switch (op) {
      case BS_OPTIM_OP_GLOBAL_NORM: return w_.chunks.size() * sizeof(double);
      case BS_OPTIM_OP_ADAFACTOR: return adafactor_doubles_ * sizeof(double);
      default: return 0;
    }
  }

  void check_tensor(const void* p, size_t align, const char* name) const override {
    ops::ops_cpu_backend().check_pointer(p, align, 0, name);
  }

  void adam(const AdamArgs& a) const override {
    const float ns = read_scale(a.norm_scale);
    if (ns == 0.0f) return;
    AdamScalars s = a.s;
    s.filter.scale *= ns;
    for_chunks([&](const OptimChunk& c) {
      const OptimTensor& t = w_.tensors[static_cast<size_t>(c.tensor)];
      const float* gate = a.gates ? a.gates[c.tensor] : nullptr;
      const float* sel = a.select ? a.select[c.tensor] : nullptr;
      dispatch_dtype(t.dtype, [&](auto tag) {
        using T = decltype(tag);
        void* p = a.params[c.tensor];
        const void* g = a.grads[c.tensor];
        float* m = a.m[c.tensor];
        float* v = a.v[c.tensor];
        for (int64_t i = c.begin; i < c.end; ++i) {
          const int64_t blk = t.block_elems ? i / t.block_elems : 0;
          if (gate && gate[blk] == 0.0f) continue;
          float pv = ld<T>(p, i);
          adam_element(s, sel && sel[blk] != 0.0f, ld<T>(g, i), pv, m[i], v[i]);
          st<T>(p, i, pv);
        }
      });
    });
  }

  void ema(const EmaArgs& a) const override {
    for_chunks([&](const OptimChunk& c) {
      const OptimTensor& t = w_.tensors[static_cast<size_t>(c.tensor)];
      const float* gate = a.gates ? a.gates[c.tensor] : nullptr;
      dispatch_dtype(t.dtype, [&](auto tag) {
        using T = decltype(tag);
        float* e = a.ema[c.tensor];
        const void* p = a.params[c.tensor];
        for (int64_t i = c.begin; i < c.end; ++i) {
          if (gate && gate[i / t.block_elems] == 0.0f) continue;
          e[i] = ema_element(a.decay, e[i], ld<T>(p, i));
        }
      });
    });
  }

  void global_norm(const GlobalNormArgs& a) const override {
    double* part = static_cast<double*>(a.workspace);
    const int64_t n = static_cast<int64_t>(w_.chunks.size());
#pragma omp parallel for num_threads(threads_) schedule(static)
    for (int64_t k = 0; k < n; ++k) {
      const OptimChunk& c = w_.chunks[static_cast<size_t>(k)];
      const OptimTensor& t = w_.tensors[static_cast<size_t>(c.tensor)];
      part[k] = dispatch_dtype(t.dtype, [&](auto tag) {
        using T = decltype(tag);
        double s = 0.0;
        for (int64_t i = c.begin; i < c.end; ++i) {
          const double g = filter_grad(ld<T>(a.grads[c.tensor], i), a.filter);
          s += g * g;
        }
        return s;
      });
    }
    double sum = 0.0;
    for (int64_t k = 0; k < n; ++k) sum += part[k];
    const float norm = static_cast<float>(std::sqrt(sum));
    if (a.norm) *a.norm = norm;
    if (a.norm_scale) *a.norm_scale = clip_scale(norm, a.clip_norm);
  }

  void adafactor(const AdafactorArgs& a) const override {
    const float ns = read_scale(a.norm_scale);
    if (ns == 0.0f) return;
    GradFilter f = a.filter;
    f.scale *= ns;
    double* ws = static_cast<double*>(a.workspace);
    for (size_t i = 0; i < w_.tensors.size(); ++i) {
      const OptimTensor& t = w_.tensors[i];
      dispatch_dtype(t.dtype, [&](auto tag) {
        using T = decltype(tag);
        if (t.rows >= 2)
          adafactor_2d<T>(a, f, t, a.params[i], a.grads[i], a.row_var[i], a.col_var[i], ws);
        else
          adafactor_1d<T>(a, f, t, a.params[i], a.grads[i], a.col_var[i], ws);
      });
    }
  }

 private:
  template <typename F>
  void for_chunks(F&& f) const {
    const int64_t n = static_cast<int64_t>(w_.chunks.size());
#pragma omp parallel for num_threads(threads_) schedule(static)
    for (int64_t k = 0; k < n; ++k) f(w_.chunks[static_cast<size_t>(k)]);
  }

  static float update_rate(const AdafactorArgs& a, double mean_x2) {
    return a.lr / std::max(static_cast<float>(std::sqrt(mean_x2)) / a.clip_thresh, 1.0f);
  }

  template <typename T>
  void adafactor_2d(const AdafactorArgs& a, const GradFilter& f, const OptimTensor& t, void* p, const void* g,
                    float* R, float* C, double* ws) const {
    const int64_t rows = t.rows, cols = t.cols;
    double* col_sum = ws;          // cols
    double* row_part = ws + cols;  // rows: Σ x² per row
    auto grad = [&](int64_t r, int64_t c) { return filter_grad(ld<T>(g, r * cols + c), f); };
#pragma omp parallel num_threads(threads_)
    {
#pragma omp for schedule(static)
      for (int64_t r = 0; r < rows; ++r) {
        double s = 0.0;
        for (int64_t c = 0; c < cols; ++c) s += static_cast<double>(grad(r, c)) * grad(r, c) + a.eps;
        R[r] = a.decay * R[r] + (1.0f - a.decay) * static_cast<float>(s / static_cast<double>(cols));
      }
      // Column sums in row order, one thread per slab of 64 columns (contiguous inner loop).
#pragma omp for schedule(static)
      for (int64_t c0 = 0; c0 < cols; c0 += 64) {
        const int64_t c1 = std::min(cols, c0 + 64);
        for (int64_t c = c0; c < c1; ++c) col_sum[c] = 0.0;
        for (int64_t r = 0; r < rows; ++r)
          for (int64_t c = c0; c < c1; ++c) col_sum[c] += static_cast<double>(grad(r, c)) * grad(r, c) + a.eps;
      }
#pragma omp for schedule(static)
      for (int64_t c = 0; c < cols; ++c)
        C[c] = a.decay * C[c] + (1.0f - a.decay) * static_cast<float>(col_sum[c] / static_cast<double>(rows));
    }
    double r_sum = 0.0;
    for (int64_t r = 0; r < rows; ++r) r_sum += R[r];
    const float r_mean = static_cast<float>(r_sum / static_cast<double>(rows));
    auto x_of = [&](int64_t r, int64_t c) { return grad(r, c) / std::sqrt(R[r] / r_mean * C[c]); };
#pragma omp parallel for num_threads(threads_) schedule(static)
    for (int64_t r = 0; r < rows; ++r) {
      double s = 0.0;
      for (int64_t c = 0; c < cols; ++c) s += static_cast<double>(x_of(r, c)) * x_of(r, c);
      row_part[r] = s;
    }
    double x2 = 0.0;
    for (int64_t r = 0; r < rows; ++r) x2 += row_part[r];
    const float rate = update_rate(a, x2 / static_cast<double>(t.numel));
#pragma omp parallel for num_threads(threads_) schedule(static)
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols; ++c) st<T>(p, r * cols + c, ld<T>(p, r * cols + c) - x_of(r, c) * rate);
  }

  template <typename T>
  void adafactor_1d(const AdafactorArgs& a, const GradFilter& f, const OptimTensor& t, void* p, const void* g,
                    float* V, double* ws) const {
    const int64_t n = t.numel;
    const int64_t parts = std::min<int64_t>(n, 64);  // fixed partition of the sum of x²
#pragma omp parallel for num_threads(threads_) schedule(static)
    for (int64_t q = 0; q < parts; ++q) {
      double s = 0.0;
      for (int64_t i = q * n / parts; i < (q + 1) * n / parts; ++i) {
        const float gi = filter_grad(ld<T>(g, i), f);
        V[i] = a.decay * V[i] + (1.0f - a.decay) * (gi * gi + a.eps);
        const float x = gi / std::sqrt(V[i]);
        s += static_cast<double>(x) * x;
      }
      ws[q] = s;
    }
    double x2 = 0.0;
    for (int64_t q = 0; q < parts; ++q) x2 += ws[q];
    const float rate = update_rate(a, x2 / static_cast<double>(n));
#pragma omp parallel for num_threads(threads_) schedule(static)
    for (int64_t i = 0; i < n; ++i) st<T>(p, i, ld<T>(p, i) - filter_grad(ld<T>(g, i), f) / std::sqrt(V[i]) * rate);
  }

  const OptimWorklist& w_;
  int32_t threads_;
  size_t adafactor_doubles_ = 0;
};

}  // namespace

std::unique_ptr<OptimBackend> make_optim_cpu_backend(const OptimConfig& c, const OptimWorklist& w) {
  return std::make_unique<CpuOptim>(c, w);
}

}  // namespace bs
