#include <algorithm>
#include <cmath>

#include "timing.cuh"

namespace bsbench {

Timer::Timer(const TimingOptions& options, cudaStream_t stream) : opt_(options), stream_(stream) {
  int device = 0, l2 = 0;
  BENCH_CUDA(cudaGetDevice(&device));
  BENCH_CUDA(cudaDeviceGetAttribute(&l2, cudaDevAttrL2CacheSize, device));
  // More than 2x the L2 (and at least 256 MiB, as triton's do_bench uses), so nothing of the
  // previous run survives in it.
  flush_ = DeviceBuffer(std::max<size_t>(4 * static_cast<size_t>(l2), size_t(256) << 20));
  events_.resize(2 * static_cast<size_t>(std::max(opt_.max_runs, opt_.warmup) + 1));
  for (auto& e : events_) BENCH_CUDA(cudaEventCreate(&e));
}

Timer::~Timer() {
  for (auto& e : events_) cudaEventDestroy(e);
}

void Timer::flush() {
  if (!opt_.flush_l2) return;
  BENCH_CUDA(cudaMemsetAsync(flush_.get(), static_cast<int>(++flush_value_ & 0xff), flush_.bytes(), stream_));
}

Timing Timer::measure(const std::function<void(int set)>& enqueue, int sets) {
  sets = std::max(sets, 1);
  // One call first, so that one-time costs (module loading, library heuristics) do not inflate
  // the estimate below.
  enqueue(0);
  BENCH_CUDA(cudaStreamSynchronize(stream_));
  // Warm-up, timed as a whole to choose the number of runs (flushes included: an upper bound).
  BENCH_CUDA(cudaEventRecord(events_[0], stream_));
  for (int i = 0; i < opt_.warmup; ++i) {
    flush();
    enqueue(i % sets);
  }
  BENCH_CUDA(cudaEventRecord(events_[1], stream_));
  BENCH_CUDA(cudaEventSynchronize(events_[1]));
  float warm_ms = 0;
  BENCH_CUDA(cudaEventElapsedTime(&warm_ms, events_[0], events_[1]));
  const double est = std::max(1e-3, static_cast<double>(warm_ms) / std::max(opt_.warmup, 1));
  const int runs = std::clamp(static_cast<int>(std::ceil(opt_.budget_ms / est)), opt_.min_runs, opt_.max_runs);

  for (int r = 0; r < runs; ++r) {
    flush();
    BENCH_CUDA(cudaEventRecord(events_[2 * r], stream_));
    enqueue(r % sets);
    BENCH_CUDA(cudaEventRecord(events_[2 * r + 1], stream_));
  }
  BENCH_CUDA(cudaEventSynchronize(events_[2 * runs - 1]));
  std::vector<double> t(static_cast<size_t>(runs));
  for (int r = 0; r < runs; ++r) {
    float ms = 0;
    BENCH_CUDA(cudaEventElapsedTime(&ms, events_[2 * r], events_[2 * r + 1]));
    t[static_cast<size_t>(r)] = ms;
  }
  std::sort(t.begin(), t.end());
  Timing out;
  out.runs = runs;
  out.min_ms = t.front();
  out.max_ms = t.back();
  const size_t h = t.size() / 2;
  out.median_ms = t.size() % 2 ? t[h] : 0.5 * (t[h - 1] + t[h]);
  return out;
}

}  // namespace bsbench
