#pragma once
// The timing method of every measurement in this benchmark (DESIGN §8): warm-up, then many runs
// each timed by its own pair of CUDA events, the L2 flushed before every run by writing a buffer
// larger than twice the L2, input sets rotated run by run, and the median reported.
#include <functional>
#include <vector>

#include "bench_util.cuh"

namespace bsbench {

struct TimingOptions {
  int warmup = 5;           // untimed runs first (also estimate the run time)
  int min_runs = 10;        // timed runs at least...
  int max_runs = 200;       // ...and at most
  double budget_ms = 300;   // runs = budget / estimated run time, within [min_runs, max_runs]
  bool flush_l2 = true;     // false only to see what a warm L2 would flatter
};

struct Timing {
  double median_ms = 0, min_ms = 0, max_ms = 0;
  int runs = 0;
};

class Timer {
 public:
  Timer(const TimingOptions& options, cudaStream_t stream);
  ~Timer();
  Timer(const Timer&) = delete;
  Timer& operator=(const Timer&) = delete;

  // Times `enqueue(set)`, which must enqueue one run on the timer's stream using input set `set`
  // (0 .. sets-1, rotated) and throw on failure.
  Timing measure(const std::function<void(int set)>& enqueue, int sets);

  size_t flush_bytes() const { return flush_.bytes(); }

 private:
  void flush();
  TimingOptions opt_;
  cudaStream_t stream_;
  DeviceBuffer flush_;
  std::vector<cudaEvent_t> events_;  // 2 per run
  unsigned flush_value_ = 0;
};

}  // namespace bsbench
