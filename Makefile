# Thin wrapper over CMake. `make demo` trains the digits demo; `make test` builds and runs every test
# (the normal build, then the C tests again under AddressSanitizer + UndefinedBehaviorSanitizer).
BUILD_DIR ?= build
SANITIZE_DIR ?= build-sanitize
PREFIX ?= /usr/local
JOBS ?= $(shell nproc)
CMAKE_ARGS ?=
PYTHON ?= python3

.PHONY: all build configure test test-sanitize demo deps-python install docs bindings abi-check abi-baseline bench clean

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
	rm -rf $(BUILD_DIR) $(SANITIZE_DIR)
