#pragma once
// One benchmark case on the device: a precision, a shape and a layout, with several input sets
// (x, dy, W) for rotation, one output buffer per op, and fp32 references to check every library's
// output against: cuBLAS in exact fp32 on the masked dense weight, built from input set 0.
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "bench_util.cuh"
#include "dense_gemm.cuh"
#include "layout.hpp"

namespace bsbench {

enum class Op { FPROP = 0, BPROP = 1, UPDAT = 2 };
const char* op_name(Op op);

struct Shape {
  Prec prec;
  int64_t N = 0, C = 0, K = 0;
  int b = 32;
  double density = 0.25;
  int feature_axis = 1;
};

// Thrown when a library cannot run a combination: recorded as "unsupported", never as a failure.
struct Unsupported : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Host index array copied to the device.
DeviceBuffer upload(const std::vector<int32_t>& v);

class Problem {
 public:
  Problem(const Shape& shape, const Layout& layout, int sets, uint64_t seed, cublasHandle_t cublas,
          cudaStream_t stream);

  const Shape& shape() const { return shape_; }
  const Layout& layout() const { return layout_; }
  DType dtype() const { return shape_.prec.dtype; }
  int sets() const { return static_cast<int>(x_.size()); }
  cudaStream_t stream() const { return stream_; }

  // Inputs of set s (device pointers), in this library's formats.
  const void* x(int s) const { return x_[static_cast<size_t>(s)].get(); }
  const void* dy(int s) const { return dy_[static_cast<size_t>(s)].get(); }
  const void* w(int s) const { return w_[static_cast<size_t>(s)].get(); }
  // The output buffer of op (y, dx or dW), shared by all libraries.
  void* out(Op op) const { return out_[static_cast<size_t>(op)].get(); }
  size_t out_bytes(Op op) const { return out_[static_cast<size_t>(op)].bytes(); }

  MatView x_view(int s) const;
  MatView dy_view(int s) const;
  MatView y_view() const;
  MatView dx_view() const;

  // Device copies of the layout's index arrays (int32).
  const int32_t* d_block_rows() const { return d_block_rows_.as<int32_t>(); }
  const int32_t* d_block_cols() const { return d_block_cols_.as<int32_t>(); }

  // Fills out(op) before a checked run so that an element a library does not write fails the
  // check: NaN for this library (DESIGN §7); a huge finite value for the peers, which may read the
  // output even with beta = 0 (0·NaN would fail them for the wrong reason).
  void poison(Op op, bool nan) const;
  // ‖out(op) − reference‖ / ‖reference‖ (dW only on the layout's blocks; dW in block order).
  double check(Op op);

  // 2·N·nnz·b²: the useful work of one op on this layout.
  double flops() const;

 private:
  const float* reference(Op op);

  Shape shape_;
  const Layout& layout_;
  cublasHandle_t cublas_;
  cudaStream_t stream_;
  std::vector<DeviceBuffer> x_, dy_, w_;
  std::array<DeviceBuffer, 3> out_;
  std::array<DeviceBuffer, 3> ref_;
  DeviceBuffer d_block_rows_, d_block_cols_;
};

}  // namespace bsbench
