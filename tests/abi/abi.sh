#!/usr/bin/env bash
# The public ABI of libblocksparse, as libabigail sees it, against the committed baseline
# tests/abi/blocksparse.abi (docs/abi_versioning.md).
#
#   abi.sh check    SOURCE_DIR WORK_DIR [C_COMPILER CXX_COMPILER]   (CTest "abi_check", make abi-check)
#   abi.sh baseline SOURCE_DIR WORK_DIR [C_COMPILER CXX_COMPILER]   (make abi-baseline)
#
# Both build the shared library from SOURCE_DIR once more in WORK_DIR, CPU-only and with debug
# information (abidw reads the types from DWARF; the C ABI is the same with and without CUDA), and
# describe it with abidw, restricted to the types of the public headers.
# check passes when the ABI is unchanged or only grew: functions added, enumerators appended,
# fields appended to parameter structs (tests/abi/abidiff.suppr). It fails on a removed function,
# a changed signature, a renumbered enumerator, a changed struct layout... unless the SONAME (the
# ABI major version) differs from the baseline's, in which case incompatible changes are expected
# and the check only says so. It is skipped when abidw/abidiff are not installed.
# baseline writes the current ABI to tests/abi/blocksparse.abi, to commit after review.
set -euo pipefail
mode=$1 src=$(cd "$2" && pwd) work=$3 cc=${4:-} cxx=${5:-}
baseline=$src/tests/abi/blocksparse.abi
suppressions=$src/tests/abi/abidiff.suppr

if ! command -v abidw >/dev/null || ! command -v abidiff >/dev/null; then
  if [ "$mode" = check ]; then
    echo "SKIPPED: abidw/abidiff not found; install them (Debian: apt-get install abigail-tools) to check the ABI"
    exit 0
  fi
  echo "abi.sh: abidw/abidiff not found (Debian: apt-get install abigail-tools)" >&2
  exit 1
fi

mkdir -p "$work"
work=$(cd "$work" && pwd)
build=$work/build
echo "== building the shared library with debug information in $build"
compilers=()
[ -n "$cc" ] && compilers+=("-DCMAKE_C_COMPILER=$cc")
[ -n "$cxx" ] && compilers+=("-DCMAKE_CXX_COMPILER=$cxx")
cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Debug -DBS_ENABLE_CUDA=OFF -DBS_BUILD_TESTS=OFF \
      -DBS_BUILD_EXAMPLES=OFF -DBS_BUILD_BENCH=OFF "${compilers[@]}" >"$work/configure.log" 2>&1 || { cat "$work/configure.log"; exit 1; }
cmake --build "$build" --target blocksparse -j 2 >"$work/build.log" 2>&1 || { cat "$work/build.log"; exit 1; }

current=$work/blocksparse.abi
abidw --headers-dir "$src/include/blocksparse" --headers-dir "$build/include/blocksparse" \
      --drop-private-types --exported-interfaces-only --no-corpus-path --no-comp-dir-path --no-show-locs --no-elf-needed \
      --type-id-style hash --out-file "$current.tmp" "$build/lib/libblocksparse.so"
# Paths of the translation units, relative to the source tree, so the baseline is the same on every machine.
sed -e "s|path='$build/|path='build/|g" -e "s|path='$src/|path='|g" "$current.tmp" >"$current"
rm "$current.tmp"

soname_of() { sed -n "s/^<abi-corpus .*soname='\([^']*\)'.*/\1/p" "$1"; }

if [ "$mode" = baseline ]; then
  cp "$current" "$baseline"
  echo "abi.sh: wrote $baseline ($(soname_of "$current"), $(grep -c '<elf-symbol ' "$current") functions); review and commit it"
  exit 0
fi
[ "$mode" = check ] || { echo "abi.sh: unknown mode '$mode' (check or baseline)" >&2; exit 2; }
[ -f "$baseline" ] || { echo "abi.sh: no baseline $baseline; create it with 'make abi-baseline'" >&2; exit 1; }

old_soname=$(soname_of "$baseline") new_soname=$(soname_of "$current")
echo "== abidiff $old_soname (baseline) -> $new_soname (this tree)"
# The whole report, added functions included, for the log; abidiff exits non-zero on any change.
abidiff --suppressions "$suppressions" "$baseline" "$current" || true
if [ "$old_soname" != "$new_soname" ]; then
  echo "abi.sh: PASS: the ABI major version changed ($old_soname -> $new_soname), so incompatible changes" \
       "are allowed; record the new ABI with 'make abi-baseline'"
  exit 0
fi
# The verdict ignores added functions: exit status bit 4 = ABI change, bit 8 = incompatible change.
status=0
abidiff --no-added-syms --suppressions "$suppressions" "$baseline" "$current" >/dev/null || status=$?
if [ $((status & 3)) -ne 0 ]; then
  echo "abi.sh: FAIL: abidiff could not compare (exit status $status)" >&2
  exit 1
fi
if [ $((status & 12)) -ne 0 ]; then
  echo "abi.sh: FAIL: the ABI changed incompatibly (see the report above) without a new major version." >&2
  echo "  Either keep the old declarations (append instead of changing), or bump the major version in" >&2
  echo "  CMakeLists.txt (it is the SONAME) and record the new ABI with 'make abi-baseline'." >&2
  exit 1
fi
echo "abi.sh: PASS: the ABI is compatible with the baseline ($new_soname)"
