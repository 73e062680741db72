#pragma once
// Shared pieces of the optimizer tests: a list of tensors of mixed shapes (some cut into several
// chunks of the plan's work list), their guarded CPU buffers, and the float64 gradient filter.
#include <cmath>
#include <memory>
#include <vector>

#include "ops/ops_test_util.hpp"

namespace optimtest {

using opstest::Buf;

struct Shape {
  int64_t rows, cols, block_elems;
};

// 21000 elements cross the work list's 16384-element chunk boundary; blocks of 8 and 64.
inline std::vector<Shape> shapes() { return {{3, 7000, 0}, {16, 64, 64}, {1, 40, 8}, {5, 3, 0}, {32, 32, 0}}; }

// Owns the plan and one guarded buffer per tensor and role.
struct TensorList {
  bs_backend_t be = BS_BACKEND_CPU;
  bs_dtype_t dt;
  std::vector<Shape> sh;
  bs_optim_plan_t plan = nullptr;
  std::vector<std::vector<double>> p, g, m, v, gate, sel;
  std::vector<std::unique_ptr<Buf>> P, G, M, V, Gate, Sel;

  TensorList(bs_dtype_t d, std::vector<Shape> s, int32_t threads = 0) : dt(d), sh(std::move(s)) {
    std::vector<int64_t> rows, cols, be_;
    std::vector<int32_t> dts;
    for (const Shape& x : sh) {
      rows.push_back(x.rows);
      cols.push_back(x.cols);
      be_.push_back(x.block_elems);
      dts.push_back(d);
    }
    bs_optim_params_t prm;
    EXPECT_EQ(BS_OPTIM_PARAMS_INIT(&prm), BS_STATUS_SUCCESS);
    prm.num_threads = threads;
    EXPECT_EQ(bs_optim_create(&plan, &prm, static_cast<int32_t>(sh.size()), rows.data(), cols.data(), dts.data(),
                              be_.data()),
              BS_STATUS_SUCCESS);
    for (const Shape& x : sh) {
      const size_t n = static_cast<size_t>(x.rows * x.cols);
      const size_t nb = x.block_elems ? n / static_cast<size_t>(x.block_elems) : 0;
      add(P, p, d, opstest::rand_vec(d, n, -1, 1));
      add(G, g, d, opstest::rand_vec(d, n, -1, 1));
      add(M, m, BS_DTYPE_F32, opstest::rand_vec(BS_DTYPE_F32, n, -0.1, 0.1));
      add(V, v, BS_DTYPE_F32, opstest::rand_vec(BS_DTYPE_F32, n, 0.01, 0.2));
      std::vector<double> gt(nb), sl(nb);
      for (size_t b = 0; b < nb; ++b) {
        gt[b] = b % 3 == 1 ? 0.0 : 1.0;  // every third block gated off
        sl[b] = b % 2 == 0 ? 1.0 : 0.0;
      }
      add(Gate, gate, BS_DTYPE_F32, gt);
      add(Sel, sel, BS_DTYPE_F32, sl);
    }
  }
  ~TensorList() { bs_optim_destroy(plan); }
  TensorList(const TensorList&) = delete;
  TensorList& operator=(const TensorList&) = delete;

  static void add(std::vector<std::unique_ptr<Buf>>& bufs, std::vector<std::vector<double>>& host, bs_dtype_t d,
                  std::vector<double> vals) {
    bufs.push_back(std::make_unique<Buf>(BS_BACKEND_CPU, d, vals.empty() ? std::vector<double>{0.0} : vals));
    host.push_back(std::move(vals));
  }
  template <typename T>
  static std::vector<T> ptrs(const std::vector<std::unique_ptr<Buf>>& bufs) {
    std::vector<T> out;
    for (const auto& b : bufs) out.push_back(static_cast<T>(b->ptr()));
    return out;
  }
  // Block vectors only for tensors with blocks (NULL elsewhere, as the API requires).
  std::vector<const float*> block_ptrs(const std::vector<std::unique_ptr<Buf>>& bufs) const {
    std::vector<const float*> out;
    for (size_t i = 0; i < sh.size(); ++i) out.push_back(sh[i].block_elems ? bufs[i]->f32() : nullptr);
    return out;
  }
  int64_t numel(size_t i) const { return sh[i].rows * sh[i].cols; }
};

struct Filter {
  double scale = 1, saturate = 0;
  bool zero_infs = false, zero_nans = false;
};

inline double filter(double g, const Filter& f) {
  if (std::isnan(g) && f.zero_nans) g = 0;
  if (std::isinf(g) && f.zero_infs) g = 0;
  if (f.saturate > 0) g = std::fmax(std::fmin(g, f.saturate), -f.saturate);
  return g * f.scale;
}

}  // namespace optimtest
