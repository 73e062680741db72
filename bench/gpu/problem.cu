#include "device_ops.cuh"
#include "problem.cuh"

namespace bsbench {

const char* op_name(Op op) {
  switch (op) {
    case Op::FPROP: return "fprop";
    case Op::BPROP: return "bprop";
    default: return "updat";
  }
}

DeviceBuffer upload(const std::vector<int32_t>& v) {
  DeviceBuffer d(v.size() * sizeof(int32_t));
  if (!v.empty()) BENCH_CUDA(cudaMemcpy(d.get(), v.data(), d.bytes(), cudaMemcpyHostToDevice));
  return d;
}

Problem::Problem(const Shape& shape, const Layout& layout, int sets, uint64_t seed, cublasHandle_t cublas,
                 cudaStream_t stream)
    : shape_(shape), layout_(layout), cublas_(cublas), stream_(stream) {
  const size_t es = dtype_bytes(dtype());
  const int64_t nx = shape.N * shape.C, ny = shape.N * shape.K, nw = layout.nnz * shape.b * shape.b;
  for (int s = 0; s < sets; ++s) {
    // Distinct seeds per tensor and set; fresh data in every run of the benchmark is not needed
    // (timing does not depend on values), distinct data per set is (caches).
    const uint64_t base = seed * 1000003ull + static_cast<uint64_t>(s) * 3ull;
    x_.emplace_back(static_cast<size_t>(nx) * es);
    dy_.emplace_back(static_cast<size_t>(ny) * es);
    w_.emplace_back(static_cast<size_t>(nw) * es);
    fill_uniform(x_.back().get(), nx, dtype(), base + 0, stream);
    fill_uniform(dy_.back().get(), ny, dtype(), base + 1, stream);
    fill_uniform(w_.back().get(), nw, dtype(), base + 2, stream);
  }
  out_[0] = DeviceBuffer(static_cast<size_t>(ny) * es);
  out_[1] = DeviceBuffer(static_cast<size_t>(nx) * es);
  out_[2] = DeviceBuffer(static_cast<size_t>(nw) * es);
  d_block_rows_ = upload(layout.block_rows);
  d_block_cols_ = upload(layout.row_cols);
  BENCH_CUDA(cudaStreamSynchronize(stream));
}

MatView Problem::x_view(int s) const { return activation(x(s), shape_.N, shape_.C, shape_.feature_axis); }
MatView Problem::dy_view(int s) const { return activation(dy(s), shape_.N, shape_.K, shape_.feature_axis); }
MatView Problem::y_view() const { return activation(out(Op::FPROP), shape_.N, shape_.K, shape_.feature_axis); }
MatView Problem::dx_view() const { return activation(out(Op::BPROP), shape_.N, shape_.C, shape_.feature_axis); }

void Problem::poison(Op op, bool nan) const {
  // 0xff bytes are NaN in fp32, fp16 and bf16; 0x7b bytes are finite and large in all three
  // (about 1e36, 6e4, 1e36).
  BENCH_CUDA(cudaMemsetAsync(out(op), nan ? 0xff : 0x7b, out_bytes(op), stream_));
}

double Problem::flops() const {
  return 2.0 * static_cast<double>(shape_.N) * static_cast<double>(layout_.nnz) * shape_.b * shape_.b;
}

const float* Problem::reference(Op op) {
  DeviceBuffer& ref = ref_[static_cast<size_t>(op)];
  if (ref.get()) return ref.as<float>();
  const int64_t N = shape_.N, C = shape_.C, K = shape_.K;
  const int fa = shape_.feature_axis;
  BENCH_CUBLAS(cublasSetStream(cublas_, stream_));
  DeviceBuffer wf(static_cast<size_t>(C * K) * sizeof(float));  // masked dense W, row-major (C, K)
  BENCH_CUDA(cudaMemsetAsync(wf.get(), 0, wf.bytes(), stream_));
  scatter_blocks(wf.as<float>(), K, w(0), dtype(), d_block_rows(), d_block_cols(), layout_.nnz, shape_.b, stream_);
  const MatView W{wf.get(), C, K, true};
  DeviceBuffer xf(static_cast<size_t>(N * C) * sizeof(float)), dyf(static_cast<size_t>(N * K) * sizeof(float));
  to_float(xf.as<float>(), x(0), N * C, dtype(), stream_);
  to_float(dyf.as<float>(), dy(0), N * K, dtype(), stream_);
  const MatView X = activation(xf.get(), N, C, fa), DY = activation(dyf.get(), N, K, fa);
  switch (op) {
    case Op::FPROP:
      ref = DeviceBuffer(static_cast<size_t>(N * K) * sizeof(float));
      gemm(cublas_, reference_gemm_type(), activation(ref.get(), N, K, fa), X, W);
      break;
    case Op::BPROP:
      ref = DeviceBuffer(static_cast<size_t>(N * C) * sizeof(float));
      gemm(cublas_, reference_gemm_type(), activation(ref.get(), N, C, fa), DY, W.t());
      break;
    case Op::UPDAT:
      ref = DeviceBuffer(static_cast<size_t>(C * K) * sizeof(float));
      gemm(cublas_, reference_gemm_type(), MatView{ref.get(), C, K, true}, X.t(), DY);
      break;
  }
  BENCH_CUDA(cudaStreamSynchronize(stream_));  // the temporaries die here
  return ref.as<float>();
}

double Problem::check(Op op) {
  const float* ref = reference(op);
  if (op == Op::UPDAT)
    return rel_error_blocks(out(op), dtype(), ref, shape_.K, d_block_rows(), d_block_cols(), layout_.nnz, shape_.b,
                            stream_);
  const int64_t n = shape_.N * (op == Op::FPROP ? shape_.K : shape_.C);
  return rel_error(out(op), dtype(), ref, n, stream_);
}

}  // namespace bsbench
