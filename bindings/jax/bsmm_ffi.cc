// XLA FFI handlers of the bsmm products for JAX (loaded by bindings/python/blocksparse/jax.py).
//
// Each op has a CPU handler and a CUDA handler (the same code; the CUDA one takes XLA's stream).
// The plan is a bsmm_plan_t made by the Python package and passed as the int64 attribute "plan";
// the workspace is a second result buffer that the caller sizes with bsmm_get_workspace_size, so
// XLA owns every byte and the handlers allocate nothing. A failing status becomes an ffi::Error
// carrying the library's message (read on this thread, right after the call).
#include <blocksparse/blocksparse.h>

#include <cstdint>
#include <string>

#include "xla/ffi/api/ffi.h"

namespace ffi = xla::ffi;

namespace {

enum class Op { kFprop, kBprop, kUpdat };

ffi::Error library_error(bs_status_t st) {
  char msg[1024];
  bs_get_last_error(msg, sizeof msg, nullptr);
  return ffi::Error(ffi::ErrorCode::kInvalidArgument, std::string(bs_status_name(st)) + ": " + msg);
}

int64_t attr(const_bsmm_plan_t plan, bsmm_attr_t a) {
  int64_t v = 0;
  bsmm_get_attr(plan, a, &v);  // cannot fail on a valid plan and attribute
  return v;
}

bool dtype_matches(ffi::DataType t, int64_t plan_dtype) {
  return (t == ffi::DataType::F32 && plan_dtype == BS_DTYPE_F32) ||
         (t == ffi::DataType::F16 && plan_dtype == BS_DTYPE_F16) ||
         (t == ffi::DataType::BF16 && plan_dtype == BS_DTYPE_BF16);
}

// Checks that a buffer has the plan's dtype and the given 2-D or 3-D shape.
ffi::Error check(const char* name, const ffi::AnyBuffer& buf, int64_t plan_dtype, std::initializer_list<int64_t> want) {
  if (!dtype_matches(buf.element_type(), plan_dtype))
    return ffi::Error::InvalidArgument(std::string(name) + " does not have the plan's dtype");
  auto dims = buf.dimensions();
  bool same = dims.size() == want.size();
  size_t i = 0;
  for (int64_t w : want) same = same && dims[i++] == w;
  if (!same) return ffi::Error::InvalidArgument(std::string(name) + " does not have the shape the plan expects");
  return ffi::Error::Success();
}

// One bsmm op. For fprop/bprop: a = input activation, b = w, out = output activation; for updat:
// a = x, b = dy, out = dw. Activations are (N, features) (plans with feature axis 1).
ffi::Error run(Op op, bs_backend_t backend, void* stream, int64_t plan_ptr, ffi::AnyBuffer a, ffi::AnyBuffer b,
               ffi::Result<ffi::AnyBuffer> out, ffi::Result<ffi::AnyBuffer> ws) {
  auto plan = reinterpret_cast<const_bsmm_plan_t>(static_cast<intptr_t>(plan_ptr));
  if (!plan) return ffi::Error::InvalidArgument("plan is NULL");
  // XLA picks the handler by where the arrays live; a plan of the other backend would be handed
  // pointers it cannot read.
  if (attr(plan, BSMM_ATTR_BACKEND) != backend)
    return ffi::Error::InvalidArgument(backend == BS_BACKEND_CUDA ? "a CPU plan was called with GPU arrays"
                                                                  : "a CUDA plan was called with CPU arrays");
  const int64_t C = attr(plan, BSMM_ATTR_C), K = attr(plan, BSMM_ATTR_K), bs = attr(plan, BSMM_ATTR_BLOCK_SIZE);
  const int64_t nnz = attr(plan, BSMM_ATTR_NNZ_BLOCKS), dt = attr(plan, BSMM_ATTR_DTYPE);
  if (attr(plan, BSMM_ATTR_FEATURE_AXIS) != 1) return ffi::Error::InvalidArgument("the plan must have feature_axis 1");
  if (a.dimensions().size() != 2) return ffi::Error::InvalidArgument("activations must be 2-D (N, features)");
  const int64_t N = a.dimensions()[0];
  const int64_t in_f = op == Op::kBprop ? K : C, out_f = op == Op::kBprop ? C : K;
  ffi::Error e = check(op == Op::kBprop ? "dy" : "x", a, dt, {N, in_f});
  if (e.failure()) return e;
  e = op == Op::kUpdat ? check("dy", b, dt, {N, K}) : check("w", b, dt, {nnz, bs, bs});
  if (e.failure()) return e;
  e = op == Op::kUpdat ? check("dw", *out, dt, {nnz, bs, bs}) : check("output", *out, dt, {N, out_f});
  if (e.failure()) return e;

  bs_status_t st;
  if (op == Op::kUpdat) {
    const void* x = a.untyped_data();
    const void* dy = b.untyped_data();
    st = bsmm_updat(plan, N, 1, &x, &dy, out->untyped_data(), 1.0f, 0.0f, nullptr, ws->untyped_data(),
                    ws->size_bytes(), stream);
  } else {
    auto f = op == Op::kFprop ? bsmm_fprop : bsmm_bprop;
    st = f(plan, N, a.untyped_data(), b.untyped_data(), out->untyped_data(), 1.0f, 0.0f, nullptr, ws->untyped_data(),
           ws->size_bytes(), stream);
  }
  return st == BS_STATUS_SUCCESS ? ffi::Error::Success() : library_error(st);
}

template <Op op>
ffi::Error on_cpu(int64_t plan, ffi::AnyBuffer a, ffi::AnyBuffer b, ffi::Result<ffi::AnyBuffer> out,
                  ffi::Result<ffi::AnyBuffer> ws) {
  return run(op, BS_BACKEND_CPU, nullptr, plan, a, b, out, ws);
}

template <Op op>
ffi::Error on_cuda(void* stream, int64_t plan, ffi::AnyBuffer a, ffi::AnyBuffer b, ffi::Result<ffi::AnyBuffer> out,
                   ffi::Result<ffi::AnyBuffer> ws) {
  return run(op, BS_BACKEND_CUDA, stream, plan, a, b, out, ws);
}

}  // namespace

#define BS_JAX_HANDLERS(Name, op)                                                                                \
  XLA_FFI_DEFINE_HANDLER_SYMBOL(BsJax##Name##Cpu, on_cpu<op>,                                                   \
                                ffi::Ffi::Bind()                                                                \
                                    .Attr<int64_t>("plan")                                                      \
                                    .Arg<ffi::AnyBuffer>()                                                      \
                                    .Arg<ffi::AnyBuffer>()                                                      \
                                    .Ret<ffi::AnyBuffer>()                                                      \
                                    .Ret<ffi::AnyBuffer>());                                                    \
  XLA_FFI_DEFINE_HANDLER_SYMBOL(BsJax##Name##Cuda, on_cuda<op>,                                                 \
                                ffi::Ffi::Bind()                                                                \
                                    .Ctx<ffi::PlatformStream<void*>>()                                          \
                                    .Attr<int64_t>("plan")                                                      \
                                    .Arg<ffi::AnyBuffer>()                                                      \
                                    .Arg<ffi::AnyBuffer>()                                                      \
                                    .Ret<ffi::AnyBuffer>()                                                      \
                                    .Ret<ffi::AnyBuffer>());

BS_JAX_HANDLERS(Fprop, Op::kFprop)
BS_JAX_HANDLERS(Bprop, Op::kBprop)
BS_JAX_HANDLERS(Updat, Op::kUpdat)
