#!/usr/bin/env bash
# Installs the built library into a temporary prefix, moves the prefix (the package must be
# relocatable), checks the installed files, then builds and runs the C consumer of consumer/
# outside the source tree four ways: find_package (shared, static) and pkg-config (shared, static).
#
# usage: install_test.sh BUILD_DIR WORK_DIR LIBDIR VERSION C_COMPILER CXX_COMPILER
#   LIBDIR: CMAKE_INSTALL_LIBDIR of the build (e.g. lib); VERSION: major.minor.patch of the project.
set -euo pipefail
build_dir=$1 work=$2 libdir_rel=$3 version=$4 cc=$5 cxx=$6
major=${version%%.*}
here=$(cd "$(dirname "$0")" && pwd)

fail() { echo "install_test: FAIL: $*" >&2; exit 1; }
step() { echo "== $*"; }

rm -rf "$work"
mkdir -p "$work"
step "cmake --install into a staging prefix, then move it"
cmake --install "$build_dir" --prefix "$work/stage" >"$work/install.log"
mv "$work/stage" "$work/prefix"
prefix=$work/prefix
libdir=$prefix/$libdir_rel

step "installed files"
for f in include/blocksparse/blocksparse.h include/blocksparse/bs_version.h include/blocksparse/bsmm.h \
         "$libdir_rel/libblocksparse.a" "$libdir_rel/pkgconfig/blocksparse.pc" \
         "$libdir_rel/cmake/blocksparse/blocksparseConfig.cmake" \
         "$libdir_rel/cmake/blocksparse/blocksparseConfigVersion.cmake"; do
  [ -f "$prefix/$f" ] || fail "missing $f"
done
[ -f "$libdir/libblocksparse.so.$version" ] && [ ! -L "$libdir/libblocksparse.so.$version" ] ||
  fail "missing the versioned file libblocksparse.so.$version"
[ "$(readlink "$libdir/libblocksparse.so.$major")" = "libblocksparse.so.$version" ] ||
  fail "libblocksparse.so.$major is not a link to libblocksparse.so.$version"
[ "$(readlink "$libdir/libblocksparse.so")" = "libblocksparse.so.$major" ] ||
  fail "libblocksparse.so is not a link to libblocksparse.so.$major"
soname=$(readelf -d "$libdir/libblocksparse.so.$version" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[ "$soname" = "libblocksparse.so.$major" ] || fail "SONAME is '$soname', expected libblocksparse.so.$major"
grep -q "#define BS_VERSION_STRING \"$version\"" "$prefix/include/blocksparse/bs_version.h" ||
  fail "installed bs_version.h does not say $version"
if find "$prefix" -name '*.in' -o -name '*.hpp' -o -name '*.cpp' | grep -q .; then
  fail "sources or templates were installed: $(find "$prefix" -name '*.in' -o -name '*.hpp' -o -name '*.cpp')"
fi

# The consumer is copied out of the source tree: it can only see the installed prefix.
cp -r "$here/consumer" "$work/src"

# needs_blocksparse_so PROGRAM: 0 if PROGRAM needs the shared library (with its SONAME).
needs_blocksparse_so() { readelf -d "$1" | grep -q "NEEDED.*\[libblocksparse\.so\.$major\]"; }

for kind in shared static; do
  step "find_package(blocksparse CONFIG), $kind library"
  static=OFF; [ $kind = static ] && static=ON
  cmake -S "$work/src" -B "$work/cmake-$kind" -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$prefix" \
        -DCMAKE_C_COMPILER="$cc" -DCMAKE_CXX_COMPILER="$cxx" -DCONSUMER_STATIC=$static \
        -DBS_EXPECTED_VERSION="$version" >"$work/cmake-$kind.log" 2>&1 ||
    { cat "$work/cmake-$kind.log"; fail "configuring the find_package consumer ($kind)"; }
  grep -q "from $prefix/$libdir_rel/cmake/blocksparse" "$work/cmake-$kind.log" ||
    { cat "$work/cmake-$kind.log"; fail "the consumer did not find the package in $prefix"; }
  cmake --build "$work/cmake-$kind" >"$work/build-$kind.log" 2>&1 ||
    { cat "$work/build-$kind.log"; fail "building the find_package consumer ($kind)"; }
  if [ $kind = shared ]; then
    needs_blocksparse_so "$work/cmake-$kind/consumer" || fail "the consumer does not link libblocksparse.so.$major"
  else
    ! needs_blocksparse_so "$work/cmake-$kind/consumer" || fail "the static consumer links the shared library"
  fi
  "$work/cmake-$kind/consumer" || fail "the find_package consumer ($kind) failed"
done

export PKG_CONFIG_PATH="$libdir/pkgconfig"
[ "$(pkg-config --modversion blocksparse)" = "$version" ] || fail "pkg-config --modversion is not $version"
pc_libdir=$(pkg-config --variable=libdir blocksparse)
[ "$(cd "$pc_libdir" && pwd -P)" = "$(cd "$libdir" && pwd -P)" ] || fail "pkg-config libdir $pc_libdir is not $libdir"

step "pkg-config, shared library"
# shellcheck disable=SC2046  # pkg-config prints flags meant to be split
"$cc" -std=c99 -Wall -Wextra -Wpedantic -Werror $(pkg-config --cflags blocksparse) "$work/src/consumer.c" \
      -o "$work/pc-shared" $(pkg-config --libs blocksparse) -lm -Wl,-rpath,"$pc_libdir" ||
  fail "building the pkg-config consumer (shared)"
needs_blocksparse_so "$work/pc-shared" || fail "the pkg-config consumer does not link libblocksparse.so.$major"
"$work/pc-shared" || fail "the pkg-config consumer (shared) failed"

step "pkg-config --static, static library"
# A directory holding only the archive, searched first, makes the linker take libblocksparse.a.
mkdir -p "$work/static-only"
cp "$libdir/libblocksparse.a" "$work/static-only/"
# shellcheck disable=SC2046
"$cc" -std=c99 -Wall -Wextra -Wpedantic -Werror $(pkg-config --cflags blocksparse) "$work/src/consumer.c" \
      -o "$work/pc-static" -L"$work/static-only" $(pkg-config --static --libs blocksparse) -lm ||
  fail "building the pkg-config consumer (static), with Libs.private: $(pkg-config --static --libs blocksparse)"
! needs_blocksparse_so "$work/pc-static" || fail "the static pkg-config consumer links the shared library"
# Libs.private may name libraries outside the loader's default path (the CUDA runtime).
ld_dirs=$(pkg-config --static --libs-only-L blocksparse | sed 's/-L//g; s/ \+/:/g')
LD_LIBRARY_PATH="$ld_dirs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" "$work/pc-static" ||
  fail "the pkg-config consumer (static) failed"

echo "install_test: PASS"
