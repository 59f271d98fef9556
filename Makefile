# Thin wrapper over CMake (the truth). `make`, `make test`, `make run`.
BUILD ?= build
BUILD_SAN ?= build-san
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

PREFIX ?= /usr/local

.PHONY: all build test test-c test-core test-san test-tsan test-python test-fuzz test-fuzz-long test-neon run deps model \
        install clean

all: build

build:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS)
	cmake --build $(BUILD) -j$(JOBS)

# The whole suite: C tests (release), the same under ASan+UBSan, the Python
# binding, and bounded fuzzing of the readers.
test: test-c test-core test-san test-tsan test-python test-fuzz test-neon

test-c: build
	cd $(BUILD) && ctest --output-on-failure -j$(JOBS)

# The core alone (library, its tests, the quickstart): no optional dependency used.
test-core:
	cmake -S . -B $(BUILD)-core -DCMAKE_BUILD_TYPE=Release -DROPE_BUILD_TOOLS=OFF -DROPE_BUILD_LLAMA=OFF $(CMAKE_FLAGS)
	cmake --build $(BUILD)-core -j$(JOBS)
	cd $(BUILD)-core && ctest --output-on-failure -j$(JOBS)

test-san:
	cmake -S . -B $(BUILD_SAN) -DCMAKE_BUILD_TYPE=Debug -DROPE_SANITIZE=ON -DROPE_WERROR=ON $(CMAKE_FLAGS)
	cmake --build $(BUILD_SAN) -j$(JOBS)
	cd $(BUILD_SAN) && ASAN_OPTIONS=detect_leaks=1 ctest --output-on-failure -j$(JOBS)

# The threaded C tests under ThreadSanitizer (issue 14).
test-tsan:
	bash scripts/test-tsan.sh

test-python: build
	bash scripts/test-python.sh

test-fuzz:
	bash scripts/fuzz.sh

# An hour per harness from a fresh seed (not part of `make test`); figures in fuzz/README.md.
test-fuzz-long:
	FUZZ_SECONDS=3600 FUZZ_SEED=0 bash scripts/fuzz.sh

# The NEON kernels: the core cross-built for aarch64 (cmake/aarch64-linux-gnu.cmake)
# and its ctest run under qemu-aarch64.
test-neon:
	cmake -S . -B $(BUILD)-neon -DCMAKE_BUILD_TYPE=Release \
	      -DCMAKE_TOOLCHAIN_FILE=$(CURDIR)/cmake/aarch64-linux-gnu.cmake $(CMAKE_FLAGS)
	cmake --build $(BUILD)-neon -j$(JOBS)
	cd $(BUILD)-neon && ctest --output-on-failure -j$(JOBS)

# The main job on its built-in default.
run: build
	./$(BUILD)/rope generate

# Debian packages, Python packages and the default model (idempotent).
deps:
	bash scripts/install-deps.sh

model:
	bash scripts/get-model.sh

# rope.h, librope.a, librope.so.N, librope.pc, the CMake package and `rope` under PREFIX.
install: build
	cmake --install $(BUILD) --prefix $(PREFIX)

clean:
	rm -rf $(BUILD) $(BUILD)-core $(BUILD)-neon $(BUILD_SAN) build-tsan build-fuzz .venv
