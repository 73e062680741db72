# Thin wrapper over CMake. `make demo` trains the digits demo; `make test` builds and runs every test
# (the normal build, then the C tests again under AddressSanitizer + UndefinedBehaviorSanitizer).
BUILD_DIR ?= build
SANITIZE_DIR ?= build-sanitize
PREFIX ?= /usr/local
JOBS ?= $(shell nproc)
CMAKE_ARGS ?=
PYTHON ?= python3

.PHONY: all build configure test test-sanitize demo deps-python install bench clean

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
	ctest --test-dir $(SANITIZE_DIR) --output-on-failure -L c -j $(JOBS)

demo: deps-python build
	BLOCKSPARSE_LIBRARY=$(abspath $(BUILD_DIR))/lib/libblocksparse.so PYTHONPATH=$(abspath bindings/python) \
	  $(PYTHON) examples/digits/train_digits.py

install: build
	cmake --install $(BUILD_DIR)

bench: build
	$(BUILD_DIR)/bench/bench_cpu_bsmm

clean:
	rm -rf $(BUILD_DIR) $(SANITIZE_DIR)
