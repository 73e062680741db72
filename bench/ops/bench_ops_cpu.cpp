// CPU benchmark of layernorm forward and backward against a plain memory pass over the same bytes,
// measured in the same run with the same OpenMP threads: the bar is layernorm within 2x of the pass.
//   forward:  reads x, writes y            vs a parallel copy loop (read n, write n elements)
//   backward: reads dy and x, writes dx    vs a parallel loop c[i] = a[i] ^ b[i] (read 2n, write n)
// (+ dgain/dbias, whose per-thread partials add only K floats per thread.) Each op and its pass are
// timed alternately, `runs` times each (default 11) after 2 warm-ups; buffers far larger than the
// last-level cache. Prints a Markdown table headed by the CPU and thread count, with the ratio of the
// medians and of the fastest runs (on a shared machine other processes only ever add time, so the
// fastest runs are the steadier comparison); a pass row shows the pass timed alongside the op below
// it (fprop, dx). Not a test: nothing here fails.
//
// Usage: bench_ops_cpu [N [K [runs [fp32|bf16|fp16]]]]   (default 8192 x 4096, 11 runs, every dtype)
#include <blocksparse/blocksparse.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

namespace {

int g_runs = 11;

struct Ms {
  double median, min;
};

// The op and its reference pass timed alternately (after 2 warm-ups of each), so both see the same
// conditions on a shared machine: the memory bandwidth a VM gets moves by 2x over seconds.
struct Pair {
  Ms op, pass;
};

Ms summary(std::vector<double> t) {
  std::sort(t.begin(), t.end());
  return {t[t.size() / 2], t[0]};
}

Pair time_pair(const std::function<void()>& op, const std::function<void()>& pass) {
  for (int i = 0; i < 2; ++i) pass(), op();
  std::vector<double> to, tp;
  auto timed = [](const std::function<void()>& f) {
    const auto a = std::chrono::steady_clock::now();
    f();
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - a).count();
  };
  for (int i = 0; i < g_runs; ++i) {
    tp.push_back(timed(pass));
    to.push_back(timed(op));
  }
  return {summary(to), summary(tp)};
}

std::string cpu_name() {
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  return "unknown CPU";
}

// Storage of the element type W (uint32 for fp32, uint16 for bf16 and fp16) filled with finite
// values of roughly unit size (random mantissas, exponents around 1) so no path is flattered by
// zeros. The 16-bit words are the top halves of fp32 values in [-3, -1] u [1, 2]: as fp16 they
// read as finite values of magnitude 1.8 to 2.2.
template <typename W>
std::vector<W> filled(int64_t n, uint32_t seed) {
  std::vector<W> v(static_cast<size_t>(n));
  uint32_t s = seed;
#pragma omp parallel for firstprivate(s)
  for (int64_t i = 0; i < n; ++i) {
    uint32_t h = static_cast<uint32_t>(i) * 2654435761u ^ s;
    h ^= h >> 15;
    h *= 2246822519u;
    const float f = 1.0f + static_cast<float>(h >> 8) * (1.0f / 16777216.0f) * ((h & 1) ? 1.0f : -2.0f);
    uint32_t bits;
    std::memcpy(&bits, &f, 4);
    v[static_cast<size_t>(i)] = static_cast<W>(sizeof(W) == 4 ? bits : bits >> 16);
  }
  return v;
}

template <typename W>
void copy_pass(const W* a, W* y, int64_t n) {
#pragma omp parallel for simd schedule(static)
  for (int64_t i = 0; i < n; ++i) y[i] = a[i];
}

template <typename W>
void xor_pass(const W* a, const W* b, W* y, int64_t n) {
#pragma omp parallel for simd schedule(static)
  for (int64_t i = 0; i < n; ++i) y[i] = static_cast<W>(a[i] ^ b[i]);
}

void row(const char* what, double bytes, Ms ms, Ms pass) {
  std::printf("| %s | %.2f | %.1f | %.2f | %s | %.2f | %.2f |\n", what, ms.median, bytes / (ms.median * 1e-3) / 1e9,
              ms.median / pass.median, ms.median <= 2.0 * pass.median ? "yes" : "NO", ms.min, ms.min / pass.min);
}

template <typename W>
void run(bs_dtype_t dtype, const char* name, int axis, int64_t N, int64_t K) {
  const int64_t n = N * K;
  const auto x = filled<W>(n, 1), dy = filled<W>(n, 2);
  std::vector<W> y(static_cast<size_t>(n)), dx(static_cast<size_t>(n));
  std::vector<float> gain(static_cast<size_t>(K), 1.25f), bias(static_cast<size_t>(K), 0.5f);
  std::vector<float> mean(static_cast<size_t>(N)), rstd(static_cast<size_t>(N));
  std::vector<float> dgain(static_cast<size_t>(K)), dbias(static_cast<size_t>(K));

  layernorm_params_t p;
  LAYERNORM_PARAMS_INIT(&p);
  p.dtype = dtype;
  p.feature_axis = axis;
  p.K = K;
  layernorm_plan_t plan = nullptr;
  size_t wf = 0, wb = 0;
  if (layernorm_create(&plan, &p) != BS_STATUS_SUCCESS ||
      layernorm_get_workspace_size(plan, LAYERNORM_OP_FPROP, N, &wf) != BS_STATUS_SUCCESS ||
      layernorm_get_workspace_size(plan, LAYERNORM_OP_BPROP, N, &wb) != BS_STATUS_SUCCESS) {
    std::printf("layernorm plan failed: %s\n", bs_status_name(bs_get_last_status()));
    std::exit(1);
  }
  std::vector<unsigned char> ws(std::max(wf, wb) + 1);
  bs_status_t st = BS_STATUS_SUCCESS;
  auto copy = [&] { copy_pass(x.data(), y.data(), n); };
  auto pass3 = [&] { xor_pass(dy.data(), x.data(), dx.data(), n); };
  const Pair fwd = time_pair(
      [&] {
        st = std::max(st, layernorm_fprop(plan, N, x.data(), gain.data(), bias.data(), y.data(), mean.data(),
                                          rstd.data(), ws.data(), wf, nullptr));
      },
      copy);
  const Pair bx = time_pair(
      [&] {
        st = std::max(st, layernorm_bprop(plan, N, dy.data(), x.data(), gain.data(), bias.data(), mean.data(),
                                          rstd.data(), dx.data(), nullptr, nullptr, ws.data(), wb, nullptr));
      },
      pass3);
  const Pair bp = time_pair(
      [&] {
        st = std::max(st, layernorm_bprop(plan, N, dy.data(), x.data(), gain.data(), bias.data(), mean.data(),
                                          rstd.data(), dx.data(), dgain.data(), dbias.data(), ws.data(), wb,
                                          nullptr));
      },
      pass3);
  layernorm_destroy(plan);
  if (st != BS_STATUS_SUCCESS) {
    std::printf("layernorm call failed: %s\n", bs_status_name(st));
    std::exit(1);
  }
  const double e = sizeof(W);
  char label[160];
  std::snprintf(label, sizeof label, "copy pass %s (read x, write y)", name);
  row(label, 2 * n * e, fwd.pass, fwd.pass);
  std::snprintf(label, sizeof label, "layernorm fprop %s axis %d", name, axis);
  row(label, 2 * n * e, fwd.op, fwd.pass);
  std::snprintf(label, sizeof label, "3-stream pass %s (read 2, write 1)", name);
  row(label, 3 * n * e, bx.pass, bx.pass);
  std::snprintf(label, sizeof label, "layernorm bprop dx %s axis %d", name, axis);
  row(label, 3 * n * e, bx.op, bx.pass);
  std::snprintf(label, sizeof label, "layernorm bprop dx+dgain+dbias %s axis %d", name, axis);
  row(label, 3 * n * e, bp.op, bp.pass);
}

}  // namespace

int main(int argc, char** argv) {
  const int64_t N = argc > 1 ? std::atoll(argv[1]) : 8192;
  const int64_t K = argc > 2 ? std::atoll(argv[2]) : 4096;
  g_runs = argc > 3 ? std::atoi(argv[3]) : 11;
  const std::string only = argc > 4 ? argv[4] : "";
  if (N < 1 || K < 1 || g_runs < 1 || (!only.empty() && only != "fp32" && only != "bf16" && only != "fp16")) {
    std::printf("usage: bench_ops_cpu [N [K [runs [fp32|bf16|fp16]]]]\n");
    return 1;
  }
  std::printf("# blocksparse CPU layernorm vs a memory pass on %s, %d OpenMP threads\n\n", cpu_name().c_str(),
              omp_get_max_threads());
  std::printf("N = %lld, K = %lld; median of %d runs. ratio = time / time of the pass of the same bytes; "
              "bar: ratio <= 2. min: the fastest run, min ratio: fastest / fastest pass.\n\n",
              static_cast<long long>(N), static_cast<long long>(K), g_runs);
  std::printf("| op | ms | GB/s | ratio | within 2x | min ms | min ratio |\n|---|---|---|---|---|---|---|\n");
  for (int axis : {1, 0}) {
    if (only.empty() || only == "fp32") run<uint32_t>(BS_DTYPE_F32, "fp32", axis, N, K);
    if (only.empty() || only == "bf16") run<uint16_t>(BS_DTYPE_BF16, "bf16", axis, N, K);
    if (only.empty() || only == "fp16") run<uint16_t>(BS_DTYPE_F16, "fp16", axis, N, K);
  }
  return 0;
}
