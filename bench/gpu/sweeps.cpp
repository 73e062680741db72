#include "sweeps.hpp"

#include <cstdlib>
#include <sstream>
#include <stdexcept>

namespace bsbench {

namespace {

const Prec kBF16{DType::BF16, false, "bf16"};
const Prec kF16{DType::F16, false, "fp16"};
const Prec kFFMA{DType::F32, false, "fp32-FFMA"};
const Prec kTF32{DType::F32, true, "fp32-TF32"};

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ','))
    if (!item.empty()) out.push_back(item);
  if (out.empty()) throw std::invalid_argument("empty list");
  return out;
}

template <typename T>
std::vector<T> parse_list(const std::string& s, const char* flag) {
  std::vector<T> out;
  for (const auto& item : split(s)) {
    char* end = nullptr;
    const double v = std::strtod(item.c_str(), &end);
    if (*end != '\0' || !(v > 0)) throw std::invalid_argument(std::string(flag) + ": bad value '" + item + "'");
    out.push_back(static_cast<T>(v));
  }
  return out;
}

// DESIGN §8 and the lead's bar: see usage().
std::vector<Sweep> preset(const std::string& name) {
  if (name == "bar")
    return {
        {{kBF16}, {8192}, {8192}, {}, {32, 64}, {0.1, 0.25, 0.5}},
        {{kFFMA, kTF32}, {8192}, {8192}, {}, {32}, {0.25}},
        {{kBF16, kFFMA}, {64}, {4096}, {}, {32}, {0.5}},  // the original README's shape
    };
  if (name == "full")
    return {{{kBF16, kF16, kFFMA, kTF32}, {64, 512, 8192}, {4096, 8192}, {}, {16, 32, 64, 128},
             {0.05, 0.1, 0.25, 0.5, 1.0}}};
  if (name == "smoke")
    return {
        {{kBF16}, {4096}, {4096}, {}, {32, 64}, {0.25, 0.5}},
        {{kFFMA, kTF32}, {2048}, {2048}, {}, {32}, {0.25}},
        {{kBF16}, {64}, {4096}, {}, {32}, {0.5}},
    };
  throw std::invalid_argument("unknown preset '" + name + "' (bar, full, smoke)");
}

}  // namespace

Prec prec_by_name(const std::string& n) {
  if (n == "bf16") return kBF16;
  if (n == "fp16") return kF16;
  if (n == "fp32" || n == "fp32-FFMA" || n == "ffma") return kFFMA;
  if (n == "tf32" || n == "fp32-TF32") return kTF32;
  throw std::invalid_argument("unknown precision '" + n + "' (bf16, fp16, fp32, tf32)");
}

const char* usage() {
  return "bench_bsmm_gpu: times bsmm (fprop, bprop, updat) of this library against dense cuBLAS and\n"
         "cuSPARSE (Blocked-ELL SpMM, BSR SpMM, BSR SDDMM) on one GPU.\n\n"
         "  --preset bar|full|smoke   bar: bf16 N=C=K=8192 b=32,64 d=0.1,0.25,0.5; fp32 (FFMA, TF32)\n"
         "                            N=C=K=8192 b=32 d=0.25; bf16+fp32 N=64 C=K=4096 b=32 d=0.5.\n"
         "                            full: DESIGN §8 (4 precisions x N 64,512,8192 x C=K 4096,8192\n"
         "                            x b 16..128 x d 0.05..1). smoke: a few small shapes.\n"
         "  Single sweep instead of a preset (lists are comma-separated; cross product):\n"
         "  --prec LIST   bf16,fp16,fp32,tf32 (default bf16); with --preset: keeps only these\n"
         "  --N LIST --C LIST [--K LIST] --b LIST --d LIST   (defaults 8192, 8192, K=C, 32, 0.25)\n"
         "  --ops LIST    fprop,bprop,updat (default all)\n"
         "  --libs LIST   blocksparse,cublas,bell,bsr,sddmm (default all)\n"
         "  --feature-axis 0|1  activations (C, N) or (N, C) (default 1)\n"
         "  --sets S      input sets rotated between runs (default 3)\n"
         "  --warmup W --min-runs A --max-runs B --budget-ms T   runs = T / (time of one run),\n"
         "                within [A, B] (defaults 5, 10, 200, 300)\n"
         "  --no-flush    do not flush the L2 between runs (diagnosis only)\n"
         "  --seed S      layout and data seed (default 1)\n"
         "  --out DIR     output directory (default .): <tag>.csv, <tag>.md, <tag>_meta.txt, layouts/\n"
         "  --tag NAME    file name stem (default bench_gpu); --append adds to an existing CSV\n"
         "  --dry-run     list the cases and exit\n";
}

Options parse_options(int argc, char** argv, bool& help) {
  Options o;
  help = false;
  Sweep single{{kBF16}, {8192}, {8192}, {}, {32}, {0.25}};
  bool shape_flags = false;
  auto value = [&](int& i) -> std::string {
    if (i + 1 >= argc) throw std::invalid_argument(std::string(argv[i]) + " needs a value");
    return argv[++i];
  };
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--help" || a == "-h") { help = true; return o; }
    else if (a == "--preset") o.preset = value(i);
    else if (a == "--prec") o.prec_filter = split(value(i));
    else if (a == "--N") { single.Ns = parse_list<int64_t>(value(i), "--N"); shape_flags = true; }
    else if (a == "--C") { single.Cs = parse_list<int64_t>(value(i), "--C"); shape_flags = true; }
    else if (a == "--K") { single.Ks = parse_list<int64_t>(value(i), "--K"); shape_flags = true; }
    else if (a == "--b") { single.bs = parse_list<int>(value(i), "--b"); shape_flags = true; }
    else if (a == "--d") { single.ds = parse_list<double>(value(i), "--d"); shape_flags = true; }
    else if (a == "--ops") o.ops = split(value(i));
    else if (a == "--libs") o.libs = split(value(i));
    else if (a == "--feature-axis") o.feature_axis = std::atoi(value(i).c_str());
    else if (a == "--sets") o.sets = std::atoi(value(i).c_str());
    else if (a == "--warmup") o.timing.warmup = std::atoi(value(i).c_str());
    else if (a == "--min-runs") o.timing.min_runs = std::atoi(value(i).c_str());
    else if (a == "--max-runs") o.timing.max_runs = std::atoi(value(i).c_str());
    else if (a == "--budget-ms") o.timing.budget_ms = std::atof(value(i).c_str());
    else if (a == "--no-flush") o.timing.flush_l2 = false;
    else if (a == "--seed") o.seed = std::strtoull(value(i).c_str(), nullptr, 10);
    else if (a == "--out") o.out_dir = value(i);
    else if (a == "--tag") o.tag = value(i);
    else if (a == "--append") o.append = true;
    else if (a == "--dry-run") o.dry_run = true;
    else throw std::invalid_argument("unknown argument '" + a + "' (see --help)");
  }
  if (!o.preset.empty() && shape_flags) throw std::invalid_argument("--preset and shape flags (--N/--C/--K/--b/--d) exclude each other");
  if (o.feature_axis != 0 && o.feature_axis != 1) throw std::invalid_argument("--feature-axis must be 0 or 1");
  if (o.sets < 1 || o.timing.warmup < 0 || o.timing.min_runs < 1 || o.timing.max_runs < o.timing.min_runs ||
      !(o.timing.budget_ms > 0))
    throw std::invalid_argument("bad --sets/--warmup/--min-runs/--max-runs/--budget-ms");
  for (double d : single.ds)
    if (d > 1.0) throw std::invalid_argument("--d: densities are in (0, 1]");
  if (o.ops.empty()) o.ops = {"fprop", "bprop", "updat"};
  for (const auto& op : o.ops)
    if (op != "fprop" && op != "bprop" && op != "updat") throw std::invalid_argument("unknown op '" + op + "'");
  if (o.libs.empty()) o.libs = {"blocksparse", "cublas", "bell", "bsr", "sddmm"};
  for (const auto& l : o.libs)
    if (l != "blocksparse" && l != "cublas" && l != "bell" && l != "bsr" && l != "sddmm")
      throw std::invalid_argument("unknown library '" + l + "'");
  if (o.preset.empty()) {
    if (!o.prec_filter.empty()) {
      single.precs.clear();
      for (const auto& p : o.prec_filter) single.precs.push_back(prec_by_name(p));
    }
    o.sweeps = {single};
  } else {
    o.sweeps = preset(o.preset);
    if (!o.prec_filter.empty()) {
      std::vector<std::string> keep;
      for (const auto& p : o.prec_filter) keep.push_back(prec_by_name(p).label);
      for (auto& s : o.sweeps) {
        std::vector<Prec> kept;
        for (const auto& p : s.precs)
          for (const auto& k : keep)
            if (k == p.label) kept.push_back(p);
        s.precs = kept;
      }
    }
  }
  return o;
}

}  // namespace bsbench
