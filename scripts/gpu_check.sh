#!/usr/bin/env bash
# One-go GPU check of blocksparse on a CUDA machine: configure + build with CUDA, the whole ctest
# suite, compute-sanitizer (memcheck, racecheck) on the bsmm tests, the Python tests, the CUDA
# development harness, the GPU benchmark (when present) and a SASS instruction census.
# Everything lands in $OUT (summary.txt, build.log, tests.log, dev.log, sanitizer.log, sass.txt,
# bench.log, bench_report.md and bench.tgz); a short summary is printed last.
#
# Environment:
#   OUT              output folder (default ./gpu_check_out)
#   BS_CUDA_ARCHS    CMAKE_CUDA_ARCHITECTURES (default 90a)
#   GPU_CHECK_STEPS  comma list of steps (default build,ctest,dev,sanitize,bench,sass; "python" reruns
#                    pytest outside ctest, which already runs the Python, PyTorch and JAX suites)
#   GPU_CHECK_SANITIZE_BINS  test executables run under compute-sanitizer (default test_bsmm_cases
#                    test_bsmm_sweep, CUDA cases only)
#   GPU_CHECK_BENCH_PRESET   bench/gpu preset (default bar); GPU_CHECK_DEV_TIME=1, GPU_CHECK_NCU=1 add
#                    the dev harness timings and an ncu profile
#   GTEST_SRC        GoogleTest source tree to build when the machine has no GoogleTest
#   JOBS             build parallelism (default 16)
#   GPU_CHECK_WERROR warnings as errors in the build (default ON; the machine's compiler may be newer than CI's)
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
OUT=${OUT:-$ROOT/gpu_check_out}
ARCHS=${BS_CUDA_ARCHS:-90a}
STEPS=${GPU_CHECK_STEPS:-build,ctest,dev,sanitize,bench,sass}
JOBS=${JOBS:-16}
BUILD=$ROOT/build-gpu
mkdir -p "$OUT"
SUMMARY=$OUT/summary.txt
: >"$SUMMARY"
has_step() { [[ ",$STEPS," == *",$1,"* ]]; }
note() { echo "$*" | tee -a "$SUMMARY"; }
export PYTHONUNBUFFERED=1

note "gpu_check $(date -u +%FT%TZ) git $(git rev-parse --short HEAD 2>/dev/null || echo '?') archs=$ARCHS"
note "device: $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null | head -1)"

# Python packages the machine lacks (pytest), carried as wheels in .whl/ (pip download ... -d .whl).
if ! python3 -c 'import pytest' 2>/dev/null && ls .whl/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile .whl/*.whl >/dev/null 2>&1 &&
    note "python: installed carried wheels ($(ls .whl | tr '\n' ' '))"
fi

# GoogleTest: the system's, else one built from GTEST_SRC, else tests are not built (said so).
CMAKE_EXTRA=()
if ! ls /usr/lib/*/cmake/GTest/GTestConfig.cmake /usr/lib/cmake/GTest/GTestConfig.cmake \
     /usr/local/lib/cmake/GTest/GTestConfig.cmake >/dev/null 2>&1; then
  if [ -n "${GTEST_SRC:-}" ] && [ -d "$GTEST_SRC" ]; then
    cmake -S "$GTEST_SRC" -B /tmp/gtest-build -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=/tmp/gtest \
      -DBUILD_GMOCK=OFF >/dev/null && cmake --build /tmp/gtest-build -j "$JOBS" >/dev/null &&
      cmake --install /tmp/gtest-build >/dev/null && CMAKE_EXTRA+=(-DCMAKE_PREFIX_PATH=/tmp/gtest) &&
      note "googletest: built from $GTEST_SRC"
  else
    CMAKE_EXTRA+=(-DBS_BUILD_TESTS=OFF)
    note "googletest: NOT FOUND (no GTEST_SRC): C++ tests not built"
  fi
fi

if has_step build; then
  t0=$(date +%s)
  { cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DBS_ENABLE_CUDA=ON -DBS_WERROR="${GPU_CHECK_WERROR:-ON}" \
      -DCMAKE_CUDA_ARCHITECTURES="$ARCHS" "${CMAKE_EXTRA[@]}" &&
    cmake --build "$BUILD" -j "$JOBS"; } >"$OUT/build.log" 2>&1
  rc=$?
  note "build: rc=$rc ($(( $(date +%s) - t0 )) s), $(grep -c "warning:" "$OUT/build.log") compiler warnings"
  [ $rc -ne 0 ] && tail -30 "$OUT/build.log"
fi
LIB=$BUILD/lib/libblocksparse.so

if has_step ctest && [ -d "$BUILD" ]; then
  EXCLUDE=()
  python3 -c 'import sklearn' 2>/dev/null || { EXCLUDE=(-E example_digits_demo); note "ctest: digits demo excluded (no scikit-learn here)"; }
  ctest --test-dir "$BUILD" --output-on-failure -j 4 "${EXCLUDE[@]}" >"$OUT/tests.log" 2>&1
  note "ctest: rc=$? $(grep -E 'tests passed|tests failed' "$OUT/tests.log" | tail -1)"
fi

# Development harness: correctness sweep against a float64 reference, then timings vs cuBLAS.
DEV=$BUILD/bsmm_dev
if [ -f bench/gpu_dev/bsmm_dev.cu ] && [ -f "$LIB" ]; then
  nvcc -O2 -std=c++17 -arch=sm_90a -Iinclude -I"$BUILD/include" bench/gpu_dev/bsmm_dev.cu -o "$DEV" \
    -L"$BUILD/lib" -lblocksparse -lcublas -Xlinker -rpath,"$BUILD/lib" >"$OUT/dev.log" 2>&1 || note "dev harness: build FAILED"
fi
if has_step dev && [ -x "$DEV" ]; then
  timeout 300 "$DEV" check >>"$OUT/dev.log" 2>&1
  note "dev check: rc=$? $(grep '^CHECK' "$OUT/dev.log" | tail -1)"
  grep '^FAIL' "$OUT/dev.log" | head -20 | tee -a "$SUMMARY"
  # The small-N path around the original README shape (N = 64, C = K = 4096, b = 32) vs cuBLAS.
  timeout 120 "$DEV" time small >>"$OUT/dev.log" 2>&1
  note "dev time small: rc=$?"
  if [ "${GPU_CHECK_DEV_TIME:-0}" = 1 ]; then
    timeout 240 "$DEV" time >>"$OUT/dev.log" 2>&1
    note "dev time: rc=$?"
  fi
  if [ "${GPU_CHECK_NCU:-0}" = 1 ] && command -v ncu >/dev/null; then  # stall reasons of the tile kernels at one bar shape
    timeout 200 ncu --clock-control none --section SpeedOfLight --section WarpStateStats --section Occupancy \
      --section MemoryWorkloadAnalysis -k regex:tile_kernel --launch-count 3 "$DEV" prof >>"$OUT/dev.log" 2>&1
    note "ncu: rc=$?"
  fi
  grep -E '^(device|bf16|fp16|fp32|tf32)' "$OUT/dev.log" | tee -a "$SUMMARY" >/dev/null
fi

if has_step python; then
  PYT=$(ls -d bindings/python/tests tests/python 2>/dev/null | head -1)
  if [ -n "$PYT" ]; then
    echo "=== pytest $PYT" >>"$OUT/tests.log"
    BLOCKSPARSE_LIBRARY=$LIB PYTHONPATH=$ROOT/bindings/python python3 -m pytest -q "$PYT" >>"$OUT/tests.log" 2>&1
    note "python tests ($PYT): rc=$? $(tail -1 "$OUT/tests.log")"
  else
    note "python tests: none in this tree"
  fi
fi

if has_step bench; then
  BENCH=bench/gpu/run_all.sh
  if [ -f "$BENCH" ] && [ -x "$BUILD/bench/gpu/bench_bsmm_gpu" ]; then
    # $OUT holds at most 8 files: the benchmark's many files travel as one archive + the report.
    BOUT=/tmp/bench_out
    rm -rf "$BOUT" && mkdir -p "$BOUT"
    BENCH_OUT=$BOUT BENCH_BIN=$BUILD/bench/gpu/bench_bsmm_gpu timeout 480 bash "$BENCH" "${GPU_CHECK_BENCH_PRESET:-bar}" \
      >"$OUT/bench.log" 2>&1
    note "benchmark ($BENCH): rc=$?"
    if [ -x "$BUILD/bench/ops/bench_ops_gpu" ]; then
      timeout 120 "$BUILD/bench/ops/bench_ops_gpu" >"$BOUT/bench_ops_gpu.txt" 2>&1
      note "ops benchmark: rc=$?"
      python3 bench/ops/torch_layernorm.py >>"$BOUT/bench_ops_gpu.txt" 2>&1 || note "torch layer norm: failed"
      cp "$BOUT/bench_ops_gpu.txt" "$OUT/bench_ops_gpu.txt"
    fi
    cp "$BOUT/report.md" "$OUT/bench_report.md" 2>/dev/null
    tar -C "$BOUT" -czf "$OUT/bench.tgz" . 2>/dev/null
  else
    note "benchmark: harness not built"
  fi
fi

if has_step sass && [ -f "$LIB" ]; then
  cuobjdump --dump-sass "$LIB" >/tmp/bs_sass.txt 2>&1
  awk '/Function :/ { fn=$3 } { for (i = 1; i <= n; ++i) if (index($0, " " op[i])) cnt[fn, op[i]]++ ; seen[fn]=1 }
       BEGIN { n = split("HGMMA HMMA FFMA LDL STL LDSM LDGSTS", op, " ") }
       END { for (f in seen) { line = f; for (i = 1; i <= n; ++i) line = line " " op[i] "=" (cnt[f, op[i]] + 0); print line } }' \
    /tmp/bs_sass.txt | sort >"$OUT/sass.txt"
  note "sass: $(wc -l <"$OUT/sass.txt") kernels; with LDL/STL: $(grep -cE 'LDL=[1-9]|STL=[1-9]' "$OUT/sass.txt")"
fi

# Sanitizers last: they are the slowest step.
if has_step sanitize && command -v compute-sanitizer >/dev/null; then
  : >"$OUT/sanitizer.log"
  mapfile -t BINS < <(for b in ${GPU_CHECK_SANITIZE_BINS:-test_bsmm_cases test_bsmm_sweep}; do
                        find "$BUILD/tests" -type f -executable -name "$b"; done 2>/dev/null)
  for tool in memcheck racecheck; do
    for bin in "${BINS[@]}"; do
      echo "=== $tool $bin" >>"$OUT/sanitizer.log"
      timeout 240 compute-sanitizer --tool "$tool" --error-exitcode 9 "$bin" --gtest_filter='*CUDA*:*Cuda*:*cuda*' \
        >>"$OUT/sanitizer.log" 2>&1
      note "sanitizer $tool $(basename "$bin"): rc=$? $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' "$OUT/sanitizer.log" | tail -1)"
    done
    if [ -x "$DEV" ]; then
      echo "=== $tool bsmm_dev check-small" >>"$OUT/sanitizer.log"
      timeout 240 compute-sanitizer --tool "$tool" --error-exitcode 9 "$DEV" check-small >>"$OUT/sanitizer.log" 2>&1
      note "sanitizer $tool bsmm_dev: rc=$? $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' "$OUT/sanitizer.log" | tail -1)"
    fi
  done
fi

echo "================ SUMMARY ================"
cat "$SUMMARY"
