// extern "C" entry points of bs_sparse_proj.h.
#include <blocksparse/bs_sparse_proj.h>

#include <cstddef>
#include <memory>
#include <vector>

#include "ops/ops_api_util.hpp"

using namespace bs;
using namespace bs::ops;

// The object behind bs_sparse_proj_plan_t: the index map (proj → hidden) and its inverse
// (hidden → proj, -1 where unmapped), both in the backend's memory.
struct bs_sparse_proj_plan_s {
  int32_t backend = BS_BACKEND_CPU, device = 0, dtype = BS_DTYPE_F32, feature_axis = 0;
  int64_t nhidden = 0, nproj = 0;
  const OpsBackend* be = nullptr;
  int64_t* gather_map = nullptr;   // nproj entries
  int64_t* scatter_map = nullptr;  // nhidden entries
  ~bs_sparse_proj_plan_s() {
    if (be) {
      be->release(gather_map, device);
      be->release(scatter_map, device);
    }
  }
};

namespace {

constexpr size_t kParamsV1Size = offsetof(bs_sparse_proj_params_t, nproj) + sizeof(int64_t);

const bs_sparse_proj_plan_s& plan_ref(const_bs_sparse_proj_plan_t plan) {
  check_not_null(plan, "plan");
  return *plan;
}

// Common checks of an execute call; returns false when N = 0 (nothing to do).
bool begin(const bs_sparse_proj_plan_s& p, int64_t N) {
  check_size(N, "N");
  checked_elements(N, p.nhidden, p.dtype, "N*nhidden");
  return N > 0;
}

void run(const bs_sparse_proj_plan_s& p, ProjMode mode, bool to_hidden, int64_t N, const void* a, const void* b,
         void* out, bs_stream_t stream) {
  ProjArgs args;
  args.mode = mode;
  args.device = p.device;
  args.dtype = p.dtype;
  args.feature_axis = p.feature_axis;
  args.N = N;
  args.out_features = to_hidden ? p.nhidden : p.nproj;
  args.in_features = to_hidden ? p.nproj : p.nhidden;  // features of the mapped operand(s)
  args.map = to_hidden ? p.scatter_map : p.gather_map;
  args.a = a;
  args.b = b;
  args.out = out;
  args.stream = stream;
  p.be->sparse_proj(args);
}

}  // namespace

extern "C" {

BS_API bs_status_t bs_sparse_proj_params_init(bs_sparse_proj_params_t* params, size_t struct_size) {
  return translate(__func__, [&] {
    check_not_null(params, "params");
    if (struct_size < kParamsV1Size || struct_size > sizeof(bs_sparse_proj_params_t))
      fail(BS_STATUS_STRUCT_SIZE_MISMATCH, "struct_size is ", struct_size, "; this library accepts ", kParamsV1Size,
           "..", sizeof(bs_sparse_proj_params_t));
    bs_sparse_proj_params_t d{};
    d.struct_size = static_cast<uint32_t>(struct_size);
    d.backend = BS_BACKEND_CPU;
    d.dtype = BS_DTYPE_F32;
    d.feature_axis = 0;
    std::memcpy(params, &d, struct_size);
  });
}

BS_API bs_status_t bs_sparse_proj_create(bs_sparse_proj_plan_t* plan, const bs_sparse_proj_params_t* params,
                                         const int64_t* lut) {
  return translate(__func__, [&] {
    check_not_null(plan, "plan");
    const bs_sparse_proj_params_t p = read_params(params, kParamsV1Size, "params");
    check_enum(p.backend, BS_BACKEND_CPU, BS_BACKEND_CUDA, "params->backend", "bs_backend_t");
    check_dtype(p.dtype, "params->dtype");
    if (p.feature_axis != 0 && p.feature_axis != 1)
      fail(BS_STATUS_INVALID_VALUE, "params->feature_axis must be 0 or 1 (got ", p.feature_axis, ")");
    if (p.device < 0) fail(BS_STATUS_INVALID_VALUE, "params->device must be >= 0 (got ", p.device, ")");
    if (p.nhidden < 1) fail(BS_STATUS_INVALID_VALUE, "params->nhidden must be >= 1 (got ", p.nhidden, ")");
    if (p.nproj < 1 || p.nproj > p.nhidden)
      fail(BS_STATUS_INVALID_VALUE, "params->nproj must be in 1..nhidden = ", p.nhidden, " (got ", p.nproj, ")");
    checked_bytes(p.nhidden, 8, "nhidden");
    check_not_null(lut, "lut");
    std::vector<int64_t> inverse(static_cast<size_t>(p.nhidden), -1);
    for (int64_t j = 0; j < p.nproj; ++j) {
      const int64_t h = lut[j];
      if (h < 0 || h >= p.nhidden)
        fail(BS_STATUS_INVALID_VALUE, "lut[", j, "] = ", h, " is outside [0, nhidden = ", p.nhidden, ")");
      if (inverse[static_cast<size_t>(h)] >= 0)
        fail(BS_STATUS_INVALID_VALUE, "lut[", j, "] = ", h, " repeats lut[", inverse[static_cast<size_t>(h)],
             "] (the map must be one-to-one)");
      inverse[static_cast<size_t>(h)] = j;
    }
    const OpsBackend& be = ops_backend(p.backend);
    be.check_device(p.device);
    auto out = std::make_unique<bs_sparse_proj_plan_s>();
    out->backend = p.backend;
    out->device = p.device;
    out->dtype = p.dtype;
    out->feature_axis = p.feature_axis;
    out->nhidden = p.nhidden;
    out->nproj = p.nproj;
    out->be = &be;
    out->gather_map = static_cast<int64_t*>(be.upload(lut, static_cast<size_t>(p.nproj) * 8, p.device));
    out->scatter_map = static_cast<int64_t*>(be.upload(inverse.data(), inverse.size() * 8, p.device));
    *plan = out.release();
  });
}

BS_API bs_status_t bs_sparse_proj_destroy(bs_sparse_proj_plan_t plan) {
  return translate(__func__, [&] { delete plan; });
}

BS_API bs_status_t bs_sparse_proj_gather(const_bs_sparse_proj_plan_t plan, int64_t N, const void* x, void* y,
                                         bs_stream_t stream) {
  return translate(__func__, [&] {
    const bs_sparse_proj_plan_s& p = plan_ref(plan);
    if (!begin(p, N)) return;
    const CallTarget t(*p.be, p.device);
    t.tensor(x, p.dtype, "x");
    t.tensor(y, p.dtype, "y");
    run(p, ProjMode::kCopy, false, N, nullptr, x, y, stream);
  });
}

BS_API bs_status_t bs_sparse_proj_scatter(const_bs_sparse_proj_plan_t plan, int64_t N, const void* x, void* y,
                                          bs_stream_t stream) {
  return translate(__func__, [&] {
    const bs_sparse_proj_plan_s& p = plan_ref(plan);
    if (!begin(p, N)) return;
    const CallTarget t(*p.be, p.device);
    t.tensor(x, p.dtype, "x");
    t.tensor(y, p.dtype, "y");
    run(p, ProjMode::kCopy, true, N, nullptr, x, y, stream);
  });
}

static bs_status_t scatter_op(const char* fn, ProjMode mode, const_bs_sparse_proj_plan_t plan, int64_t N,
                              const void* x, const void* y, void* z, bs_stream_t stream) {
  return translate(fn, [&] {
    const bs_sparse_proj_plan_s& p = plan_ref(plan);
    if (!begin(p, N)) return;
    const CallTarget t(*p.be, p.device);
    t.tensor(x, p.dtype, "x");
    t.tensor(y, p.dtype, "y");
    t.tensor(z, p.dtype, "z");
    run(p, mode, true, N, x, y, z, stream);
  });
}

BS_API bs_status_t bs_sparse_proj_scatter_add(const_bs_sparse_proj_plan_t plan, int64_t N, const void* x,
                                              const void* y, void* z, bs_stream_t stream) {
  return scatter_op(__func__, ProjMode::kAdd, plan, N, x, y, z, stream);
}

BS_API bs_status_t bs_sparse_proj_scatter_mul(const_bs_sparse_proj_plan_t plan, int64_t N, const void* x,
                                              const void* y, void* z, bs_stream_t stream) {
  return scatter_op(__func__, ProjMode::kMul, plan, N, x, y, z, stream);
}

BS_API bs_status_t bs_sparse_proj_scatter_add_grad(const_bs_sparse_proj_plan_t plan, int64_t N, const void* dz,
                                                   void* dx, void* dy, bs_stream_t stream) {
  return translate(__func__, [&] {
    const bs_sparse_proj_plan_s& p = plan_ref(plan);
    if (!begin(p, N)) return;
    const CallTarget t(*p.be, p.device);
    t.tensor(dz, p.dtype, "dz");
    t.optional_tensor(dx, p.dtype, "dx");
    t.optional_tensor(dy, p.dtype, "dy");
    // dy first: dx may alias dz.
    if (dy) run(p, ProjMode::kCopy, false, N, nullptr, dz, dy, stream);
    // dx = dz: kAdd without a map (no partner anywhere) is a copy.
    if (dx && dx != dz) {
      ProjArgs copy;
      copy.mode = ProjMode::kAdd;
      copy.device = p.device;
      copy.dtype = p.dtype;
      copy.feature_axis = p.feature_axis;
      copy.N = N;
      copy.out_features = p.nhidden;
      copy.in_features = p.nproj;
      copy.map = nullptr;
      copy.a = dz;
      copy.out = dx;
      copy.stream = stream;
      p.be->sparse_proj(copy);
    }
  });
}

BS_API bs_status_t bs_sparse_proj_scatter_mul_grad(const_bs_sparse_proj_plan_t plan, int64_t N, const void* dz,
                                                   const void* x, const void* y, void* dx, void* dy,
                                                   bs_stream_t stream) {
  return translate(__func__, [&] {
    const bs_sparse_proj_plan_s& p = plan_ref(plan);
    if (!begin(p, N)) return;
    const CallTarget t(*p.be, p.device);
    t.tensor(dz, p.dtype, "dz");
    t.tensor(x, p.dtype, "x");
    t.tensor(y, p.dtype, "y");
    t.optional_tensor(dx, p.dtype, "dx");
    t.optional_tensor(dy, p.dtype, "dy");
    // dy first: dx may alias dz.
    if (dy) run(p, ProjMode::kGatherMul, false, N, dz, x, dy, stream);
    if (dx) run(p, ProjMode::kMul, true, N, dz, y, dx, stream);
  });
}

}  // extern "C"
