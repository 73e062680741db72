// Development harness of the CUDA bsmm backend (not a test suite, not the benchmark): checks every
// option against a float64 host reference through the public C API, then times fprop / bprop /
// updat at the issue's bar shapes against cuBLAS in the same process.
//   bsmm_dev check   -> correctness sweep (exit code 1 on any failure)
//   bsmm_dev time    -> timing table
#include <blocksparse/blocksparse.h>
#include <cublas_v2.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#define CK(x)                                                                                   \
  do {                                                                                          \
    cudaError_t e_ = (x);                                                                       \
    if (e_ != cudaSuccess) {                                                                    \
      std::printf("CUDA error %s at %s:%d\n", cudaGetErrorString(e_), __FILE__, __LINE__);     \
      std::exit(2);                                                                             \
    }                                                                                           \
  } while (0)

static std::mt19937_64 rng(12345);
static int g_fail = 0, g_pass = 0;

static std::string last_err() {
  char buf[512];
  size_t n = 0;
  bs_get_last_error(buf, sizeof buf, &n);
  return buf;
}
#define BS(x)                                                                                     \
  do {                                                                                            \
    bs_status_t s_ = (x);                                                                         \
    if (s_ != BS_STATUS_SUCCESS) {                                                                \
      std::printf("bs error %s: %s at line %d\n", bs_status_name(s_), last_err().c_str(), __LINE__); \
      std::exit(3);                                                                               \
    }                                                                                             \
  } while (0)

// ---- storage conversions (host) ----
static uint16_t f2bits(float f, int dtype) {
  if (dtype == BS_DTYPE_BF16) {
    __nv_bfloat16 h = __float2bfloat16_rn(f);
    uint16_t u;
    std::memcpy(&u, &h, 2);
    return u;
  }
  __half h = __float2half_rn(f);
  uint16_t u;
  std::memcpy(&u, &h, 2);
  return u;
}
static float bits2f(uint16_t u, int dtype) {
  if (dtype == BS_DTYPE_BF16) {
    uint32_t x = uint32_t(u) << 16;
    float f;
    std::memcpy(&f, &x, 4);
    return f;
  }
  __half h;
  std::memcpy(&h, &u, 2);
  return __half2float(h);
}
static size_t esize(int dtype) { return dtype == BS_DTYPE_F32 ? 4 : 2; }

// A host tensor kept as rounded doubles + its storage bytes.
struct Tensor {
  int dtype = 0;
  std::vector<double> v;
  std::vector<uint8_t> raw;
  void set(size_t n, int dt, double scale) {
    dtype = dt;
    v.resize(n);
    raw.resize(n * esize(dt));
    std::uniform_real_distribution<float> u(-1.f, 1.f);
    for (size_t i = 0; i < n; ++i) store(i, float(u(rng) * scale));
  }
  void store(size_t i, float f) {
    if (dtype == BS_DTYPE_F32) {
      std::memcpy(&raw[i * 4], &f, 4);
      v[i] = f;
    } else {
      uint16_t b = f2bits(f, dtype);
      std::memcpy(&raw[i * 2], &b, 2);
      v[i] = bits2f(b, dtype);
    }
  }
  double load_raw(const std::vector<uint8_t>& r, size_t i) const {
    if (dtype == BS_DTYPE_F32) {
      float f;
      std::memcpy(&f, &r[i * 4], 4);
      return f;
    }
    uint16_t b;
    std::memcpy(&b, &r[i * 2], 2);
    return bits2f(b, dtype);
  }
};

// Device buffer with a guard zone after the data, filled with a byte pattern.
struct DevBuf {
  uint8_t* p = nullptr;
  size_t bytes = 0;
  static constexpr size_t kGuard = 256;
  void alloc(size_t n) {
    bytes = n;
    CK(cudaMalloc(&p, n + kGuard));
    std::vector<uint8_t> g(kGuard, 0xA5);
    CK(cudaMemcpy(p + n, g.data(), kGuard, cudaMemcpyHostToDevice));
  }
  void up(const std::vector<uint8_t>& h) { CK(cudaMemcpy(p, h.data(), h.size(), cudaMemcpyHostToDevice)); }
  void poison() { CK(cudaMemset(p, 0xFF, bytes)); }  // NaN for fp32, fp16 and bf16
  std::vector<uint8_t> down() const {
    std::vector<uint8_t> h(bytes);
    CK(cudaMemcpy(h.data(), p, bytes, cudaMemcpyDeviceToHost));
    return h;
  }
  bool guard_ok() const {
    std::vector<uint8_t> g(kGuard);
    CK(cudaMemcpy(g.data(), p + bytes, kGuard, cudaMemcpyDeviceToHost));
    for (auto c : g)
      if (c != 0xA5) return false;
    return true;
  }
  ~DevBuf() {
    if (p) cudaFree(p);
  }
};

static void report(const char* what, const std::string& cfg, const Tensor& like, const std::vector<uint8_t>& got,
                   const std::vector<double>& ref, double tol, bool guard) {
  double num = 0, den = 0;
  bool nan = false;
  for (size_t i = 0; i < ref.size(); ++i) {
    const double g = like.load_raw(got, i);
    if (!std::isfinite(g)) nan = true;
    num += (g - ref[i]) * (g - ref[i]);
    den += ref[i] * ref[i];
  }
  const double rel = std::sqrt(num / std::max(den, 1e-300));
  const bool ok = !nan && rel <= tol && guard;
  if (ok) ++g_pass;
  else ++g_fail;
  if (!ok) std::printf("FAIL %-8s %s rel=%.3g tol=%.1g nan=%d guard=%d\n", what, cfg.c_str(), rel, tol, nan, guard);
}

struct Layout {
  int CB, KB;
  std::vector<uint8_t> m;
};
static Layout random_layout(int CB, int KB, double d, int kind) {
  Layout l{CB, KB, std::vector<uint8_t>(size_t(CB) * KB, 0)};
  std::uniform_real_distribution<double> u(0, 1);
  for (auto& x : l.m) x = u(rng) < d;
  if (kind == 1) {  // empty column 0 and empty row CB-1
    for (int c = 0; c < CB; ++c) l.m[size_t(c) * KB] = 0;
    for (int k = 0; k < KB; ++k) l.m[size_t(CB - 1) * KB + k] = 0;
  } else if (kind == 2) {  // skewed: two dense columns
    for (int c = 0; c < CB; ++c) l.m[size_t(c) * KB + 1] = l.m[size_t(c) * KB + KB - 1] = 1;
  } else if (kind == 3) {
    std::fill(l.m.begin(), l.m.end(), 1);
  } else if (kind == 4) {
    std::fill(l.m.begin(), l.m.end(), 0);
  }
  bool any = false;
  for (auto x : l.m) any = any || x;
  if (!any) l.m[size_t(CB / 2) * KB + KB / 2] = 1;
  return l;
}

// ---------------- correctness ----------------
struct Case {
  int dtype, math, axis, b, CB, KB, N;
  double d;
  int kind;
};

static void run_case(const Case& cs) {
  const int b = cs.b, CB = cs.CB, KB = cs.KB, N = cs.N, dt = cs.dtype;
  const int64_t C = int64_t(CB) * b, K = int64_t(KB) * b;
  Layout L = random_layout(CB, KB, cs.d, cs.kind);
  bsmm_params_t prm;
  BS(BSMM_PARAMS_INIT(&prm));
  prm.backend = BS_BACKEND_CUDA;
  prm.block_size = b;
  prm.feature_axis = cs.axis;
  prm.dtype = dt;
  prm.math_mode = cs.math;
  bsmm_plan_t plan;
  BS(bsmm_create(&plan, &prm, L.m.data(), CB, KB));
  int64_t nnz;
  BS(bsmm_get_attr(plan, BSMM_ATTR_NNZ_BLOCKS, &nnz));
  std::vector<int64_t> bc(nnz), bk(nnz);
  for (int64_t i = 0; i < nnz; ++i) BS(bsmm_block_coord(plan, i, &bc[i], &bk[i]));
  char cfgs[200];
  std::snprintf(cfgs, sizeof cfgs, "dt=%d math=%d axis=%d b=%d CB=%d KB=%d N=%d nnz=%lld kind=%d", dt, cs.math, cs.axis, b,
                CB, KB, N, (long long)nnz, cs.kind);
  const std::string cfg = cfgs;
  const double tol = dt == BS_DTYPE_F32 ? (cs.math == BS_MATH_TF32 ? 2e-3 : 1e-5) : 1e-2;
  auto act = [&](int64_t n, int64_t f, int64_t F) { return cs.axis == 1 ? n * F + f : f * int64_t(N) + n; };

  const int P = 3;
  std::vector<Tensor> x(P), dy(P);
  Tensor w, yold, dxold, dwold;
  for (int p = 0; p < P; ++p) x[p].set(size_t(N) * C, dt, 1.0), dy[p].set(size_t(N) * K, dt, 1.0);
  w.set(size_t(nnz) * b * b, dt, 1.0);
  yold.set(size_t(N) * K, dt, 1.0);
  dxold.set(size_t(N) * C, dt, 1.0);
  dwold.set(size_t(nnz) * b * b, dt, 1.0);
  std::vector<float> gate(nnz);
  std::uniform_real_distribution<float> ug(0.5f, 1.5f);
  for (int64_t i = 0; i < nnz; ++i) gate[i] = (i % 3 == 1) ? 0.0f : ug(rng);

  DevBuf dx_[P], ddy[P], dw, dy_out, ddx, ddw, dgate, ws;
  for (int p = 0; p < P; ++p) dx_[p].alloc(x[p].raw.size()), dx_[p].up(x[p].raw), ddy[p].alloc(dy[p].raw.size()),
      ddy[p].up(dy[p].raw);
  dw.alloc(w.raw.size());
  dw.up(w.raw);
  dy_out.alloc(yold.raw.size());
  ddx.alloc(dxold.raw.size());
  ddw.alloc(dwold.raw.size());
  dgate.alloc(nnz * 4);
  CK(cudaMemcpy(dgate.p, gate.data(), nnz * 4, cudaMemcpyHostToDevice));
  size_t wsb = 0, t;
  for (int op = 0; op < 6; ++op) {
    BS(bsmm_get_workspace_size(plan, bsmm_op_t(op), N, &t));
    wsb = std::max(wsb, t);
  }
  ws.alloc(std::max<size_t>(wsb, 16));
  cudaStream_t st;
  CK(cudaStreamCreate(&st));

  for (int variant = 0; variant < 2; ++variant) {
    const bool gated = variant == 1;
    const float alpha = gated ? 0.75f : 1.0f, beta = gated ? 0.5f : 0.0f;
    const float* g = gated ? reinterpret_cast<float*>(dgate.p) : nullptr;
    auto gv = [&](int64_t i) { return gated ? double(gate[i]) : 1.0; };
    // fprop
    {
      std::vector<double> ref(size_t(N) * K);
      for (int64_t n = 0; n < N; ++n)
        for (int64_t k = 0; k < K; ++k) ref[act(n, k, K)] = beta * yold.v[act(n, k, K)];
      for (int64_t i = 0; i < nnz; ++i) {
        if (gv(i) == 0) continue;
        for (int64_t n = 0; n < N; ++n)
          for (int r = 0; r < b; ++r) {
            const double xv = x[0].v[act(n, bc[i] * b + r, C)] * alpha * gv(i);
            for (int s = 0; s < b; ++s) ref[act(n, bk[i] * b + s, K)] += xv * w.v[(i * b + r) * b + s];
          }
      }
      if (beta != 0) dy_out.up(yold.raw);
      else dy_out.poison();
      BS(bsmm_fprop(plan, N, dx_[0].p, dw.p, dy_out.p, alpha, beta, g, ws.p, wsb, st));
      CK(cudaStreamSynchronize(st));
      report("fprop", cfg + (gated ? " gated" : ""), yold, dy_out.down(), ref, tol, dy_out.guard_ok());
    }
    // bprop
    {
      std::vector<double> ref(size_t(N) * C);
      for (int64_t n = 0; n < N; ++n)
        for (int64_t c = 0; c < C; ++c) ref[act(n, c, C)] = beta * dxold.v[act(n, c, C)];
      for (int64_t i = 0; i < nnz; ++i) {
        if (gv(i) == 0) continue;
        for (int64_t n = 0; n < N; ++n)
          for (int r = 0; r < b; ++r) {
            double acc = 0;
            for (int s = 0; s < b; ++s) acc += dy[0].v[act(n, bk[i] * b + s, K)] * w.v[(i * b + r) * b + s];
            ref[act(n, bc[i] * b + r, C)] += alpha * gv(i) * acc;
          }
      }
      if (beta != 0) ddx.up(dxold.raw);
      else ddx.poison();
      BS(bsmm_bprop(plan, N, ddy[0].p, dw.p, ddx.p, alpha, beta, g, ws.p, wsb, st));
      CK(cudaStreamSynchronize(st));
      report("bprop", cfg + (gated ? " gated" : ""), dxold, ddx.down(), ref, tol, ddx.guard_ok());
    }
    // updat (1 pair plain, 3 pairs gated)
    {
      const int np = gated ? P : 1;
      std::vector<double> ref(size_t(nnz) * b * b);
      for (int64_t i = 0; i < nnz; ++i)
        for (int r = 0; r < b; ++r)
          for (int s = 0; s < b; ++s) {
            double acc = 0;
            if (gv(i) != 0)
              for (int p = 0; p < np; ++p)
                for (int64_t n = 0; n < N; ++n)
                  acc += x[p].v[act(n, bc[i] * b + r, C)] * dy[p].v[act(n, bk[i] * b + s, K)];
            const size_t e = (i * b + r) * b + s;
            ref[e] = alpha * gv(i) * acc + beta * dwold.v[e];
          }
      if (beta != 0) ddw.up(dwold.raw);
      else ddw.poison();
      const void* xs[P] = {dx_[0].p, dx_[1].p, dx_[2].p};
      const void* dys[P] = {ddy[0].p, ddy[1].p, ddy[2].p};
      BS(bsmm_updat(plan, N, np, xs, dys, ddw.p, alpha, beta, g, ws.p, wsb, st));
      CK(cudaStreamSynchronize(st));
      report("updat", cfg + (gated ? " gated pairs=3" : ""), dwold, ddw.down(), ref, tol, ddw.guard_ok());
    }
  }
  // identity init
  {
    std::vector<double> ref(size_t(nnz) * b * b, 0.0);
    for (int64_t i = 0; i < nnz; ++i)
      if (bc[i] % KB == bk[i] % CB)
        for (int r = 0; r < b; ++r) ref[(i * b + r) * b + r] = 0.5;
    ddw.poison();
    BS(bsmm_identity_init(plan, ddw.p, 0.5f, st));
    CK(cudaStreamSynchronize(st));
    report("identity", cfg, w, ddw.down(), ref, 0.0, ddw.guard_ok());
  }
  // l2 normalize with gain, and its gradient
  {
    std::vector<float> gain(K);
    for (auto& q : gain) q = ug(rng);
    DevBuf dgain, ddgain;
    dgain.alloc(K * 4);
    ddgain.alloc(K * 4);
    CK(cudaMemcpy(dgain.p, gain.data(), K * 4, cudaMemcpyHostToDevice));
    std::vector<double> sq(K, 0), uw(K, 0), dwsum(K, 0);
    for (int64_t i = 0; i < nnz; ++i)
      for (int r = 0; r < b; ++r)
        for (int s = 0; s < b; ++s) {
          const int64_t col = bk[i] * b + s;
          const size_t e = (i * b + r) * b + s;
          sq[col] += w.v[e] * w.v[e];
          uw[col] += gain[col] * dwold.v[e] * w.v[e];
          dwsum[col] += dwold.v[e] * w.v[e];
        }
    const float eps = 1e-6f;
    std::vector<double> ref(size_t(nnz) * b * b), refg(size_t(nnz) * b * b), refdg(K);
    for (int64_t col = 0; col < K; ++col) refdg[col] = dwsum[col] / std::sqrt(std::max(sq[col], double(eps)));
    for (int64_t i = 0; i < nnz; ++i)
      for (int r = 0; r < b; ++r)
        for (int s = 0; s < b; ++s) {
          const int64_t col = bk[i] * b + s;
          const size_t e = (i * b + r) * b + s;
          const double sv = std::max(sq[col], double(eps)), inv = 1 / std::sqrt(sv);
          ref[e] = w.v[e] * inv * gain[col];
          refg[e] = (gain[col] * dwold.v[e] - w.v[e] * (sq[col] >= eps) * uw[col] / sv) * inv;
        }
    ddw.poison();
    BS(bsmm_l2_normalize(plan, dw.p, reinterpret_cast<float*>(dgain.p), ddw.p, eps, ws.p, wsb, st));
    CK(cudaStreamSynchronize(st));
    report("l2norm", cfg, w, ddw.down(), ref, dt == BS_DTYPE_F32 ? 1e-5 : 1e-2, ddw.guard_ok());
    ddw.up(dwold.raw);  // in place: dw = dy
    ddgain.poison();
    BS(bsmm_l2_normalize_grad(plan, ddw.p, dw.p, reinterpret_cast<float*>(dgain.p), ddw.p,
                              reinterpret_cast<float*>(ddgain.p), eps, ws.p, wsb, st));
    CK(cudaStreamSynchronize(st));
    report("l2grad", cfg, w, ddw.down(), refg, dt == BS_DTYPE_F32 ? 1e-5 : 1e-2, ddw.guard_ok());
    Tensor f32like;
    f32like.dtype = BS_DTYPE_F32;
    report("l2dgain", cfg, f32like, ddgain.down(), refdg, 1e-5, ddgain.guard_ok());
  }
  // determinism: fprop and updat twice, bitwise
  {
    const void* xs[1] = {dx_[0].p};
    const void* dys[1] = {ddy[0].p};
    BS(bsmm_fprop(plan, N, dx_[0].p, dw.p, dy_out.p, 1.f, 0.f, nullptr, ws.p, wsb, st));
    BS(bsmm_updat(plan, N, 1, xs, dys, ddw.p, 1.f, 0.f, nullptr, ws.p, wsb, st));
    CK(cudaStreamSynchronize(st));
    auto y1 = dy_out.down(), w1 = ddw.down();
    BS(bsmm_fprop(plan, N, dx_[0].p, dw.p, dy_out.p, 1.f, 0.f, nullptr, ws.p, wsb, st));
    BS(bsmm_updat(plan, N, 1, xs, dys, ddw.p, 1.f, 0.f, nullptr, ws.p, wsb, st));
    CK(cudaStreamSynchronize(st));
    const bool same = y1 == dy_out.down() && w1 == ddw.down();
    if (same) ++g_pass;
    else ++g_fail, std::printf("FAIL determinism %s\n", cfg.c_str());
  }
  CK(cudaStreamDestroy(st));
  BS(bsmm_destroy(plan));
}

// Many pairs (> 16) and a split updat, plus API-level device checks and graph capture.
static void run_special() {
  // bad device ordinal, host pointer, misaligned pointer
  bsmm_params_t prm;
  BS(BSMM_PARAMS_INIT(&prm));
  prm.backend = BS_BACKEND_CUDA;
  prm.device = 99;
  uint8_t lay[4] = {1, 0, 1, 1};
  bsmm_plan_t plan = nullptr;
  bs_status_t s = bsmm_create(&plan, &prm, lay, 2, 2);
  if (s == BS_STATUS_INVALID_VALUE) ++g_pass;
  else ++g_fail, std::printf("FAIL device 99 gave %s\n", bs_status_name(s));
  prm.device = 0;
  prm.dtype = BS_DTYPE_BF16;
  BS(bsmm_create(&plan, &prm, lay, 2, 2));
  std::vector<uint8_t> host(1 << 20);
  DevBuf a, bb, c, ws;
  a.alloc(1 << 20), bb.alloc(1 << 20), c.alloc(1 << 20);
  size_t wsb = 0;
  BS(bsmm_get_workspace_size(plan, BSMM_OP_FPROP, 100, &wsb));
  ws.alloc(std::max<size_t>(wsb, 16));
  s = bsmm_fprop(plan, 4, host.data(), bb.p, c.p, 1, 0, nullptr, nullptr, 0, nullptr);
  if (s == BS_STATUS_WRONG_BACKEND) ++g_pass;
  else ++g_fail, std::printf("FAIL host pointer gave %s\n", bs_status_name(s));
  s = bsmm_fprop(plan, 4, a.p + 2, bb.p, c.p, 1, 0, nullptr, nullptr, 0, nullptr);
  if (s == BS_STATUS_MISALIGNED_POINTER) ++g_pass;
  else ++g_fail, std::printf("FAIL misaligned gave %s\n", bs_status_name(s));
  // graph capture of fprop: N = 100 (small-N path, two kernels) and N = 300 (large-N path; on
  // sm_90a the weight transpose, tensor maps encoded on the host, the wgmma kernel): replay equals
  // a direct run
  cudaStream_t st;
  CK(cudaStreamCreateWithFlags(&st, cudaStreamNonBlocking));
  CK(cudaMemset(a.p, 0x3c, 1 << 20));
  CK(cudaMemset(bb.p, 0x3c, 1 << 20));
  CK(cudaDeviceSynchronize());
  for (int64_t n : {100, 300}) {
    BS(bsmm_get_workspace_size(plan, BSMM_OP_FPROP, n, &wsb));
    DevBuf wsn;
    wsn.alloc(std::max<size_t>(wsb, 16));
    BS(bsmm_fprop(plan, n, a.p, bb.p, c.p, 1, 0, nullptr, wsn.p, wsb, st));
    CK(cudaStreamSynchronize(st));
    auto direct = c.down();
    CK(cudaMemset(c.p, 0, 1 << 20));
    cudaGraph_t graph;
    cudaGraphExec_t exec;
    CK(cudaStreamBeginCapture(st, cudaStreamCaptureModeGlobal));
    s = bsmm_fprop(plan, n, a.p, bb.p, c.p, 1, 0, nullptr, wsn.p, wsb, st);
    CK(cudaStreamEndCapture(st, &graph));
    CK(cudaGraphInstantiate(&exec, graph, 0));
    CK(cudaGraphLaunch(exec, st));
    CK(cudaStreamSynchronize(st));
    if (s == BS_STATUS_SUCCESS && c.down() == direct) ++g_pass;
    else ++g_fail, std::printf("FAIL graph capture N = %lld (%s)\n", static_cast<long long>(n), bs_status_name(s));
    cudaGraphExecDestroy(exec);
    cudaGraphDestroy(graph);
  }
  cudaStreamDestroy(st);
  bsmm_destroy(plan);
}

// Many pairs: 20 pairs, N = 2048 (token splits) checked against the reference.
static void run_pairs(int dt, int axis, int b) {
  const int CB = 3, KB = 2, N = 2048, P = 20;
  Layout L = random_layout(CB, KB, 0.7, 0);
  bsmm_params_t prm;
  BS(BSMM_PARAMS_INIT(&prm));
  prm.backend = BS_BACKEND_CUDA;
  prm.block_size = b;
  prm.dtype = dt;
  prm.feature_axis = axis;
  bsmm_plan_t plan;
  BS(bsmm_create(&plan, &prm, L.m.data(), CB, KB));
  int64_t nnz;
  BS(bsmm_get_attr(plan, BSMM_ATTR_NNZ_BLOCKS, &nnz));
  std::vector<int64_t> bc(nnz), bk(nnz);
  for (int64_t i = 0; i < nnz; ++i) BS(bsmm_block_coord(plan, i, &bc[i], &bk[i]));
  const int64_t C = CB * b, K = KB * b;
  auto act = [&](int64_t n, int64_t f, int64_t F) { return axis == 1 ? n * F + f : f * int64_t(N) + n; };
  std::vector<Tensor> x(P), dy(P);
  std::vector<DevBuf> dx(P), ddy(P);
  std::vector<const void*> xs(P), dys(P);
  for (int p = 0; p < P; ++p) {
    x[p].set(size_t(N) * C, dt, 1), dy[p].set(size_t(N) * K, dt, 1);
    dx[p].alloc(x[p].raw.size()), dx[p].up(x[p].raw), ddy[p].alloc(dy[p].raw.size()), ddy[p].up(dy[p].raw);
    xs[p] = dx[p].p, dys[p] = ddy[p].p;
  }
  Tensor dwold;
  dwold.set(size_t(nnz) * b * b, dt, 1);
  std::vector<double> ref(size_t(nnz) * b * b);
  for (int64_t i = 0; i < nnz; ++i)
    for (int r = 0; r < b; ++r)
      for (int s = 0; s < b; ++s) {
        double acc = 0;
        for (int p = 0; p < P; ++p)
          for (int64_t n = 0; n < N; ++n) acc += x[p].v[act(n, bc[i] * b + r, C)] * dy[p].v[act(n, bk[i] * b + s, K)];
        ref[(i * b + r) * b + s] = 0.01 * acc + 2.0 * dwold.v[(i * b + r) * b + s];
      }
  size_t wsb;
  BS(bsmm_get_workspace_size(plan, BSMM_OP_UPDAT, N, &wsb));
  DevBuf ws, ddw;
  ws.alloc(wsb);
  ddw.alloc(dwold.raw.size());
  ddw.up(dwold.raw);
  BS(bsmm_updat(plan, N, P, xs.data(), dys.data(), ddw.p, 0.01f, 2.0f, nullptr, ws.p, wsb, nullptr));
  CK(cudaDeviceSynchronize());
  char cfg[100];
  std::snprintf(cfg, sizeof cfg, "pairs=20 N=2048 dt=%d axis=%d b=%d", dt, axis, b);
  report("updat20", cfg, dwold, ddw.down(), ref, dt == BS_DTYPE_F32 ? 1e-5 : 1e-2, ddw.guard_ok());
  bsmm_destroy(plan);
}

// The small-N path of fprop/bprop (N <= 128, kernels/bsmm/small.hpp): every dtype/math x feature
// axis x block size at N in {1, 17, 64, 100, 128}, on layouts with enough blocks (more than the
// ~4 x SM count chunks the plan aims at) that chunks hold several records and stages at b <= 32,
// kinds 0-2 (random, empty row and column, two dense columns = long lists cut into many chunks);
// then N = 129 (the first N of the tile engine) on the same kind of layout.
static void check_small_n() {
  const int dts[4][2] = {{BS_DTYPE_F32, BS_MATH_DEFAULT}, {BS_DTYPE_F32, BS_MATH_TF32}, {BS_DTYPE_F16, 0}, {BS_DTYPE_BF16, 0}};
  const int Ns[5] = {1, 17, 64, 100, 128};
  int idx = 0;
  for (auto& dm : dts)
    for (int axis = 0; axis < 2; ++axis)
      for (int b : {8, 16, 32, 64, 128}) {
        const int side = b == 8 ? 96 : b == 16 ? 64 : b == 32 ? 36 : b == 64 ? 8 : 4;
        run_case(Case{dm[0], dm[1], axis, b, side, side + 3, Ns[(idx + idx / 5) % 5], 0.5, idx % 3});
        ++idx;
      }
  run_case(Case{BS_DTYPE_BF16, 0, 1, 32, 36, 39, 129, 0.5, 2});
  run_case(Case{BS_DTYPE_F32, 0, 0, 16, 64, 67, 129, 0.5, 0});
}

static int check_all(bool small) {
  const int dts[4][2] = {{BS_DTYPE_F32, BS_MATH_DEFAULT}, {BS_DTYPE_F32, BS_MATH_TF32}, {BS_DTYPE_F16, 0}, {BS_DTYPE_BF16, 0}};
  const int bs_[5] = {8, 16, 32, 64, 128};
  const int Ns[5] = {1, 37, 130, 300, 64};
  int idx = 0;
  for (auto& dm : dts)
    for (int axis = 0; axis < 2; ++axis)
      for (int b : bs_) {
        if (small && b != bs_[(idx / 5 + axis) % 5]) {
          ++idx;
          continue;
        }
        const int scale = b >= 64 ? 1 : 2;
        Case cs{dm[0], dm[1], axis, b, 3 * scale + 1, 4 * scale + 1, Ns[idx % 5], 0.4, idx % 4};
        run_case(cs);
        ++idx;
      }
  if (small) {
    run_pairs(BS_DTYPE_BF16, 1, 32);
    run_special();
    std::printf("CHECK: %d passed, %d failed\n", g_pass, g_fail);
    return g_fail ? 1 : 0;
  }
  // larger N and one-block / full layouts
  run_case(Case{BS_DTYPE_BF16, 0, 1, 32, 9, 11, 1000, 0.3, 0});
  run_case(Case{BS_DTYPE_F16, 0, 0, 64, 3, 5, 517, 0.5, 2});
  run_case(Case{BS_DTYPE_F32, 0, 1, 16, 2, 2, 777, 0.0, 4});
  run_case(Case{BS_DTYPE_BF16, 0, 0, 128, 2, 3, 255, 1.0, 3});
  run_case(Case{BS_DTYPE_F32, BS_MATH_TF32, 0, 8, 17, 3, 129, 0.3, 2});
  check_small_n();
  for (int dt : {BS_DTYPE_F32, BS_DTYPE_BF16})
    for (int axis = 0; axis < 2; ++axis) run_pairs(dt, axis, dt == BS_DTYPE_F32 ? 16 : 64);
  run_special();
  std::printf("CHECK: %d passed, %d failed\n", g_pass, g_fail);
  return g_fail ? 1 : 0;
}

// ---------------- timing ----------------
struct Timer {
  cudaEvent_t a, b;
  Timer() { cudaEventCreate(&a), cudaEventCreate(&b); }
  template <class F>
  double median_ms(F&& f, int reps, void* flush, size_t flush_bytes) {
    for (int i = 0; i < 3; ++i) f();
    std::vector<float> t;
    for (int i = 0; i < reps; ++i) {
      if (flush) CK(cudaMemsetAsync(flush, i, flush_bytes));
      cudaEventRecord(a);
      f();
      cudaEventRecord(b);
      CK(cudaEventSynchronize(b));
      float ms;
      cudaEventElapsedTime(&ms, a, b);
      t.push_back(ms);
    }
    std::sort(t.begin(), t.end());
    return t[t.size() / 2];
  }
};

static void fill_random(void* p, size_t n_elems, int dt) {
  std::vector<uint8_t> h(n_elems * esize(dt));
  Tensor tmp;
  tmp.dtype = dt;
  std::uniform_real_distribution<float> u(-1, 1);
  for (size_t i = 0; i < n_elems; ++i) {
    const float f = u(rng);
    if (dt == BS_DTYPE_F32) std::memcpy(&h[i * 4], &f, 4);
    else {
      uint16_t bb = f2bits(f, dt);
      std::memcpy(&h[i * 2], &bb, 2);
    }
  }
  CK(cudaMemcpy(p, h.data(), h.size(), cudaMemcpyHostToDevice));
}

static void time_shape(cublasHandle_t h, int dt, int math, int64_t N, int64_t C, int64_t K, int b, double d, bool all_ops,
                       void* flush, size_t flush_bytes) {
  const int CB = int(C / b), KB = int(K / b);
  Layout L{CB, KB, std::vector<uint8_t>(size_t(CB) * KB, 0)};
  {  // exactly round(d * CB * KB) random blocks
    std::vector<size_t> idx(L.m.size());
    for (size_t i = 0; i < idx.size(); ++i) idx[i] = i;
    std::shuffle(idx.begin(), idx.end(), rng);
    const size_t nz = std::max<size_t>(1, size_t(std::llround(d * idx.size())));
    for (size_t i = 0; i < nz; ++i) L.m[idx[i]] = 1;
  }
  bsmm_params_t prm;
  BS(BSMM_PARAMS_INIT(&prm));
  prm.backend = BS_BACKEND_CUDA;
  prm.block_size = b;
  prm.dtype = dt;
  prm.math_mode = math;
  bsmm_plan_t plan;
  BS(bsmm_create(&plan, &prm, L.m.data(), CB, KB));
  int64_t nnz;
  BS(bsmm_get_attr(plan, BSMM_ATTR_NNZ_BLOCKS, &nnz));
  const size_t es = esize(dt);
  void *x, *w, *y, *dy, *dx, *dw, *ws;
  size_t wsb = 0;
  for (bsmm_op_t op : {BSMM_OP_FPROP, BSMM_OP_BPROP, BSMM_OP_UPDAT}) {
    size_t t = 0;
    BS(bsmm_get_workspace_size(plan, op, N, &t));
    wsb = std::max(wsb, t);
  }
  CK(cudaMalloc(&x, N * C * es));
  CK(cudaMalloc(&dy, N * K * es));
  CK(cudaMalloc(&y, N * K * es));
  CK(cudaMalloc(&dx, N * C * es));
  CK(cudaMalloc(&w, nnz * b * b * es));
  CK(cudaMalloc(&dw, nnz * b * b * es));
  CK(cudaMalloc(&ws, std::max<size_t>(wsb, 16)));
  fill_random(x, N * C, dt), fill_random(dy, N * K, dt), fill_random(w, nnz * b * b, dt);
  const double flop = 2.0 * N * nnz * b * b;
  Timer tm;
  const int reps = 20;
  const double tf = tm.median_ms([&] { BS(bsmm_fprop(plan, N, x, w, y, 1, 0, nullptr, ws, wsb, nullptr)); }, reps,
                                 flush, flush_bytes);
  double tb = 0, tu = 0;
  if (all_ops) {
    tb = tm.median_ms([&] { BS(bsmm_bprop(plan, N, dy, w, dx, 1, 0, nullptr, ws, wsb, nullptr)); }, reps, flush,
                      flush_bytes);
    const void* xs[1] = {x};
    const void* dys[1] = {dy};
    tu = tm.median_ms([&] { BS(bsmm_updat(plan, N, 1, xs, dys, dw, 1, 0, nullptr, ws, wsb, nullptr)); }, reps, flush,
                      flush_bytes);
  }
  // dense cuBLAS on the same shape: y(N,K) = x(N,C)·W(C,K), row-major == column-major yᵀ = Wᵀ·xᵀ
  void *Wd, *Yd;
  CK(cudaMalloc(&Wd, C * K * es));
  CK(cudaMalloc(&Yd, N * K * es));
  fill_random(Wd, C * K, dt);
  const float one = 1, zero = 0;
  const cudaDataType ty = dt == BS_DTYPE_F32 ? CUDA_R_32F : (dt == BS_DTYPE_F16 ? CUDA_R_16F : CUDA_R_16BF);
  const cublasComputeType_t ct =
      dt == BS_DTYPE_F32 ? (math == BS_MATH_TF32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F_PEDANTIC)
                         : CUBLAS_COMPUTE_32F;
  const double td = tm.median_ms(
      [&] {
        cublasGemmEx(h, CUBLAS_OP_N, CUBLAS_OP_N, int(K), int(N), int(C), &one, Wd, ty, int(K), x, ty, int(C), &zero, Yd,
                     ty, int(K), ct, CUBLAS_GEMM_DEFAULT);
      },
      reps, flush, flush_bytes);
  // memory floor: x + y + W once
  const double bytes = double(N * C + N * K + nnz * b * b) * es;
  std::printf("%-5s %-5s N=%-5lld C=K=%-5lld b=%-3d d=%.2f | fprop %8.1f us %6.1f TF | bprop %8.1f us %6.1f TF | "
              "updat %8.1f us %6.1f TF | dense %8.1f us %6.1f TF | floor(bytes) %6.1f us\n",
              dt == BS_DTYPE_F32 ? (math ? "tf32" : "fp32") : (dt == BS_DTYPE_F16 ? "fp16" : "bf16"), "", (long long)N,
              (long long)C, b, d, tf * 1e3, flop / tf / 1e9, tb * 1e3, tb > 0 ? flop / tb / 1e9 : 0, tu * 1e3,
              tu > 0 ? flop / tu / 1e9 : 0, td * 1e3, 2.0 * N * C * K / td / 1e9, bytes / 3.0e12 * 1e6);
  cudaFree(x), cudaFree(dy), cudaFree(y), cudaFree(dx), cudaFree(w), cudaFree(dw), cudaFree(ws), cudaFree(Wd),
      cudaFree(Yd);
  bsmm_destroy(plan);
}

static int time_all(const char* which) {
  cublasHandle_t h;
  cublasCreate(&h);
  cudaDeviceProp prop;
  CK(cudaGetDeviceProperties(&prop, 0));
  std::printf("device: %s (%d SMs, L2 %d MB)\n", prop.name, prop.multiProcessorCount, prop.l2CacheSize >> 20);
  const size_t flush_bytes = size_t(prop.l2CacheSize) * 2;
  void* flush;
  CK(cudaMalloc(&flush, flush_bytes));
  const bool quick = which && std::string(which) == "quick";
  if (which && std::string(which) == "small") {  // the small-N path around the README shape
    for (int dt : {BS_DTYPE_BF16, BS_DTYPE_F32})
      for (int64_t N : {1, 16, 64, 128, 129})
        time_shape(h, dt, 0, N, 4096, 4096, 32, 0.5, true, flush, flush_bytes);
    for (int b : {8, 16, 64, 128}) time_shape(h, BS_DTYPE_BF16, 0, 64, 4096, 4096, b, 0.5, true, flush, flush_bytes);
    time_shape(h, BS_DTYPE_F16, 0, 64, 8192, 8192, 32, 0.1, true, flush, flush_bytes);
    cudaFree(flush);
    cublasDestroy(h);
    return 0;
  }
  for (int b : {32, 64})
    for (double d : {0.1, 0.25, 0.5}) {
      if (quick && d != 0.25) continue;
      time_shape(h, BS_DTYPE_BF16, 0, 8192, 8192, 8192, b, d, true, flush, flush_bytes);
    }
  time_shape(h, BS_DTYPE_F16, 0, 8192, 8192, 8192, 64, 0.25, true, flush, flush_bytes);
  time_shape(h, BS_DTYPE_F32, 0, 8192, 8192, 8192, 32, 0.25, true, flush, flush_bytes);
  time_shape(h, BS_DTYPE_F32, BS_MATH_TF32, 8192, 8192, 8192, 32, 0.25, false, flush, flush_bytes);
  time_shape(h, BS_DTYPE_BF16, 0, 64, 4096, 4096, 32, 0.5, true, flush, flush_bytes);
  time_shape(h, BS_DTYPE_F32, 0, 64, 4096, 4096, 32, 0.5, true, flush, flush_bytes);
  time_shape(h, BS_DTYPE_BF16, 0, 8192, 8192, 8192, 128, 0.25, true, flush, flush_bytes);
  time_shape(h, BS_DTYPE_BF16, 0, 8192, 8192, 8192, 16, 0.25, true, flush, flush_bytes);
  cudaFree(flush);
  cublasDestroy(h);
  return 0;
}

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "check";
  if (mode == "check") return check_all(false);
  if (mode == "check-small") return check_all(true);
  if (mode == "check-smalln") {
    check_small_n();
    std::printf("CHECK: %d passed, %d failed\n", g_pass, g_fail);
    return g_fail ? 1 : 0;
  }
  if (mode == "time") return time_all(argc > 2 ? argv[2] : nullptr);
  if (mode == "prof") {  // one bf16 fprop, bprop and updat for a profiler: prof [N C b d] (default 8192 8192 64 0.25)
    const int64_t N = argc > 2 ? std::atoll(argv[2]) : 8192, C = argc > 3 ? std::atoll(argv[3]) : 8192;
    const int64_t b = argc > 4 ? std::atoll(argv[4]) : 64;
    const double d = argc > 5 ? std::atof(argv[5]) : 0.25;
    Layout L{int(C / b), int(C / b), std::vector<uint8_t>(size_t(C / b) * (C / b), 0)};
    for (auto& v : L.m) v = (rng() % 1000000) < d * 1000000;
    bsmm_params_t prm;
    BS(BSMM_PARAMS_INIT(&prm));
    prm.backend = BS_BACKEND_CUDA;
    prm.block_size = int(b);
    prm.dtype = BS_DTYPE_BF16;
    bsmm_plan_t plan;
    BS(bsmm_create(&plan, &prm, L.m.data(), L.CB, L.KB));
    int64_t nnz;
    BS(bsmm_get_attr(plan, BSMM_ATTR_NNZ_BLOCKS, &nnz));
    size_t wsb = 0;
    for (bsmm_op_t op : {BSMM_OP_FPROP, BSMM_OP_BPROP, BSMM_OP_UPDAT}) {
      size_t t = 0;
      BS(bsmm_get_workspace_size(plan, op, N, &t));
      wsb = std::max(wsb, t);
    }
    void *x, *y, *w, *dw, *ws;
    CK(cudaMalloc(&x, N * C * 2));
    CK(cudaMalloc(&y, N * C * 2));
    CK(cudaMalloc(&w, nnz * b * b * 2));
    CK(cudaMalloc(&dw, nnz * b * b * 2));
    CK(cudaMalloc(&ws, wsb));
    fill_random(x, N * C, BS_DTYPE_BF16), fill_random(y, N * C, BS_DTYPE_BF16), fill_random(w, nnz * b * b, BS_DTYPE_BF16);
    BS(bsmm_fprop(plan, N, x, w, y, 1, 0, nullptr, ws, wsb, nullptr));
    BS(bsmm_bprop(plan, N, y, w, x, 1, 0, nullptr, ws, wsb, nullptr));
    const void* xs[1] = {x};
    const void* dys[1] = {y};
    BS(bsmm_updat(plan, N, 1, xs, dys, dw, 1, 0, nullptr, ws, wsb, nullptr));
    CK(cudaDeviceSynchronize());
    return 0;
  }
  std::printf("usage: bsmm_dev check|check-small|check-smalln|time [quick|small]|prof [N C b d]\n");
  return 2;
}
