// CPU backend of bsmm: host pointers, OpenMP threads, fp32 accumulation.
//
// Every output tile (a range of N rows x one output block) is owned by one thread, so results do
// not depend on the thread count or schedule (deterministic, no atomics).
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/checks.hpp"
#include "core/dtype.hpp"
#include "dispatch/bsmm_backend.hpp"

namespace bs {
namespace {

constexpr int64_t kRowTile = 64;     // N rows per output tile
constexpr size_t kScratchAlign = 64;

size_t round_up(size_t v, size_t a) { return (v + a - 1) / a * a; }

class CpuBsmm final : public BsmmBackend {
 public:
  CpuBsmm(const BsmmConfig& config, const BsmmLayout& layout) : cfg_(config), layout_(layout) {
    threads_ = config.num_threads > 0 ? config.num_threads : omp_get_max_threads();
  }

  int32_t num_threads() const override { return threads_; }

  // Per thread: one b x b fp32 block (converted / transposed W) and one kRowTile x b accumulator.
  size_t per_thread_scratch() const {
    const size_t b = static_cast<size_t>(cfg_.block_size);
    return round_up(b * b * 4, kScratchAlign) + round_up(static_cast<size_t>(kRowTile) * b * 4, kScratchAlign);
  }

  size_t workspace_size(bsmm_op_t op, int64_t /*N*/) const override {
    switch (op) {
      case BSMM_OP_FPROP:
      case BSMM_OP_BPROP:
      case BSMM_OP_UPDAT: return static_cast<size_t>(threads_) * per_thread_scratch() + kScratchAlign;
      case BSMM_OP_L2_NORMALIZE:
      case BSMM_OP_L2_NORMALIZE_GRAD: return 2 * static_cast<size_t>(cfg_.K) * sizeof(float);
      default: return 0;
    }
  }

  void check_tensor(const void* p, const char* name) const override {
    // gate, gain and workspace are fp32; activations and weights the plan dtype: the element size
    // is the strictest requirement that holds for all.
    check_aligned(p, 2, name);
  }

  void xprop(const BsmmXpropArgs& a) const override {
    dispatch_dtype(cfg_.dtype, [&](auto t) { xprop_typed<decltype(t)>(a); });
  }

  void updat(const BsmmUpdatArgs& a) const override {
    dispatch_dtype(cfg_.dtype, [&](auto t) { updat_typed<decltype(t)>(a); });
  }

  void identity_init(void* w, float scale, bs_stream_t) const override {
    dispatch_dtype(cfg_.dtype, [&](auto t) {
      using T = decltype(t);
      T* out = static_cast<T*>(w);
      const int64_t b = cfg_.block_size;
      for (int64_t i = 0; i < layout_.nnz; ++i) {
        const int64_t c = layout_.block_rows[i], k = layout_.row_cols[i];
        const bool diag = (c % layout_.KB) == (k % layout_.CB);
        for (int64_t r = 0; r < b; ++r)
          for (int64_t s = 0; s < b; ++s) out[(i * b + r) * b + s] = from_float<T>(diag && r == s ? scale : 0.0f);
      }
    });
  }

  void l2_normalize(const BsmmL2NormArgs& a) const override {
    dispatch_dtype(cfg_.dtype, [&](auto t) { l2_typed<decltype(t)>(a); });
  }

 private:
  // Element (n, f) of an activation with `features` features and minibatch N.
  int64_t act_index(int64_t n, int64_t f, int64_t N, int64_t features) const {
    return cfg_.feature_axis == 1 ? n * features + f : f * N + n;
  }

  float* thread_scratch(void* ws) const {
    auto base = reinterpret_cast<uintptr_t>(ws);
    base = (base + kScratchAlign - 1) / kScratchAlign * kScratchAlign;
    return reinterpret_cast<float*>(base + static_cast<size_t>(omp_get_thread_num()) * per_thread_scratch());
  }

  template <typename T>
  void xprop_typed(const BsmmXpropArgs& a) const {
    const int64_t b = cfg_.block_size, N = a.N;
    const int64_t in_features = a.bprop ? cfg_.K : cfg_.C;
    const int64_t out_features = a.bprop ? cfg_.C : cfg_.K;
    const int64_t out_blocks = a.bprop ? layout_.CB : layout_.KB;
    const int64_t row_tiles = (N + kRowTile - 1) / kRowTile;
    const T* in = static_cast<const T*>(a.in);
    const T* w = static_cast<const T*>(a.w);
    T* out = static_cast<T*>(a.out);
    const size_t block_floats = round_up(static_cast<size_t>(b * b) * 4, kScratchAlign) / 4;

#pragma omp parallel for schedule(dynamic) num_threads(threads_)
    for (int64_t task = 0; task < out_blocks * row_tiles; ++task) {
      const int64_t ob = task / row_tiles, n0 = (task % row_tiles) * kRowTile;
      const int64_t rows = std::min(kRowTile, N - n0);
      float* wb = thread_scratch(a.workspace);
      float* acc = wb + block_floats;
      std::fill(acc, acc + rows * b, 0.0f);
      // Entries of output block ob: fprop uses its BSC column, bprop its BSR row.
      const int64_t begin = a.bprop ? layout_.row_ptr[ob] : layout_.col_ptr[ob];
      const int64_t end = a.bprop ? layout_.row_ptr[ob + 1] : layout_.col_ptr[ob + 1];
      for (int64_t e = begin; e < end; ++e) {
        const int64_t blk = a.bprop ? e : layout_.col_blocks[e];
        const int64_t ib = a.bprop ? layout_.row_cols[e] : layout_.col_rows[e];
        const float g = a.gate ? a.gate[blk] : 1.0f;
        if (g == 0.0f) continue;
        // wb[i][j]: row i of the b x b operand (fprop W, bprop Wᵀ), gate folded in.
        const T* src = w + blk * b * b;
        for (int64_t i = 0; i < b; ++i)
          for (int64_t j = 0; j < b; ++j) wb[i * b + j] = g * to_float(a.bprop ? src[j * b + i] : src[i * b + j]);
        for (int64_t r = 0; r < rows; ++r) {
          float* acc_row = acc + r * b;
          for (int64_t i = 0; i < b; ++i) {
            const float xv = to_float(in[act_index(n0 + r, ib * b + i, N, in_features)]);
            const float* wrow = wb + i * b;
            for (int64_t j = 0; j < b; ++j) acc_row[j] += xv * wrow[j];
          }
        }
      }
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t j = 0; j < b; ++j) {
          T& o = out[act_index(n0 + r, ob * b + j, N, out_features)];
          const float v = a.alpha * acc[r * b + j];
          o = from_float<T>(a.beta == 0.0f ? v : v + a.beta * to_float(o));
        }
    }
  }

  template <typename T>
  void updat_typed(const BsmmUpdatArgs& a) const {
    const int64_t b = cfg_.block_size, N = a.N;
    T* dw = static_cast<T*>(a.dw);

#pragma omp parallel for schedule(dynamic) num_threads(threads_)
    for (int64_t blk = 0; blk < layout_.nnz; ++blk) {
      float* acc = thread_scratch(a.workspace);
      const int64_t c = layout_.block_rows[blk], k = layout_.row_cols[blk];
      const float g = a.gate ? a.gate[blk] : 1.0f;
      std::fill(acc, acc + b * b, 0.0f);
      if (g != 0.0f) {
        for (int32_t p = 0; p < a.n_pairs && N > 0; ++p) {
          const T* x = static_cast<const T*>(a.x[p]);
          const T* dy = static_cast<const T*>(a.dy[p]);
          for (int64_t n = 0; n < N; ++n)
            for (int64_t i = 0; i < b; ++i) {
              const float xv = to_float(x[act_index(n, c * b + i, N, cfg_.C)]);
              float* acc_row = acc + i * b;
              for (int64_t j = 0; j < b; ++j) acc_row[j] += xv * to_float(dy[act_index(n, k * b + j, N, cfg_.K)]);
            }
        }
      }
      T* o = dw + blk * b * b;
      for (int64_t e = 0; e < b * b; ++e) {
        const float v = a.alpha * g * acc[e];
        o[e] = from_float<T>(a.beta == 0.0f ? v : v + a.beta * to_float(o[e]));
      }
    }
  }

  template <typename T>
  void l2_typed(const BsmmL2NormArgs& a) const {
    const int64_t b = cfg_.block_size;
    const T* w = static_cast<const T*>(a.w);
    const T* in = static_cast<const T*>(a.in);
    T* out = static_cast<T*>(a.out);
    // Per output feature: sum of w² and (grad) sum of u·w, accumulated in fixed block order.
    float* sumsq = static_cast<float*>(a.workspace);
    float* sumuw = sumsq + cfg_.K;
    std::fill(sumsq, sumsq + 2 * cfg_.K, 0.0f);
    for (int64_t blk = 0; blk < layout_.nnz; ++blk) {
      const int64_t k = layout_.row_cols[blk];
      for (int64_t r = 0; r < b; ++r)
        for (int64_t j = 0; j < b; ++j) {
          const int64_t col = k * b + j;
          const float wv = to_float(w[(blk * b + r) * b + j]);
          sumsq[col] += wv * wv;
          if (a.grad) {
            const float g = a.gain ? a.gain[col] : 1.0f;
            sumuw[col] += g * to_float(in[(blk * b + r) * b + j]) * wv;
          }
        }
    }
    if (a.dgain) std::fill(a.dgain, a.dgain + cfg_.K, 0.0f);
    for (int64_t blk = 0; blk < layout_.nnz; ++blk) {
      const int64_t k = layout_.row_cols[blk];
      for (int64_t r = 0; r < b; ++r)
        for (int64_t j = 0; j < b; ++j) {
          const int64_t col = k * b + j, e = (blk * b + r) * b + j;
          const float s = std::max(sumsq[col], a.epsilon);
          const float inv = 1.0f / std::sqrt(s);
          const float g = a.gain ? a.gain[col] : 1.0f;
          const float wv = to_float(w[e]);
          if (!a.grad) {
            out[e] = from_float<T>(wv * inv * g);
          } else {
            const float dyv = to_float(in[e]);
            if (a.dgain) a.dgain[col] += dyv * wv * inv;
            const float keep = sumsq[col] >= a.epsilon ? 1.0f : 0.0f;
            out[e] = from_float<T>((g * dyv - wv * keep * sumuw[col] / s) * inv);
          }
        }
    }
  }

  BsmmConfig cfg_;
  const BsmmLayout& layout_;
  int32_t threads_ = 1;
};

}  // namespace

std::unique_ptr<BsmmBackend> make_bsmm_cpu_backend(const BsmmConfig& config, const BsmmLayout& layout) {
  return std::make_unique<CpuBsmm>(config, layout);
}

}  // namespace bs
