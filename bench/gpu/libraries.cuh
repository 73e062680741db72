#pragma once
// The block-sparse implementations the benchmark times on a Problem: this library (bsmm) and the
// cuSPARSE peers (Blocked-ELL SpMM, BSR SpMM, BSR SDDMM). Each prepares one op at a time; the run
// writes the Problem's output buffer of that op, so one check serves every library.
#include <functional>
#include <memory>
#include <string>

#include "problem.cuh"

namespace bsbench {

// A prepared op: enqueue(set) runs it once on input set `set` on the problem's stream.
struct OpRun {
  std::function<void(int set)> enqueue;
  double setup_s = 0;  // one-time cost not in the timings (plan creation, re-packing, preprocess)
  std::string note;
};

class Library {
 public:
  virtual ~Library() = default;
  virtual const char* name() const = 0;
  virtual bool has(Op op) const = 0;
  // Throws Unsupported when this library cannot run op on this problem (dtype, shape...).
  virtual OpRun prepare(Op op) = 0;
};

// This library through its C API (CUDA plan, device pointers, the problem's stream). The
// constructor creates the plan; a status of "not available / not supported" becomes Unsupported.
std::unique_ptr<Library> make_bsmm_library(Problem& problem);

enum class CusparseFormat { BLOCKED_ELL, BSR };
// cuSPARSE SpMM with the weight as A (fprop: A = Wᵀ, bprop: A = W); fprop and bprop only.
std::unique_ptr<Library> make_cusparse_spmm(Problem& problem, cusparseHandle_t handle, CusparseFormat format);
// cuSPARSE SDDMM into a BSR matrix on the layout: the weight gradient (updat only).
std::unique_ptr<Library> make_cusparse_sddmm(Problem& problem, cusparseHandle_t handle);

// Library names as they appear in the results.
inline const char* kLibBsmm = "blocksparse";
inline const char* kLibCublas = "cublas-dense";
inline const char* kLibBell = "cusparse-bell";
inline const char* kLibBsr = "cusparse-bsr";
inline const char* kLibSddmm = "cusparse-sddmm-bsr";

}  // namespace bsbench
