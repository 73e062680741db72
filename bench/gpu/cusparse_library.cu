// cuSPARSE peers. The weight is re-packed once per input set into the format the peer wants
// (not timed, reported as setup): Blocked-ELL values and BSR of Wᵀ for fprop, Blocked-ELL of W
// for bprop; BSR bprop and SDDMM use the weight tensor as it is (its order is BSR order).
#include <chrono>
#include <vector>

#include "device_ops.cuh"
#include "libraries.cuh"

namespace bsbench {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// A status that means "cuSPARSE cannot do this combination" is recorded, not fatal.
void probe(cusparseStatus_t st, const char* what) {
  if (st == CUSPARSE_STATUS_SUCCESS) return;
  const std::string text = std::string(what) + ": " + cusparseGetErrorString(st);
  if (st == CUSPARSE_STATUS_NOT_SUPPORTED || st == CUSPARSE_STATUS_INVALID_VALUE || st == CUSPARSE_STATUS_ARCH_MISMATCH)
    throw Unsupported(text);
  throw std::runtime_error(text);
}

cusparseDnMatDescr_t dense_descr(const MatView& v, DType t) {
  cusparseDnMatDescr_t d = nullptr;
  probe(cusparseCreateDnMat(&d, v.rows, v.cols, v.ld(), const_cast<void*>(v.p), cuda_dtype(t),
                            v.row_major ? CUSPARSE_ORDER_ROW : CUSPARSE_ORDER_COL),
        "cusparseCreateDnMat");
  return d;
}

// Descriptors and buffers of one prepared op; destroyed with the last copy of its OpRun.
struct State {
  std::vector<cusparseSpMatDescr_t> a;
  std::vector<cusparseDnMatDescr_t> b, c;
  std::vector<DeviceBuffer> buffers;  // re-packed values, index arrays, workspace
  ~State() {
    for (auto d : a) cusparseDestroySpMat(d);
    for (auto d : b) cusparseDestroyDnMat(d);
    for (auto d : c) cusparseDestroyDnMat(d);
  }
};

// The sparse operand of SpMM as block rows: row r holds blocks idx[ptr[r]..ptr[r+1]) (block
// columns), which are weight blocks ids[...] (transposed when `transpose`).
struct SparseOperand {
  int64_t rows_b, cols_b;
  const std::vector<int32_t>* ptr;
  const std::vector<int32_t>* idx;
  std::vector<int32_t> ids;
  bool transpose;
};

SparseOperand operand(const Layout& L, Op op) {
  if (op == Op::FPROP) return {L.KB, L.CB, &L.col_ptr, &L.col_rows, L.col_blocks, true};  // Wᵀ, rows = k
  std::vector<int32_t> ids(static_cast<size_t>(L.nnz));
  for (size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<int32_t>(i);
  return {L.CB, L.KB, &L.row_ptr, &L.row_cols, ids, false};  // W, rows = c
}

class SpmmLibrary final : public Library {
 public:
  SpmmLibrary(Problem& p, cusparseHandle_t h, CusparseFormat f) : p_(p), h_(h), f_(f) {}
  const char* name() const override { return f_ == CusparseFormat::BSR ? kLibBsr : kLibBell; }
  // cuSPARSE has no TF32 switch. Its Blocked-ELL kernel for fp32 data was measured to round like
  // TF32 (rel err ~3e-4 on H100): it runs under both fp32 labels, failing the exact-fp32 check
  // under fp32-FFMA and listed with the TF32 peers. BSR SpMM is exact fp32: fp32-FFMA only.
  bool has(Op op) const override {
    return op != Op::UPDAT && (f_ == CusparseFormat::BLOCKED_ELL || !p_.shape().prec.tf32);
  }

  OpRun prepare(Op op) override {
    const auto t0 = Clock::now();
    const Layout& L = p_.layout();
    const int b = p_.shape().b;
    const DType t = p_.dtype();
    const SparseOperand A = operand(L, op);
    auto st = std::make_shared<State>();
    DeviceBuffer ids = upload(A.ids);
    std::vector<const void*> values(static_cast<size_t>(p_.sets()));
    const void* col_ind = nullptr;
    const void* row_ptr = nullptr;
    int64_t ell_w = 0;
    if (f_ == CusparseFormat::BSR) {
      st->buffers.push_back(upload(*A.ptr));
      row_ptr = st->buffers.back().get();
      st->buffers.push_back(upload(*A.idx));
      col_ind = st->buffers.back().get();
      for (int s = 0; s < p_.sets(); ++s) {
        if (op == Op::BPROP) {  // W itself is BSR of (C, K) with row-major blocks
          values[static_cast<size_t>(s)] = p_.w(s);
          continue;
        }
        st->buffers.emplace_back(static_cast<size_t>(L.nnz) * b * b * dtype_bytes(t));
        gather_blocks(st->buffers.back().get(), p_.w(s), t, ids.as<int32_t>(), L.nnz, b, A.transpose, p_.stream());
        values[static_cast<size_t>(s)] = st->buffers.back().get();
      }
    } else {
      // Blocked-ELL: the same number of slots in every block row (balanced layouts need no padding;
      // -1 marks padding otherwise).
      for (int64_t r = 0; r < A.rows_b; ++r) ell_w = std::max<int64_t>(ell_w, (*A.ptr)[r + 1] - (*A.ptr)[r]);
      std::vector<int32_t> cols(static_cast<size_t>(A.rows_b * ell_w), -1), slots(cols.size(), -1);
      for (int64_t r = 0; r < A.rows_b; ++r)
        for (int32_t j = (*A.ptr)[r]; j < (*A.ptr)[r + 1]; ++j) {
          const size_t at = static_cast<size_t>(r * ell_w + (j - (*A.ptr)[r]));
          cols[at] = (*A.idx)[static_cast<size_t>(j)];
          slots[at] = A.ids[static_cast<size_t>(j)];
        }
      st->buffers.push_back(upload(cols));
      col_ind = st->buffers.back().get();
      DeviceBuffer d_slots = upload(slots);
      for (int s = 0; s < p_.sets(); ++s) {
        st->buffers.emplace_back(static_cast<size_t>(A.rows_b * ell_w) * b * b * dtype_bytes(t));
        ell_pack(st->buffers.back().get(), p_.w(s), t, d_slots.as<int32_t>(), A.rows_b, ell_w, b, A.transpose,
                 p_.stream());
        values[static_cast<size_t>(s)] = st->buffers.back().get();
      }
      BENCH_CUDA(cudaStreamSynchronize(p_.stream()));  // d_slots dies here
    }
    for (int s = 0; s < p_.sets(); ++s) {
      cusparseSpMatDescr_t a = nullptr;
      void* v = const_cast<void*>(values[static_cast<size_t>(s)]);
      if (f_ == CusparseFormat::BSR) {
        probe(cusparseCreateBsr(&a, A.rows_b, A.cols_b, L.nnz, b, b, const_cast<void*>(row_ptr),
                                const_cast<void*>(col_ind), v, CUSPARSE_INDEX_32I, CUSPARSE_INDEX_32I,
                                CUSPARSE_INDEX_BASE_ZERO, cuda_dtype(t), CUSPARSE_ORDER_ROW),
              "cusparseCreateBsr");
      } else {
        probe(cusparseCreateBlockedEll(&a, A.rows_b * b, A.cols_b * b, b, ell_w * b, const_cast<void*>(col_ind), v,
                                       CUSPARSE_INDEX_32I, CUSPARSE_INDEX_BASE_ZERO, cuda_dtype(t)),
              "cusparseCreateBlockedEll");
      }
      st->a.push_back(a);
      // fprop: yᵀ = Wᵀ·xᵀ; bprop: dxᵀ = W·dyᵀ (the transposed views are the same storage).
      const MatView B = op == Op::FPROP ? p_.x_view(s).t() : p_.dy_view(s).t();
      const MatView C = op == Op::FPROP ? p_.y_view().t() : p_.dx_view().t();
      st->b.push_back(dense_descr(B, t));
      st->c.push_back(dense_descr(C, t));
    }
    const cusparseSpMMAlg_t alg = f_ == CusparseFormat::BSR ? CUSPARSE_SPMM_BSR_ALG1 : CUSPARSE_SPMM_BLOCKED_ELL_ALG1;
    static const float alpha = 1.0f, beta = 0.0f;
    size_t ws = 0;
    probe(cusparseSpMM_bufferSize(h_, CUSPARSE_OPERATION_NON_TRANSPOSE, CUSPARSE_OPERATION_NON_TRANSPOSE, &alpha,
                                  st->a[0], st->b[0], &beta, st->c[0], CUDA_R_32F, alg, &ws),
          "cusparseSpMM_bufferSize");
    st->buffers.emplace_back(ws);
    void* work = st->buffers.back().get();
    BENCH_CUDA(cudaStreamSynchronize(p_.stream()));
    OpRun run;
    run.setup_s = seconds_since(t0);
    run.note = f_ == CusparseFormat::BSR ? "SpMM BSR_ALG1" : "SpMM BLOCKED_ELL_ALG1, ellCols=" + std::to_string(ell_w * b);
    cusparseHandle_t h = h_;
    cudaStream_t stream = p_.stream();
    run.enqueue = [st, h, alg, work, stream](int s) {
      probe(cusparseSetStream(h, stream), "cusparseSetStream");
      probe(cusparseSpMM(h, CUSPARSE_OPERATION_NON_TRANSPOSE, CUSPARSE_OPERATION_NON_TRANSPOSE, &alpha,
                         st->a[static_cast<size_t>(s)], st->b[static_cast<size_t>(s)], &beta,
                         st->c[static_cast<size_t>(s)], CUDA_R_32F, alg, work),
            "cusparseSpMM");
    };
    return run;
  }

 private:
  Problem& p_;
  cusparseHandle_t h_;
  CusparseFormat f_;
};

class SddmmLibrary final : public Library {
 public:
  SddmmLibrary(Problem& p, cusparseHandle_t h) : p_(p), h_(h) {}
  const char* name() const override { return kLibSddmm; }
  bool has(Op op) const override { return op == Op::UPDAT && !p_.shape().prec.tf32; }

  OpRun prepare(Op op) override {
    if (op != Op::UPDAT) throw Unsupported("SDDMM computes the weight gradient only");
    const auto t0 = Clock::now();
    const Layout& L = p_.layout();
    const int b = p_.shape().b;
    const DType t = p_.dtype();
    auto st = std::make_shared<State>();
    st->buffers.push_back(upload(L.row_ptr));
    void* row_ptr = st->buffers.back().get();
    st->buffers.push_back(upload(L.row_cols));
    void* col_ind = st->buffers.back().get();
    cusparseSpMatDescr_t c = nullptr;  // dW as BSR of (C, K): exactly the weight tensor's order
    probe(cusparseCreateBsr(&c, L.CB, L.KB, L.nnz, b, b, row_ptr, col_ind, p_.out(Op::UPDAT), CUSPARSE_INDEX_32I,
                            CUSPARSE_INDEX_32I, CUSPARSE_INDEX_BASE_ZERO, cuda_dtype(t), CUSPARSE_ORDER_ROW),
          "cusparseCreateBsr");
    st->a.push_back(c);
    for (int s = 0; s < p_.sets(); ++s) {  // dW = xᵀ·dy
      st->b.push_back(dense_descr(p_.x_view(s).t(), t));
      st->c.push_back(dense_descr(p_.dy_view(s), t));
    }
    static const float alpha = 1.0f, beta = 0.0f;
    const auto opn = CUSPARSE_OPERATION_NON_TRANSPOSE;
    size_t ws = 0;
    probe(cusparseSDDMM_bufferSize(h_, opn, opn, &alpha, st->b[0], st->c[0], &beta, c, CUDA_R_32F,
                                   CUSPARSE_SDDMM_ALG_DEFAULT, &ws),
          "cusparseSDDMM_bufferSize");
    st->buffers.emplace_back(ws);
    void* work = st->buffers.back().get();
    probe(cusparseSetStream(h_, p_.stream()), "cusparseSetStream");
    probe(cusparseSDDMM_preprocess(h_, opn, opn, &alpha, st->b[0], st->c[0], &beta, c, CUDA_R_32F,
                                   CUSPARSE_SDDMM_ALG_DEFAULT, work),
          "cusparseSDDMM_preprocess");
    BENCH_CUDA(cudaStreamSynchronize(p_.stream()));
    OpRun run;
    run.setup_s = seconds_since(t0);
    run.note = "SDDMM ALG_DEFAULT into BSR, preprocessed";
    cusparseHandle_t h = h_;
    cudaStream_t stream = p_.stream();
    run.enqueue = [st, h, work, stream, opn](int s) {
      probe(cusparseSetStream(h, stream), "cusparseSetStream");
      probe(cusparseSDDMM(h, opn, opn, &alpha, st->b[static_cast<size_t>(s)], st->c[static_cast<size_t>(s)], &beta,
                          st->a[0], CUDA_R_32F, CUSPARSE_SDDMM_ALG_DEFAULT, work),
            "cusparseSDDMM");
    };
    return run;
  }

 private:
  Problem& p_;
  cusparseHandle_t h_;
};

}  // namespace

std::unique_ptr<Library> make_cusparse_spmm(Problem& problem, cusparseHandle_t handle, CusparseFormat format) {
  return std::make_unique<SpmmLibrary>(problem, handle, format);
}

std::unique_ptr<Library> make_cusparse_sddmm(Problem& problem, cusparseHandle_t handle) {
  return std::make_unique<SddmmLibrary>(problem, handle);
}

}  // namespace bsbench
