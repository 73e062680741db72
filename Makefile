# Thin wrapper over CMake. `make demo` trains the digits demo; `make test` builds and runs every test
# (the normal build, then the C tests again under AddressSanitizer + UndefinedBehaviorSanitizer).
BUILD_DIR ?= build
SANITIZE_DIR ?= build-sanitize
FUZZ_DIR ?= build-fuzz
TSAN_DIR ?= build-tsan
# `make fuzz`: seconds of fuzzing per target (the corpus grows under $(FUZZ_DIR)/tests/fuzz/found).
FUZZ_SECONDS ?= 600
CLANG ?= clang
CLANGXX ?= clang++
PREFIX ?= /usr/local
JOBS ?= $(shell nproc)
CMAKE_ARGS ?=
PYTHON ?= python3

.PHONY: all build configure test test-sanitize test-fuzz-smoke test-tsan fuzz demo deps-python install docs bindings abi-check abi-baseline bench clean

all: build

configure:
	cmake -S . -B $(BUILD_DIR) -DCMAKE_INSTALL_PREFIX=$(PREFIX) $(CMAKE_ARGS)

build: configure
	cmake --build $(BUILD_DIR) -j $(JOBS)

# Python packages the demo and the Python tests need (no-op when already installed).
deps-python:
	$(PYTHON) -m pip install --quiet --disable-pip-version-check -r bindings/python/requirements.txt

test: deps-python build
	ctest --test-dir $(BUILD_DIR) --output-on-failure -j $(JOBS)
	$(MAKE) test-sanitize

test-sanitize:
	cmake -S . -B $(SANITIZE_DIR) -DCMAKE_BUILD_TYPE=Debug -DBS_SANITIZE=ON -DBS_ENABLE_CUDA=OFF \
	      -DBS_BUILD_EXAMPLES=OFF -DBS_BUILD_BENCH=OFF $(CMAKE_ARGS)
	cmake --build $(SANITIZE_DIR) -j $(JOBS)
	ctest --test-dir $(SANITIZE_DIR) --output-on-failure -L '^c$$' -j $(JOBS)

# clang-only checks (skipped with a note when clang is missing): libFuzzer targets of tests/fuzz
# (ASan + UBSan), a few thousand executions each; and the ThreadSanitizer plan-sharing test.
# Not yet part of `make test` (CI): their two instrumented clang builds took 8-14 minutes on the
# shared 2-core machine, which CI's 30-minute budget cannot take until they are made cheaper.
CLANG_FOUND := $(shell command -v $(CLANGXX) 2>/dev/null)
CLANG_CMAKE = CC=$(CLANG) CXX=$(CLANGXX) cmake -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBS_ENABLE_CUDA=OFF \
	      -DBS_BUILD_TESTS=OFF -DBS_BUILD_EXAMPLES=OFF -DBS_BUILD_BENCH=OFF $(CMAKE_ARGS)

test-fuzz-smoke:
ifeq ($(CLANG_FOUND),)
	@echo "SKIPPED fuzz smoke runs: $(CLANGXX) not found (apt-get install clang libclang-rt-dev libomp-dev)"
else
	$(CLANG_CMAKE) -S . -B $(FUZZ_DIR) -DBS_FUZZ=ON
	cmake --build $(FUZZ_DIR) -j $(JOBS) --target fuzz_targets
	ctest --test-dir $(FUZZ_DIR) --output-on-failure -L '^fuzz$$' -j $(JOBS)
endif

test-tsan:
ifeq ($(CLANG_FOUND),)
	@echo "SKIPPED ThreadSanitizer test: $(CLANGXX) not found (apt-get install clang libclang-rt-dev libomp-dev)"
else
	$(CLANG_CMAKE) -S . -B $(TSAN_DIR) -DBS_TSAN=ON
	cmake --build $(TSAN_DIR) -j $(JOBS) --target test_plan_sharing
	ctest --test-dir $(TSAN_DIR) --output-on-failure -L '^tsan$$'
endif

# Long fuzzing runs: every target for FUZZ_SECONDS, one after the other, keeping what they find.
fuzz: test-fuzz-smoke
	for t in fuzz_bsmm_create fuzz_bsmm_bsr fuzz_layernorm fuzz_sparse_proj; do \
	  $(FUZZ_DIR)/tests/fuzz/$$t -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
	    $(FUZZ_DIR)/tests/fuzz/found/$$t tests/fuzz/corpus/$$t || exit 1; \
	done

demo: deps-python build
	BLOCKSPARSE_LIBRARY=$(abspath $(BUILD_DIR))/lib/libblocksparse.so PYTHONPATH=$(abspath bindings/python) \
	  $(PYTHON) examples/digits/train_digits.py

# Headers, libraries, CMake package and pkg-config file under $(PREFIX) (DESTDIR is honoured).
install: build
	cmake --install $(BUILD_DIR) --prefix $(PREFIX)

# HTML API reference and guide into $(BUILD_DIR)/docs/html; any Doxygen warning fails.
docs: configure
	cmake --build $(BUILD_DIR) --target docs

# The declaration layers of the bindings (Python _ffi.py, Rust blocksparse-sys, Julia LibBlocksparse.jl, Go api_gen.go)
# and docs/api_index.md, regenerated from the public headers after a header change (commit the result).
bindings:
	$(PYTHON) scripts/gen_bindings.py

# The public ABI against tests/abi/blocksparse.abi (abigail-tools); abi-baseline records the current
# ABI there after a deliberate change (docs/abi_versioning.md).
abi-check:
	bash tests/abi/abi.sh check . $(BUILD_DIR)/abi

abi-baseline:
	bash tests/abi/abi.sh baseline . $(BUILD_DIR)/abi

bench: build
	$(BUILD_DIR)/bench/bench_cpu_bsmm

clean:
	rm -rf $(BUILD_DIR) $(SANITIZE_DIR) $(FUZZ_DIR) $(TSAN_DIR)
