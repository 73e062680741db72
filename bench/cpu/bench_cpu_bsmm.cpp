// bench_cpu_bsmm: bsmm fprop / bprop / updat on the CPU backend, through the public C API, against
// dense OpenBLAS sgemm of the same shapes on the same number of threads, in the same run.
//
// For each configuration (dtype, feature axis) and density d, on a random layout with exactly
// round(d·CB·KB) blocks: every op is first checked against an sgemm reference on the densified
// weights (a wrong kernel gets no time), then timed: two warm-up rounds, then --reps rounds of one
// call of ours and one dense call, alternating so both see the same load; the median of each.
// The dense baseline is fp32 sgemm in row-major (N, features) form: fprop x·W (N x K x C), bprop
// dy·Wᵀ (N x C x K), updat xᵀ·dy (C x K x N). Output: one Markdown table; the bars (issue
// "Core: the C ABI, bsmm on the CPU backend") apply to fp32, feature_axis 1. Benchmarks never fail
// a build: the exit status is nonzero only when a result is wrong or a call fails.
//
// Usage: bench_cpu_bsmm [--threads T] [--reps R] [--n N] [--c C] [--b b] [--d density] [--min] [--cpu-time] [--quick]
//   T: threads for both libraries (default: all hardware threads); C = K; --d: one density only;
//   --min: fastest run instead of the median; --cpu-time (with --threads 1): CPU time of the
//   calling thread instead of wall time (both for machines shared with other work);
//   --quick: fp32 feature_axis 1 only, 5 reps.
#include <blocksparse/blocksparse.h>
#include <cblas.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <functional>
#include <numeric>
#include <random>
#include <string>
#include <thread>
#include <vector>

// OpenBLAS extensions, declared here because a cblas.h from another BLAS may be found first.
extern "C" void openblas_set_num_threads(int num_threads);
extern "C" char* openblas_get_config(void);

namespace {

struct Options {
  int threads = 0;
  int reps = 11;
  int64_t N = 256, C = 4096, b = 32;
  bool quick = false;
  bool use_min = false;          // report the fastest run instead of the median (busy machines)
  bool cpu_time = false;         // time on the CPU of the calling thread (with --threads 1)
  std::vector<double> densities = {0.1, 0.25, 0.5, 1.0};
};

struct Config {
  bs_dtype_t dtype;
  int32_t axis;
  bool has_bars;
};

// ---- storage types (the bench keeps to the public API, so it converts on its own) ----
uint16_t to_bf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return static_cast<uint16_t>((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);  // finite inputs only
}
float from_bf16(uint16_t h) {
  const uint32_t u = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// A tensor in the plan's storage type and feature axis, with its decoded fp32 row-major
// (rows, cols) view for the reference.
struct Tensor {
  std::vector<uint8_t> bytes;  // storage
  std::vector<float> ref;      // decoded, row-major (rows, cols)
  int64_t rows = 0, cols = 0;
  void* data() { return bytes.data(); }
};

size_t elem_bytes(bs_dtype_t dt) { return dt == BS_DTYPE_F32 ? 4 : 2; }

void store(bs_dtype_t dt, void* base, int64_t i, float v) {
  if (dt == BS_DTYPE_F32) {
    static_cast<float*>(base)[i] = v;
  } else {
    static_cast<uint16_t*>(base)[i] = to_bf16(v);
  }
}
float load(bs_dtype_t dt, const void* base, int64_t i) {
  return dt == BS_DTYPE_F32 ? static_cast<const float*>(base)[i] : from_bf16(static_cast<const uint16_t*>(base)[i]);
}

// Logical (rows, cols) tensor stored transposed when `transposed` (feature_axis 0 activations).
Tensor make_tensor(bs_dtype_t dt, int64_t rows, int64_t cols, bool transposed, std::mt19937_64& rng) {
  Tensor t;
  t.rows = rows;
  t.cols = cols;
  t.bytes.resize(static_cast<size_t>(rows * cols) * elem_bytes(dt));
  t.ref.resize(static_cast<size_t>(rows * cols));
  std::normal_distribution<float> dist(0.0f, 1.0f);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) {
      const int64_t at = transposed ? c * rows + r : r * cols + c;
      store(dt, t.data(), at, dist(rng));
      t.ref[static_cast<size_t>(r * cols + c)] = load(dt, t.data(), at);
    }
  return t;
}

// Decoded fp32 row-major copy of a storage tensor of logical shape (rows, cols).
std::vector<float> decode(bs_dtype_t dt, const void* data, int64_t rows, int64_t cols, bool transposed) {
  std::vector<float> out(static_cast<size_t>(rows * cols));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) out[static_cast<size_t>(r * cols + c)] = load(dt, data, transposed ? c * rows + r : r * cols + c);
  return out;
}

double rel_err(const std::vector<float>& out, const std::vector<float>& ref) {
  double num = 0, den = 0;
  for (size_t i = 0; i < out.size(); ++i) {
    if (!std::isfinite(out[i])) return INFINITY;
    const double d = static_cast<double>(out[i]) - ref[i];
    num += d * d;
    den += static_cast<double>(ref[i]) * ref[i];
  }
  return std::sqrt(num / std::max(den, 1e-300));
}

double now_ms(bool cpu_time) {
  timespec ts{};
  clock_gettime(cpu_time ? CLOCK_THREAD_CPUTIME_ID : CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) * 1e-6;
}

// Let the other library's worker threads stop spinning (OpenBLAS workers spin for a while after
// each call and would take a core from the next timed call).
void settle(int ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

double pick(std::vector<double> t, bool use_min) {
  if (use_min) return *std::min_element(t.begin(), t.end());
  std::nth_element(t.begin(), t.begin() + static_cast<std::ptrdiff_t>(t.size() / 2), t.end());
  return t[t.size() / 2];
}

// Times `ours` and `dense` alternately (so both see the same machine load, which on a shared
// machine drifts), after warm-up calls of each; returns the median (or fastest) of each.
std::pair<double, double> time_pair(const Options& o, const std::function<void()>& ours,
                                    const std::function<void()>& dense) {
  std::vector<double> t_ours, t_dense;
  for (int i = -2; i < o.reps; ++i) {  // two warm-up rounds
    settle(150);
    double t0 = now_ms(o.cpu_time);
    ours();
    const double a = now_ms(o.cpu_time) - t0;
    settle(150);
    t0 = now_ms(o.cpu_time);
    dense();
    const double d = now_ms(o.cpu_time) - t0;
    if (i >= 0) {
      t_ours.push_back(a);
      t_dense.push_back(d);
    }
  }
  return {pick(t_ours, o.use_min), pick(t_dense, o.use_min)};
}

void check(bs_status_t st, const char* what) {
  if (st == BS_STATUS_SUCCESS) return;
  char msg[512] = {0};
  bs_get_last_error(msg, sizeof msg, nullptr);
  std::fprintf(stderr, "%s failed: %s (%s)\n", what, bs_status_name(st), msg);
  std::exit(2);
}

struct Aligned {
  void* p = nullptr;
  explicit Aligned(size_t bytes) : p(std::aligned_alloc(64, std::max<size_t>(64, (bytes + 63) / 64 * 64))) {}
  ~Aligned() { std::free(p); }
  Aligned(const Aligned&) = delete;
  Aligned& operator=(const Aligned&) = delete;
};

// Exactly round(d·CB·KB) blocks (at least one), uniformly at random.
std::vector<uint8_t> random_layout(int64_t CB, int64_t KB, double d, std::mt19937_64& rng) {
  std::vector<uint8_t> lay(static_cast<size_t>(CB * KB), 0);
  const int64_t want = std::max<int64_t>(1, std::llround(d * static_cast<double>(CB * KB)));
  std::vector<int64_t> idx(lay.size());
  std::iota(idx.begin(), idx.end(), 0);
  std::shuffle(idx.begin(), idx.end(), rng);
  for (int64_t i = 0; i < want; ++i) lay[static_cast<size_t>(idx[static_cast<size_t>(i)])] = 1;
  return lay;
}

struct Row {
  const char* op;
  double ms_ours, ms_dense, err;
  bool ok;
};

void print_row(const Config& cfg, double d, const Row& r, int64_t nnz, int64_t b, int64_t N, int& failures) {
  const double speedup = r.ms_dense / r.ms_ours;
  const double gflops = 2.0 * static_cast<double>(N) * static_cast<double>(nnz) * static_cast<double>(b * b) / (r.ms_ours * 1e6);
  double bar = 0;
  if (cfg.has_bars && d == 0.25) bar = std::strcmp(r.op, "updat") == 0 ? 2.0 : 2.5;
  if (cfg.has_bars && d == 1.0) bar = 1.0 / 1.5;
  const char* dt = cfg.dtype == BS_DTYPE_F32 ? "fp32" : "bf16";
  if (!r.ok) {
    std::printf("| %s | %d | %.2f | %s | WRONG (rel err %.2e) | | | | | FAIL |\n", dt, cfg.axis, d, r.op, r.err);
    ++failures;
    return;
  }
  char bar_s[16] = "-", pass_s[8] = "-";
  if (bar > 0) {
    std::snprintf(bar_s, sizeof bar_s, ">= %.2fx", bar);
    std::snprintf(pass_s, sizeof pass_s, "%s", speedup >= bar ? "pass" : "FAIL");
  }
  std::printf("| %s | %d | %.2f | %s | %.2f | %.2f | %.1f | %.2fx | %s | %s |\n", dt, cfg.axis, d, r.op, r.ms_ours,
              r.ms_dense, gflops, speedup, bar_s, pass_s);
}

void run_config(const Options& o, const Config& cfg, double d, std::mt19937_64& rng, int& failures) {
  const int64_t b = o.b, N = o.N, C = o.C, K = o.C, CB = C / b, KB = K / b;
  const bs_dtype_t dt = cfg.dtype;
  const bool tr = cfg.axis == 0;
  const double tol = dt == BS_DTYPE_F32 ? 1e-4 : 2e-2;
  const std::vector<uint8_t> lay = random_layout(CB, KB, d, rng);

  bsmm_params_t params;
  check(BSMM_PARAMS_INIT(&params), "bsmm_params_init");
  params.block_size = static_cast<int32_t>(b);
  params.feature_axis = cfg.axis;
  params.dtype = dt;
  params.num_threads = o.threads;
  bsmm_plan_t plan = nullptr;
  check(bsmm_create(&plan, &params, lay.data(), CB, KB), "bsmm_create");
  int64_t nnz = 0;
  check(bsmm_get_attr(plan, BSMM_ATTR_NNZ_BLOCKS, &nnz), "bsmm_get_attr");

  // Weights and their dense fp32 form (C, K).
  Tensor w = make_tensor(dt, nnz * b, b, false, rng);
  std::vector<float> wd(static_cast<size_t>(C * K), 0.0f);
  for (int64_t i = 0; i < nnz; ++i) {
    int64_t c = 0, k = 0;
    check(bsmm_block_coord(plan, i, &c, &k), "bsmm_block_coord");
    for (int64_t r = 0; r < b; ++r)
      std::memcpy(&wd[static_cast<size_t>((c * b + r) * K + k * b)], &w.ref[static_cast<size_t>((i * b + r) * b)],
                  static_cast<size_t>(b) * sizeof(float));
  }
  Tensor x = make_tensor(dt, N, C, tr, rng), dy = make_tensor(dt, N, K, tr, rng);
  const size_t eb = elem_bytes(dt);
  Aligned y(static_cast<size_t>(N * K) * eb), dx(static_cast<size_t>(N * C) * eb), dw(static_cast<size_t>(nnz * b * b) * eb);
  std::vector<float> ref_y(static_cast<size_t>(N * K)), ref_dx(static_cast<size_t>(N * C)), ref_dw(static_cast<size_t>(C * K));

  size_t ws_f = 0, ws_b = 0, ws_u = 0;
  check(bsmm_get_workspace_size(plan, BSMM_OP_FPROP, N, &ws_f), "workspace size");
  check(bsmm_get_workspace_size(plan, BSMM_OP_BPROP, N, &ws_b), "workspace size");
  check(bsmm_get_workspace_size(plan, BSMM_OP_UPDAT, N, &ws_u), "workspace size");
  Aligned ws(std::max({ws_f, ws_b, ws_u}));
  const void* xp = x.data();
  const void* dyp = dy.data();

  const auto ours_fprop = [&] { check(bsmm_fprop(plan, N, x.data(), w.data(), y.p, 1.0f, 0.0f, nullptr, ws.p, ws_f, nullptr), "bsmm_fprop"); };
  const auto ours_bprop = [&] { check(bsmm_bprop(plan, N, dy.data(), w.data(), dx.p, 1.0f, 0.0f, nullptr, ws.p, ws_b, nullptr), "bsmm_bprop"); };
  const auto ours_updat = [&] { check(bsmm_updat(plan, N, 1, &xp, &dyp, dw.p, 1.0f, 0.0f, nullptr, ws.p, ws_u, nullptr), "bsmm_updat"); };
  const int n = static_cast<int>(N), c = static_cast<int>(C), k = static_cast<int>(K);
  const auto dense_fprop = [&] { cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, k, c, 1.0f, x.ref.data(), c, wd.data(), k, 0.0f, ref_y.data(), k); };
  const auto dense_bprop = [&] { cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, c, k, 1.0f, dy.ref.data(), k, wd.data(), k, 0.0f, ref_dx.data(), c); };
  const auto dense_updat = [&] { cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, c, k, n, 1.0f, x.ref.data(), c, dy.ref.data(), k, 0.0f, ref_dw.data(), k); };

  struct Op {
    const char* name;
    std::function<void()> ours, dense;
    std::function<double()> verify;  // after one call of each, on NaN-poisoned outputs
    void* out;
    size_t out_bytes;
  };
  const Op ops[] = {
      {"fprop", ours_fprop, dense_fprop, [&] { return rel_err(decode(dt, y.p, N, K, tr), ref_y); }, y.p,
       static_cast<size_t>(N * K) * eb},
      {"bprop", ours_bprop, dense_bprop, [&] { return rel_err(decode(dt, dx.p, N, C, tr), ref_dx); }, dx.p,
       static_cast<size_t>(N * C) * eb},
      {"updat", ours_updat, dense_updat,
       [&] {
         // Gather the reference blocks of the layout from the dense (C, K) product.
         std::vector<float> blocks(static_cast<size_t>(nnz * b * b));
         for (int64_t i = 0; i < nnz; ++i) {
           int64_t bc = 0, bk = 0;
           check(bsmm_block_coord(plan, i, &bc, &bk), "bsmm_block_coord");
           for (int64_t r = 0; r < b; ++r)
             std::memcpy(&blocks[static_cast<size_t>((i * b + r) * b)], &ref_dw[static_cast<size_t>((bc * b + r) * K + bk * b)],
                         static_cast<size_t>(b) * sizeof(float));
         }
         return rel_err(decode(dt, dw.p, nnz * b, b, false), blocks);
       },
       dw.p, static_cast<size_t>(nnz * b * b) * eb},
  };
  for (const Op& op : ops) {
    std::memset(op.out, 0xff, op.out_bytes);  // NaN in fp32 and bf16
    op.ours();
    op.dense();
    Row r{op.name, 0, 0, op.verify(), false};
    r.ok = r.err <= tol;
    if (r.ok) {
      const std::pair<double, double> t = time_pair(o, op.ours, op.dense);
      r.ms_ours = t.first;
      r.ms_dense = t.second;
    }
    print_row(cfg, d, r, nnz, b, N, failures);
    std::fflush(stdout);
  }
  bsmm_destroy(plan);
}

int parse_int(const char* s, const char* flag) {
  char* end = nullptr;
  const long v = std::strtol(s, &end, 10);
  if (!s[0] || *end || v < 0 || v > (1L << 30)) {
    std::fprintf(stderr, "bad value for %s: %s\n", flag, s);
    std::exit(2);
  }
  return static_cast<int>(v);
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const bool has_value = i + 1 < argc;
    if (a == "--quick") {
      o.quick = true;
      o.reps = 5;
    } else if (a == "--cpu-time") {
      o.cpu_time = true;
    } else if (a == "--min") {
      o.use_min = true;
    } else if (a == "--d" && has_value) {
      o.densities = {std::atof(argv[++i])};
    } else if (a == "--threads" && has_value) {
      o.threads = parse_int(argv[++i], "--threads");
    } else if (a == "--reps" && has_value) {
      o.reps = std::max(1, parse_int(argv[++i], "--reps"));
    } else if (a == "--n" && has_value) {
      o.N = parse_int(argv[++i], "--n");
    } else if (a == "--c" && has_value) {
      o.C = parse_int(argv[++i], "--c");
    } else if (a == "--b" && has_value) {
      o.b = parse_int(argv[++i], "--b");
    } else {
      std::fprintf(stderr, "usage: %s [--threads T] [--reps R] [--n N] [--c C] [--b b] [--d density] [--min] [--cpu-time] [--quick]\n", argv[0]);
      return 2;
    }
  }
  if (o.N < 1 || o.b < 1 || o.C % o.b != 0) {
    std::fprintf(stderr, "need N >= 1 and C a multiple of b\n");
    return 2;
  }
  if (o.cpu_time && o.threads != 1) {
    std::fprintf(stderr, "--cpu-time measures the calling thread only: use it with --threads 1\n");
    return 2;
  }
  if (o.threads == 0) o.threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  openblas_set_num_threads(o.threads);

  std::printf("# bsmm CPU backend vs dense OpenBLAS sgemm\n\n");
  std::printf("blocksparse %s; %s\nOpenBLAS: %s\nthreads %d (both libraries); C = K = %lld, N = %lld, b = %lld; "
              "%s of %d runs (ours and dense alternating) after 2 warm-up runs; random layouts of exact density\n\n",
              bs_get_version_string(), bs_get_build_info(), openblas_get_config(), o.threads,
              static_cast<long long>(o.C), static_cast<long long>(o.N), static_cast<long long>(o.b), o.use_min ? "fastest" : "median", o.reps);
  if (o.cpu_time) std::printf("times are CPU time of the calling thread\n\n");
  std::printf("| dtype | axis | d | op | ms ours | ms dense | GFLOP/s ours | speedup | bar | pass |\n");
  std::printf("|---|---|---|---|---|---|---|---|---|---|\n");

  std::vector<Config> configs = {{BS_DTYPE_F32, 1, true}};
  if (!o.quick) {
    configs.push_back({BS_DTYPE_F32, 0, false});
    configs.push_back({BS_DTYPE_BF16, 1, false});
  }
  std::mt19937_64 rng(12345);
  int failures = 0;
  for (const Config& cfg : configs)
    for (double d : o.densities) run_config(o, cfg, d, rng, failures);
  std::printf("\nGFLOP/s ours = 2·N·nnz·b² / time. Dense: fp32 row-major sgemm of the full shape (same for every "
              "dtype and axis). bar: speedup over dense that the CPU backend aims at (fp32, feature_axis 1).\n");
  return failures ? 1 : 0;
}
