// CPU benchmark of layernorm forward and backward against a plain memory pass over the same bytes,
// measured in the same run with the same OpenMP threads: the bar is layernorm within 2x of the pass.
//   forward:  reads x, writes y            vs a parallel copy loop (read n, write n elements)
//   backward: reads dy and x, writes dx    vs a parallel loop c[i] = a[i] ^ b[i] (read 2n, write n)
// (+ dgain/dbias, whose per-thread partials add only K floats per thread.) Features first (axis 0)
// needs every row of a column before any output of it, so it reads its inputs twice; its rows are
// also compared with that two-pass schedule run without the arithmetic ("2-pass floor": the same
// whole-row reads, per-column xor sums, then the re-read and the output with the library's
// non-temporal stores), the least time a two-pass design takes on this machine. Each op, its pass
// and its floor are timed alternately, `runs` times each (default 11) after 2 warm-ups; buffers far
// larger than the last-level cache. Prints a Markdown table headed by the CPU and thread count, with
// the ratio of the medians and of the fastest runs (on a shared machine other processes only ever
// add time, so the fastest runs are the steadier comparison); a pass row shows the pass timed
// alongside the op below it (fprop, dx). Not a test: nothing here fails.
//
// Usage: bench_ops_cpu [N [K [runs [fp32|bf16|fp16]]]]   (default 8192 x 4096, 11 runs, every dtype)
#include <blocksparse/blocksparse.h>
#include <omp.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

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

Ms summary(std::vector<double> t) {
  std::sort(t.begin(), t.end());
  return {t[t.size() / 2], t[0]};
}

// The functions timed alternately (after 2 warm-ups of each), so all see the same conditions on a
// shared machine: the memory bandwidth a VM gets moves by 2x over seconds.
std::vector<Ms> time_alternately(const std::vector<std::function<void()>>& fs) {
  for (int i = 0; i < 2; ++i)
    for (const auto& f : fs) f();
  std::vector<std::vector<double>> t(fs.size());
  for (int i = 0; i < g_runs; ++i)
    for (size_t j = 0; j < fs.size(); ++j) {
      const auto a = std::chrono::steady_clock::now();
      fs[j]();
      t[j].push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - a).count());
    }
  std::vector<Ms> out;
  for (auto& v : t) out.push_back(summary(v));
  return out;
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

// One output row y = a ^ b ^ acc (b may be NULL) with non-temporal 16-byte stores where y is
// 16-byte aligned, as the library stores outputs this large; plain stores for the rest.
template <typename W>
void store_row(W* y, const W* a, const W* b, const W* acc, int64_t n) {
  int64_t j = 0;
#if defined(__SSE2__)
  constexpr int64_t L = 16 / sizeof(W);
  if (reinterpret_cast<uintptr_t>(y) % 16 == 0)
    for (; j + L <= n; j += L) {
      auto v = _mm_xor_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(a + j)),
                             _mm_loadu_si128(reinterpret_cast<const __m128i*>(acc + j)));
      if (b) v = _mm_xor_si128(v, _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + j)));
      _mm_stream_si128(reinterpret_cast<__m128i*>(y + j), v);
    }
#endif
  for (; j < n; ++j) y[j] = static_cast<W>(a[j] ^ acc[j] ^ (b ? b[j] : 0));
}

// The features-first schedule without arithmetic, over (K, N) row-major inputs a (and b, or NULL):
// each thread xor-sums the columns of its whole rows, then (after a barrier, as the per-column
// constants need every row) re-reads those rows and writes y. acc holds a row of N per thread.
template <typename W>
void two_pass_floor(const W* a, const W* b, W* y, int64_t K, int64_t N, std::vector<W>& acc) {
#pragma omp parallel
  {
    W* s = acc.data() + static_cast<size_t>(omp_get_thread_num()) * static_cast<size_t>(N);
    std::fill(s, s + N, W{0});
#pragma omp for schedule(static)
    for (int64_t k = 0; k < K; ++k) {
      const W* ar = a + k * N;
      if (b) {
        const W* br = b + k * N;
#pragma omp simd
        for (int64_t j = 0; j < N; ++j) s[j] = static_cast<W>(s[j] ^ ar[j] ^ br[j]);
      } else {
#pragma omp simd
        for (int64_t j = 0; j < N; ++j) s[j] = static_cast<W>(s[j] ^ ar[j]);
      }
    }
#pragma omp for schedule(static)
    for (int64_t k = 0; k < K; ++k) store_row(y + k * N, a + k * N, b ? b + k * N : nullptr, s, N);
#if defined(__SSE2__)
    _mm_sfence();
#endif
  }
}

// A table row: ratios to the pass timed with it and, where `floor` has a time, to the 2-pass floor.
void row(const char* what, double bytes, Ms ms, Ms pass, Ms floor) {
  char vs_floor[32] = "-";
  if (floor.median > 0) std::snprintf(vs_floor, sizeof vs_floor, "%.2f", ms.median / floor.median);
  std::printf("| %s | %.2f | %.1f | %.2f | %s | %.2f | %.2f | %s |\n", what, ms.median, bytes / (ms.median * 1e-3) / 1e9,
              ms.median / pass.median, ms.median <= 2.0 * pass.median ? "yes" : "NO", ms.min, ms.min / pass.min,
              vs_floor);
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
  const bool first = axis == 0;  // features first: also time the two-pass floor
  std::vector<W> acc(first ? static_cast<size_t>(omp_get_max_threads()) * static_cast<size_t>(N) : 0);  // floor's sums
  auto copy = [&] { copy_pass(x.data(), y.data(), n); };
  auto pass3 = [&] { xor_pass(dy.data(), x.data(), dx.data(), n); };
  auto with_floor = [&](std::function<void()> op, std::function<void()> pass, std::function<void()> floor) {
    std::vector<std::function<void()>> fs = {std::move(op), std::move(pass)};
    if (first) fs.push_back(std::move(floor));
    return time_alternately(fs);  // op, pass[, floor]
  };
  const auto fwd = with_floor(
      [&] {
        st = std::max(st, layernorm_fprop(plan, N, x.data(), gain.data(), bias.data(), y.data(), mean.data(),
                                          rstd.data(), ws.data(), wf, nullptr));
      },
      copy, [&] { two_pass_floor<W>(x.data(), nullptr, y.data(), K, N, acc); });
  auto bprop = [&](float* dg, float* db) {
    return [&, dg, db] {
      st = std::max(st, layernorm_bprop(plan, N, dy.data(), x.data(), gain.data(), bias.data(), mean.data(),
                                        rstd.data(), dx.data(), dg, db, ws.data(), wb, nullptr));
    };
  };
  auto floor3 = [&] { two_pass_floor<W>(dy.data(), x.data(), dx.data(), K, N, acc); };
  const auto bx = with_floor(bprop(nullptr, nullptr), pass3, floor3);
  const auto bp = with_floor(bprop(dgain.data(), dbias.data()), pass3, floor3);
  layernorm_destroy(plan);
  if (st != BS_STATUS_SUCCESS) {
    std::printf("layernorm call failed: %s\n", bs_status_name(st));
    std::exit(1);
  }
  const double e = sizeof(W);
  const Ms none{0, 0};
  auto floor_of = [&](const std::vector<Ms>& t) { return first ? t[2] : none; };
  char label[160];
  std::snprintf(label, sizeof label, "copy pass %s (read x, write y)", name);
  row(label, 2 * n * e, fwd[1], fwd[1], none);
  if (first) {
    std::snprintf(label, sizeof label, "2-pass floor %s (read x; read x, write y)", name);
    row(label, 2 * n * e, fwd[2], fwd[1], none);
  }
  std::snprintf(label, sizeof label, "layernorm fprop %s axis %d", name, axis);
  row(label, 2 * n * e, fwd[0], fwd[1], floor_of(fwd));
  std::snprintf(label, sizeof label, "3-stream pass %s (read 2, write 1)", name);
  row(label, 3 * n * e, bx[1], bx[1], none);
  if (first) {
    std::snprintf(label, sizeof label, "2-pass floor %s (read 2; read 2, write 1)", name);
    row(label, 3 * n * e, bx[2], bx[1], none);
  }
  std::snprintf(label, sizeof label, "layernorm bprop dx %s axis %d", name, axis);
  row(label, 3 * n * e, bx[0], bx[1], floor_of(bx));
  std::snprintf(label, sizeof label, "layernorm bprop dx+dgain+dbias %s axis %d", name, axis);
  row(label, 3 * n * e, bp[0], bp[1], floor_of(bp));
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
              "bar: ratio <= 2. min: the fastest run, min ratio: fastest / fastest pass. ratio to 2-pass floor: "
              "median / median of the features-first schedule without arithmetic.\n\n",
              static_cast<long long>(N), static_cast<long long>(K), g_runs);
  std::printf("| op | ms | GB/s | ratio | within 2x | min ms | min ratio | ratio to 2-pass floor |\n"
              "|---|---|---|---|---|---|---|---|\n");
  for (int axis : {1, 0}) {
    if (only.empty() || only == "fp32") run<uint32_t>(BS_DTYPE_F32, "fp32", axis, N, K);
    if (only.empty() || only == "bf16") run<uint16_t>(BS_DTYPE_BF16, "bf16", axis, N, K);
    if (only.empty() || only == "fp16") run<uint16_t>(BS_DTYPE_F16, "fp16", axis, N, K);
  }
  return 0;
}
