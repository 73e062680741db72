// GPU benchmark of bsmm (DESIGN §8): this library's fprop, bprop and updat against dense cuBLAS in
// the same process and the cuSPARSE peers, on balanced random layouts shared by all libraries.
// Every library's output is checked against an exact fp32 cuBLAS product on the masked dense
// weight before it is timed; rows that fail are kept and marked. Usage: --help.
#include <blocksparse/blocksparse.h>

#include <sys/stat.h>

#include <cmath>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "dense_gemm.cuh"
#include "device_ops.cuh"
#include "libraries.cuh"
#include "results.hpp"
#include "sweeps.hpp"

namespace bsbench {
namespace {

// One benchmark run: the device handles, the timer, the output files and the rows so far.
class Bench {
 public:
  explicit Bench(const Options& o) : o_(o) {
    if (o.dry_run) return;  // lists the cases only: no device needed
    BENCH_CUDA(cudaGetDevice(&device_));
    cudaDeviceProp prop{};
    BENCH_CUDA(cudaGetDeviceProperties(&prop, device_));
    gpu_ = prop.name;
    BENCH_CUDA(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
    BENCH_CUBLAS(cublasCreate(&cublas_));
    BENCH_CUBLAS(cublasSetStream(cublas_, stream_));
    BENCH_CUSPARSE(cusparseCreate(&cusparse_));
    BENCH_CUSPARSE(cusparseSetStream(cusparse_, stream_));
    timer_ = std::make_unique<Timer>(o.timing, stream_);
    describe(prop);
    mkdir(o.out_dir.c_str(), 0755);
    mkdir((o.out_dir + "/layouts").c_str(), 0755);
    csv_ = std::make_unique<CsvWriter>(o.out_dir + "/" + o.tag + ".csv", o.append);
  }

  ~Bench() {
    timer_.reset();
    if (cusparse_) cusparseDestroy(cusparse_);
    if (cublas_) cublasDestroy(cublas_);
    if (stream_) cudaStreamDestroy(stream_);
  }

  void run_all() {
    for (const Sweep& s : o_.sweeps)
      for (const Prec& prec : s.precs)
        for (int64_t N : s.Ns)
          for (int64_t C : s.Cs)
            for (int64_t K : (s.Ks.empty() ? std::vector<int64_t>{C} : s.Ks)) {
              if (wants_lib("cublas")) dense(prec, N, C, K);
              for (int b : s.bs)
                for (double d : s.ds) sparse(Shape{prec, N, C, K, b, d, o_.feature_axis});
            }
  }

  void finish() {
    write_markdown(o_.out_dir + "/" + o_.tag + ".md", gpu_, header_, rows_);
    FILE* f = std::fopen((o_.out_dir + "/" + o_.tag + "_meta.txt").c_str(), "w");
    if (f) {
      for (const auto& h : header_) std::fprintf(f, "%s\n", h.c_str());
      std::fclose(f);
    }
    std::printf("wrote %s/%s.{csv,md} and %s_meta.txt (%zu rows)\n", o_.out_dir.c_str(), o_.tag.c_str(),
                o_.tag.c_str(), rows_.size());
  }

 private:
  bool wants_lib(const char* l) const {
    for (const auto& x : o_.libs)
      if (x == l) return true;
    return false;
  }
  bool wants_op(Op op) const {
    for (const auto& x : o_.ops)
      if (x == op_name(op)) return true;
    return false;
  }

  void describe(const cudaDeviceProp& prop) {
    int rt = 0, drv = 0, cublas_v = 0, cusparse_v = 0;
    cudaRuntimeGetVersion(&rt);
    cudaDriverGetVersion(&drv);
    cublasGetVersion(cublas_, &cublas_v);
    cusparseGetVersion(cusparse_, &cusparse_v);
    std::string build = bs_get_build_info();
    for (auto& c : build)
      if (c == '\n') c = ' ';
    char buf[512];
    std::snprintf(buf, sizeof(buf), "GPU: %s (sm_%d%d, %d SMs, %d MB L2, %.0f GB)", prop.name, prop.major, prop.minor,
                  prop.multiProcessorCount, prop.l2CacheSize >> 20, static_cast<double>(prop.totalGlobalMem) / 1e9);
    header_.push_back(buf);
    std::snprintf(buf, sizeof(buf), "CUDA runtime %d, driver %d, cuBLAS %d, cuSPARSE %d", rt, drv, cublas_v,
                  cusparse_v);
    header_.push_back(buf);
    header_.push_back("blocksparse " + std::string(bs_get_version_string()) + ": " + build);
    std::snprintf(buf, sizeof(buf),
                  "Timing: CUDA events per run, median of %d..%d runs (about %.0f ms each measurement) after %d "
                  "warm-ups; L2 %s (%zu MB written before every run); %d input sets rotated",
                  o_.timing.min_runs, o_.timing.max_runs, o_.timing.budget_ms, o_.timing.warmup,
                  o_.timing.flush_l2 ? "flushed" : "NOT flushed", timer_->flush_bytes() >> 20, o_.sets);
    header_.push_back(buf);
    header_.push_back(std::string("Layouts: ") + kLayoutKind +
                      " random (round(d*KB) blocks in every block row and column), the same for every library; "
                      "eff TFLOP/s = 2*N*nnz*b^2/time; x dense = dense cuBLAS time / time (same process, "
                      "same precision); feature_axis " + std::to_string(o_.feature_axis));
    for (const auto& h : header_) std::printf("%s\n", h.c_str());
  }

  void emit(const Row& r) {
    csv_->write(r);
    rows_.push_back(r);
    char timing[96] = "";
    if (r.median_ms > 0)
      std::snprintf(timing, sizeof(timing), "%10.4f ms %8.1f TFLOP/s x%-6.3f", r.median_ms, r.eff_tflops, r.speedup);
    char err[32] = "";
    if (r.rel_err >= 0) std::snprintf(err, sizeof(err), "err %.1e", r.rel_err);
    std::printf("%-9s %-5s N=%-5lld C=%-5lld K=%-5lld b=%-3d d=%-4g %-18s %s %s %s%s%s\n", r.prec.c_str(),
                r.op.c_str(), static_cast<long long>(r.N), static_cast<long long>(r.C), static_cast<long long>(r.K),
                r.b, r.density, r.library.c_str(), timing, err, r.status.c_str(), r.status == "ok" ? "" : ": ",
                r.status == "ok" ? "" : r.note.c_str());
    std::fflush(stdout);
  }

  Row base_row(const Prec& prec, Op op, int64_t N, int64_t C, int64_t K) const {
    Row r;
    r.gpu = gpu_;
    r.prec = prec.label;
    r.op = op_name(op);
    r.N = N;
    r.C = C;
    r.K = K;
    r.feature_axis = o_.feature_axis;
    return r;
  }

  // Dense cuBLAS on the whole (C, K) weight: y = x·W, dx = dy·Wᵀ, dW = xᵀ·dy, random full W.
  void dense(const Prec& prec, int64_t N, int64_t C, int64_t K) {
    const auto key = std::make_tuple(std::string(prec.label), N, C, K);
    if (dense_done_.count(key)) return;
    dense_done_[key] = true;
    if (o_.dry_run) {
      std::printf("dense %s N=%lld C=%lld K=%lld\n", prec.label, static_cast<long long>(N), static_cast<long long>(C),
                  static_cast<long long>(K));
      return;
    }
    const DType t = prec.dtype;
    const size_t es = dtype_bytes(t);
    std::vector<DeviceBuffer> x, dy, w;
    for (int s = 0; s < o_.sets; ++s) {
      x.emplace_back(static_cast<size_t>(N * C) * es);
      dy.emplace_back(static_cast<size_t>(N * K) * es);
      w.emplace_back(static_cast<size_t>(C * K) * es);
      const uint64_t seed = o_.seed * 7919ull + static_cast<uint64_t>(s) * 3ull + 1000000ull;
      fill_uniform(x.back().get(), N * C, t, seed, stream_);
      fill_uniform(dy.back().get(), N * K, t, seed + 1, stream_);
      fill_uniform(w.back().get(), C * K, t, seed + 2, stream_);
    }
    DeviceBuffer y(static_cast<size_t>(N * K) * es), dx(static_cast<size_t>(N * C) * es),
        dw(static_cast<size_t>(C * K) * es);
    const GemmType gt = gemm_type(prec);
    const int fa = o_.feature_axis;
    for (Op op : {Op::FPROP, Op::BPROP, Op::UPDAT}) {
      if (!wants_op(op)) continue;
      Row r = base_row(prec, op, N, C, K);
      r.library = kLibCublas;
      r.layout = "dense";
      r.note = prec.tf32 ? "cublasGemmEx COMPUTE_32F_FAST_TF32" : "cublasGemmEx COMPUTE_32F";
      auto enqueue = [&](int s) {
        const auto si = static_cast<size_t>(s);
        const MatView X = activation(x[si].get(), N, C, fa), DY = activation(dy[si].get(), N, K, fa);
        const MatView W{w[si].get(), C, K, true};
        if (op == Op::FPROP) gemm(cublas_, gt, activation(y.get(), N, K, fa), X, W);
        if (op == Op::BPROP) gemm(cublas_, gt, activation(dx.get(), N, C, fa), DY, W.t());
        if (op == Op::UPDAT) gemm(cublas_, gt, MatView{dw.get(), C, K, true}, X.t(), DY);
      };
      try {
        const Timing tm = timer_->measure(enqueue, o_.sets);
        r.status = "ok";
        r.median_ms = tm.median_ms;
        r.min_ms = tm.min_ms;
        r.max_ms = tm.max_ms;
        r.runs = tm.runs;
        r.eff_tflops = 2.0 * static_cast<double>(N) * static_cast<double>(C) * static_cast<double>(K) /
                       (tm.median_ms * 1e9);
        r.dense_ms = tm.median_ms;
        r.speedup = 1.0;
        dense_ms_[std::make_tuple(std::string(prec.label), static_cast<int>(op), N, C, K)] = tm.median_ms;
      } catch (const std::exception& e) {
        r.status = "error";
        r.note = e.what();
        recover();
      }
      emit(r);
    }
  }

  void sparse(const Shape& shape) {
    const int64_t b = shape.b;
    if (shape.C % b || shape.K % b) {
      std::printf("skip: C=%lld K=%lld not multiples of b=%lld\n", static_cast<long long>(shape.C),
                  static_cast<long long>(shape.K), static_cast<long long>(b));
      return;
    }
    // The same layout for every precision and N of a (C, K, b, d): its seed depends on those only.
    const uint64_t lseed = o_.seed * 1000003ull + static_cast<uint64_t>(shape.C) * 131ull +
                           static_cast<uint64_t>(shape.K) * 17ull + static_cast<uint64_t>(b) * 7ull +
                           static_cast<uint64_t>(std::llround(shape.density * 1e4));
    const Layout layout = balanced_layout(shape.C / b, shape.K / b, shape.density, lseed);
    char name[128];
    std::snprintf(name, sizeof(name), "layouts/C%lld_K%lld_b%d_d%g_s%llu.npy", static_cast<long long>(shape.C),
                  static_cast<long long>(shape.K), shape.b, shape.density, static_cast<unsigned long long>(lseed));
    if (o_.dry_run) {
      std::printf("case %s N=%lld C=%lld K=%lld b=%d d=%g nnz=%lld\n", shape.prec.label,
                  static_cast<long long>(shape.N), static_cast<long long>(shape.C), static_cast<long long>(shape.K),
                  shape.b, shape.density, static_cast<long long>(layout.nnz));
      return;
    }
    write_npy(layout, o_.out_dir + "/" + name);
    Problem problem(shape, layout, o_.sets, lseed ^ 0x5bd1e995ull, cublas_, stream_);

    std::vector<std::unique_ptr<Library>> libs;
    std::string bsmm_unavailable;  // why this library has no plan for the case (recorded per op)
    if (wants_lib("blocksparse")) {
      try {
        libs.push_back(make_bsmm_library(problem));
      } catch (const std::exception& e) {
        bsmm_unavailable = e.what();
      }
    }
    if (wants_lib("bell")) libs.push_back(make_cusparse_spmm(problem, cusparse_, CusparseFormat::BLOCKED_ELL));
    if (wants_lib("bsr")) libs.push_back(make_cusparse_spmm(problem, cusparse_, CusparseFormat::BSR));
    if (wants_lib("sddmm")) libs.push_back(make_cusparse_sddmm(problem, cusparse_));

    for (Op op : {Op::FPROP, Op::BPROP, Op::UPDAT}) {
      if (!wants_op(op)) continue;
      Row base = base_row(shape.prec, op, shape.N, shape.C, shape.K);
      base.b = shape.b;
      base.density = shape.density;
      base.nnz_blocks = layout.nnz;
      base.layout = kLayoutKind;
      base.layout_file = name;
      base.seed = lseed;
      base.tol = tolerance(shape.prec);
      const auto dk = std::make_tuple(std::string(shape.prec.label), static_cast<int>(op), shape.N, shape.C, shape.K);
      if (dense_ms_.count(dk)) base.dense_ms = dense_ms_[dk];
      if (!bsmm_unavailable.empty()) {
        Row r = base;
        r.library = kLibBsmm;
        r.status = bsmm_unavailable.find("BS_STATUS_") != std::string::npos ? "unsupported" : "error";
        r.note = bsmm_unavailable;
        emit(r);
      }
      for (auto& lib : libs)
        if (lib->has(op)) emit(measure(problem, *lib, op, base));
    }
  }

  Row measure(Problem& problem, Library& lib, Op op, Row r) {
    r.library = lib.name();
    try {
      OpRun run = lib.prepare(op);
      r.setup_s = run.setup_s;
      r.note = run.note;
      problem.poison(op, r.library == kLibBsmm);
      run.enqueue(0);
      BENCH_CUDA(cudaStreamSynchronize(stream_));
      r.rel_err = problem.check(op);
      r.status = r.rel_err <= r.tol ? "ok" : "check_failed";
      const Timing tm = timer_->measure(run.enqueue, problem.sets());
      r.median_ms = tm.median_ms;
      r.min_ms = tm.min_ms;
      r.max_ms = tm.max_ms;
      r.runs = tm.runs;
      r.eff_tflops = problem.flops() / (tm.median_ms * 1e9);
      if (r.dense_ms > 0) r.speedup = r.dense_ms / tm.median_ms;
    } catch (const Unsupported& e) {
      r.status = "unsupported";
      r.note = e.what();
      recover();
    } catch (const std::exception& e) {
      r.status = "error";
      r.note = e.what();
      recover();
    }
    return r;
  }

  // After a failed call: clear a non-sticky CUDA error; a sticky one (the context is lost) ends
  // the run, since nothing measured after it could be trusted.
  void recover() {
    cudaGetLastError();  // clears a non-sticky error
    const cudaError_t e = cudaDeviceSynchronize();
    if (e != cudaSuccess) raise(std::string("CUDA context lost: ") + cudaGetErrorString(e), __FILE__, __LINE__);
  }

  const Options& o_;
  int device_ = 0;
  std::string gpu_;
  cudaStream_t stream_ = nullptr;
  cublasHandle_t cublas_ = nullptr;
  cusparseHandle_t cusparse_ = nullptr;
  std::unique_ptr<Timer> timer_;
  std::unique_ptr<CsvWriter> csv_;
  std::vector<std::string> header_;
  std::vector<Row> rows_;
  std::map<std::tuple<std::string, int64_t, int64_t, int64_t>, bool> dense_done_;
  std::map<std::tuple<std::string, int, int64_t, int64_t, int64_t>, double> dense_ms_;
};

}  // namespace
}  // namespace bsbench

int main(int argc, char** argv) {
  using namespace bsbench;
  Options opt;
  try {
    bool help = false;
    opt = parse_options(argc, argv, help);
    if (help) {
      std::printf("%s", usage());
      return 0;
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_bsmm_gpu: %s\n\n%s", e.what(), usage());
    return 2;
  }
  int count = 0;
  if (!opt.dry_run && (cudaGetDeviceCount(&count) != cudaSuccess || count == 0)) {
    std::fprintf(stderr, "bench_bsmm_gpu: no CUDA device; nothing measured\n");
    return 3;
  }
  try {
    Bench bench(opt);
    try {
      bench.run_all();
    } catch (...) {
      if (!opt.dry_run) bench.finish();  // keep what was measured
      throw;
    }
    if (!opt.dry_run) bench.finish();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_bsmm_gpu: fatal: %s\n", e.what());
    return 1;
  }
  return 0;
}
