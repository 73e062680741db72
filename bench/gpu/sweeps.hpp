#pragma once
// What to measure: sweeps (cross products of precisions, shapes, block sizes and densities), the
// presets, and the command line that picks them.
#include <cstdint>
#include <string>
#include <vector>

#include "bench_util.cuh"
#include "timing.cuh"

namespace bsbench {

struct Sweep {
  std::vector<Prec> precs;
  std::vector<int64_t> Ns, Cs, Ks;  // Ks empty: K = C
  std::vector<int> bs;
  std::vector<double> ds;
};

struct Options {
  std::string preset;                 // "" when the shape flags define a single sweep
  std::vector<Sweep> sweeps;
  std::vector<std::string> ops;       // fprop, bprop, updat
  std::vector<std::string> libs;      // blocksparse, cublas, bell, bsr, sddmm
  std::vector<std::string> prec_filter;  // labels; empty = all of the preset
  std::string out_dir = ".";
  std::string tag = "bench_gpu";      // file names: <tag>.csv, <tag>.md, <tag>_meta.txt
  bool append = false;
  bool dry_run = false;
  int feature_axis = 1;
  int sets = 3;
  uint64_t seed = 1;
  TimingOptions timing;
};

// Parses argv; throws std::invalid_argument with a message on bad input. `--help` sets help.
Options parse_options(int argc, char** argv, bool& help);
const char* usage();

// The four precisions, by label ("bf16", "fp16", "fp32-FFMA", "fp32-TF32"; "fp32" and "tf32"
// are accepted as short names).
Prec prec_by_name(const std::string& name);

}  // namespace bsbench
