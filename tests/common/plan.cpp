#include "common/plan.hpp"

#include <sstream>
#include <stdexcept>

namespace bs_test {

const char* backend_name(bs_backend_t backend) {
  switch (backend) {
    case BS_BACKEND_CPU: return "cpu";
    case BS_BACKEND_CUDA: return "cuda";
    default: return "bad_backend";
  }
}

std::string backend_skip_reason(bs_backend_t backend) {
  if (backend == BS_BACKEND_CPU) return "";
#if !defined(BS_WITH_CUDA)
  return "CUDA backend not built (configured without CUDA): CUDA tests skipped";
#else
  int32_t count = 0;
  if (bs_get_device_count(BS_BACKEND_CUDA, &count) != BS_STATUS_SUCCESS)
    return "bs_get_device_count(BS_BACKEND_CUDA) failed: " + last_error();
  if (count == 0) return "no CUDA device visible: CUDA tests skipped";
  return "";
#endif
}

std::string last_error() {
  size_t need = 0;
  bs_get_last_error(nullptr, 0, &need);
  std::string msg(need, '\0');
  bs_get_last_error(msg.data(), msg.size(), nullptr);
  msg.resize(need > 0 ? need - 1 : 0);
  return msg;
}

bsmm_params_t PlanSetup::params() const {
  bsmm_params_t p;
  if (BSMM_PARAMS_INIT(&p) != BS_STATUS_SUCCESS) throw std::runtime_error("bsmm_params_init failed: " + last_error());
  p.backend = backend;
  p.dtype = dtype;
  p.math_mode = math;
  p.feature_axis = feature_axis;
  p.block_size = block_size;
  p.num_threads = num_threads;
  return p;
}

std::string PlanSetup::str() const {
  std::ostringstream os;
  os << backend_name(backend) << " " << dtype_name(dtype) << (math == BS_MATH_TF32 ? "/tf32" : "") << " axis"
     << feature_axis << " b" << block_size;
  if (num_threads) os << " threads" << num_threads;
  return os.str();
}

Plan make_plan(const PlanSetup& setup, const Layout& layout) {
  const bsmm_params_t p = setup.params();
  bsmm_plan_t plan = nullptr;
  const bs_status_t st = bsmm_create(&plan, &p, layout.mask.data(), layout.CB, layout.KB);
  if (st != BS_STATUS_SUCCESS) {
    ADD_FAILURE() << "bsmm_create(" << setup.str() << ", " << layout.str() << ") returned " << bs_status_name(st)
                  << ": " << last_error();
    return nullptr;
  }
  return Plan(plan);
}

TestBuffer make_workspace(const_bsmm_plan_t plan, bs_backend_t backend, bsmm_op_t op, int64_t N) {
  size_t bytes = 0;
  const bs_status_t st = bsmm_get_workspace_size(plan, op, N, &bytes);
  if (st != BS_STATUS_SUCCESS) throw std::runtime_error("bsmm_get_workspace_size failed: " + last_error());
  return TestBuffer(backend, bytes);
}

}  // namespace bs_test
