// This library as a user calls it: one CUDA plan per problem, the workspace sized by the plan's
// own query, outputs overwritten (alpha = 1, beta = 0), no gates, one (x, dy) pair for updat.
#include <blocksparse/blocksparse.h>

#include <chrono>

#include "libraries.cuh"

namespace bsbench {
namespace {

bs_dtype_t bs_dtype(DType t) {
  switch (t) {
    case DType::BF16: return BS_DTYPE_BF16;
    case DType::F16: return BS_DTYPE_F16;
    default: return BS_DTYPE_F32;
  }
}

// Turns a failed status into an exception: "this build / device cannot" is Unsupported (recorded,
// not an error), anything else is an error of the run.
void check_status(bs_status_t st, const char* what) {
  if (st == BS_STATUS_SUCCESS) return;
  char msg[512];
  bs_get_last_error(msg, sizeof(msg), nullptr);
  const std::string text = std::string(what) + ": " + bs_status_name(st) + ": " + msg;
  if (st == BS_STATUS_BACKEND_UNAVAILABLE || st == BS_STATUS_NOT_SUPPORTED || st == BS_STATUS_ARCH_NOT_SUPPORTED)
    throw Unsupported(text);
  throw std::runtime_error(text);
}

class BsmmLibrary final : public Library {
 public:
  explicit BsmmLibrary(Problem& p) : p_(p) {
    const Shape& s = p.shape();
    bsmm_params_t params;
    check_status(BSMM_PARAMS_INIT(&params), "bsmm_params_init");
    params.backend = BS_BACKEND_CUDA;
    BENCH_CUDA(cudaGetDevice(&params.device));
    params.block_size = s.b;
    params.feature_axis = s.feature_axis;
    params.dtype = bs_dtype(s.prec.dtype);
    params.math_mode = s.prec.tf32 ? BS_MATH_TF32 : BS_MATH_DEFAULT;
    const Layout& L = p.layout();
    const auto t0 = std::chrono::steady_clock::now();
    bsmm_plan_t plan = nullptr;
    check_status(bsmm_create(&plan, &params, L.mask.data(), L.CB, L.KB), "bsmm_create");
    plan_.reset(plan);
    create_s_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }

  const char* name() const override { return kLibBsmm; }
  bool has(Op) const override { return true; }

  OpRun prepare(Op op) override {
    static constexpr bsmm_op_t kOps[] = {BSMM_OP_FPROP, BSMM_OP_BPROP, BSMM_OP_UPDAT};
    size_t bytes = 0;
    check_status(bsmm_get_workspace_size(plan_.get(), kOps[static_cast<int>(op)], p_.shape().N, &bytes),
                 "bsmm_get_workspace_size");
    auto ws = std::make_shared<DeviceBuffer>(bytes);
    const bsmm_plan_t plan = plan_.get();
    Problem* p = &p_;
    const int64_t N = p_.shape().N;
    OpRun run;
    run.setup_s = create_s_;
    run.note = "plan creation " + std::to_string(create_s_ * 1e3) + " ms; workspace " + std::to_string(bytes) + " B";
    switch (op) {
      case Op::FPROP:
        run.enqueue = [=](int s) {
          check_status(bsmm_fprop(plan, N, p->x(s), p->w(s), p->out(op), 1.0f, 0.0f, nullptr, ws->get(), ws->bytes(),
                                  p->stream()), "bsmm_fprop");
        };
        break;
      case Op::BPROP:
        run.enqueue = [=](int s) {
          check_status(bsmm_bprop(plan, N, p->dy(s), p->w(s), p->out(op), 1.0f, 0.0f, nullptr, ws->get(),
                                  ws->bytes(), p->stream()), "bsmm_bprop");
        };
        break;
      case Op::UPDAT:
        run.enqueue = [=](int s) {
          const void* xs[1] = {p->x(s)};
          const void* dys[1] = {p->dy(s)};
          check_status(bsmm_updat(plan, N, 1, xs, dys, p->out(op), 1.0f, 0.0f, nullptr, ws->get(), ws->bytes(),
                                  p->stream()), "bsmm_updat");
        };
        break;
    }
    return run;
  }

 private:
  struct PlanDeleter {
    void operator()(bsmm_plan_t plan) const { bsmm_destroy(plan); }
  };
  Problem& p_;
  std::unique_ptr<bsmm_plan_s, PlanDeleter> plan_;
  double create_s_ = 0;
};

}  // namespace

std::unique_ptr<Library> make_bsmm_library(Problem& problem) { return std::make_unique<BsmmLibrary>(problem); }

}  // namespace bsbench
