#!/usr/bin/env bash
# One command for the GPU benchmark of bsmm: builds the harness (if needed), runs it, runs the
# PyTorch peers when torch is installed, and writes the merged report.
#
#   bench/gpu/run_all.sh [PRESET] [--tune] [more bench_bsmm_gpu flags...]
#
# PRESET: bar (default; also $BENCH_PRESET), full or smoke. --tune (or BENCH_TUNE=1) also times
# torch's tuned BSR kernel for bf16 N=C=K=8192 b=32,64 d=0.25 (minutes of tuning per shape).
# Output directory: $BENCH_OUT, else $OUT (set on the GPU machine), else bench/results/:
#   bench_gpu.csv / .md / _meta.txt (harness + torch rows), layouts/*.npy, report.md, report_*.png,
#   nvidia_smi_{before,after}.csv, run_all.log.
# Environment: BUILD_DIR (default build), CUDA_ARCHS (default: the GPU's, e.g. 90a), PYTHON,
# BENCH_BIN (use this harness binary instead of building one).
# The full preset takes long: split it over calls with --prec (one precision each) and different
# output directories, then merge: python3 bench/gpu/report.py DIR1/bench_gpu.csv DIR2/bench_gpu.csv.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
PRESET=${BENCH_PRESET:-bar}
if [[ $# -gt 0 && $1 != -* ]]; then PRESET=$1; shift; fi
TUNE=${BENCH_TUNE:-0}
ARGS=()
for a in "$@"; do
  if [[ $a == --tune ]]; then TUNE=1; else ARGS+=("$a"); fi
done
OUT_DIR=${BENCH_OUT:-${OUT:-$ROOT/bench/results}}
BUILD_DIR=${BUILD_DIR:-$ROOT/build}
PYTHON=${PYTHON:-python3}
mkdir -p "$OUT_DIR"
exec > >(tee -a "$OUT_DIR/run_all.log") 2>&1
echo "run_all: preset $PRESET, tune $TUNE, output $OUT_DIR"

BIN=${BENCH_BIN:-}
if [[ -z $BIN ]]; then
  if [[ -z ${CUDA_ARCHS:-} ]] && command -v nvidia-smi >/dev/null; then
    cap=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader | head -1 | tr -d ' .')
    case $cap in
      90|100|101|103|120|121) CUDA_ARCHS=${cap}a ;;  # the arch-specific targets (wgmma, tcgen05...)
      *) CUDA_ARCHS=$cap ;;
    esac
  fi
  t0=$SECONDS
  cmake -S "$ROOT" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release -DBS_ENABLE_CUDA=ON -DBS_BUILD_TESTS=OFF \
        -DBS_BUILD_EXAMPLES=OFF ${CUDA_ARCHS:+-DCMAKE_CUDA_ARCHITECTURES=$CUDA_ARCHS} >/dev/null
  cmake --build "$BUILD_DIR" -j "$(nproc)" --target bench_bsmm_gpu
  echo "run_all: build took $((SECONDS - t0)) s"
  BIN=$BUILD_DIR/bench/gpu/bench_bsmm_gpu
fi

smi() {
  nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm,clocks.mem,power.draw,power.limit,temperature.gpu \
    --format=csv >"$OUT_DIR/nvidia_smi_$1.csv" 2>/dev/null || true
}
smi before
rc=0
t0=$SECONDS
"$BIN" --preset "$PRESET" --out "$OUT_DIR" ${ARGS[@]+"${ARGS[@]}"} || rc=$?
echo "run_all: harness exit $rc after $((SECONDS - t0)) s"

if [[ -f $OUT_DIR/bench_gpu.csv ]]; then
  t0=$SECONDS
  TUNE_FLAG=()
  if [[ $TUNE == 1 ]]; then TUNE_FLAG=(--tune); fi
  "$PYTHON" "$HERE/torch_peers.py" --csv "$OUT_DIR/bench_gpu.csv" ${TUNE_FLAG[@]+"${TUNE_FLAG[@]}"} ||
    echo "run_all: torch peers failed (exit $?); their rows so far are in the CSV"
  echo "run_all: torch peers took $((SECONDS - t0)) s"
  "$PYTHON" "$HERE/report.py" "$OUT_DIR/bench_gpu.csv" --out "$OUT_DIR/report" || echo "run_all: report failed"
fi
smi after
exit $rc
