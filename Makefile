# The two commands: `make run` (the lecture example) and `make test` (every test).
# Both install missing Debian packages (as root) first: `make run` only what running needs,
# and builds only the luagrad command, quietly; `make test` what testing needs, and all.
# `make bench` builds a Release tree of its own and runs bench/ (BENCH_QUICK=1: a minute).
BUILD ?= build
BUILD_TYPE ?= RelWithDebInfo
PREFIX ?= /usr/local
CMAKE_FLAGS ?=
# DEPS=--all: scripts/deps.sh also installs every other Lua, luarocks and luacheck (CI)
DEPS ?=
BENCH_BUILD ?= build-bench
FUZZ_SECONDS ?= 60
# what `make install` installs: the command, the libraries, the Lua module
INSTALLED = luagrad luagrad_static luagrad_shared luagrad_module
# runs a step with its output in $(BUILD)/make.log, shown only when the step fails
QUIET = sh -c 'mkdir -p $(BUILD); "$$@" >$(BUILD)/make.log 2>&1 || { cat $(BUILD)/make.log >&2; exit 1; }' quiet

.PHONY: all deps configure build run test fuzz install uninstall examples bench bench-tensor clean \
        deps-run configure-quiet build-run

all: build

deps:
	@sh scripts/deps.sh $(DEPS)

deps-run:
	@sh scripts/deps.sh --run

configure: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) $(CMAKE_FLAGS) >/dev/null

build: configure
	@cmake --build $(BUILD) -j2

# make run: the command and the Lua 5.4 module (build/lua/luagrad/core.so, for lua5.4 and
# busted), no tests, sanitizers, fuzzer or benchmarks; and no noise unless something fails
configure-quiet: deps-run
	@$(QUIET) cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) $(CMAKE_FLAGS)

build-run: configure-quiet
	@$(QUIET) cmake --build $(BUILD) -j2 --target luagrad luagrad_module

run: build-run
	@$(BUILD)/luagrad examples/lecture.lua $(BUILD)

examples: build-run
	$(BUILD)/luagrad examples/lecture.lua $(BUILD)
	$(BUILD)/luagrad examples/logistic_regression.lua
	$(BUILD)/luagrad examples/logistic_regression_values.lua
	$(BUILD)/luagrad examples/logistic_regression_tensors.lua
	$(BUILD)/luagrad examples/newton.lua
	$(BUILD)/luagrad examples/mlp.lua
	$(BUILD)/luagrad examples/plots.lua $(BUILD)
	$(BUILD)/luagrad examples/planar.lua $(BUILD)
	$(BUILD)/luagrad examples/digits.lua $(BUILD)
	$(BUILD)/luagrad examples/fashion_mnist.lua

test: build
	cd $(BUILD) && ctest --output-on-failure -j2

bench: deps
	@cmake -S . -B $(BENCH_BUILD) -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_FLAGS=-g -DBUILD_TESTING=OFF >/dev/null
	@cmake --build $(BENCH_BUILD) -j2
	BENCH_QUICK=$(BENCH_QUICK) lua5.4 bench/run.lua $(BENCH_BUILD)

# the tensor benchmark (T1-T5 and memory against PyTorch, NumPy and C+BLAS), ~3 minutes
bench-tensor: deps
	@cmake -S . -B $(BENCH_BUILD) -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_FLAGS=-g -DBUILD_TESTING=OFF >/dev/null
	@cmake --build $(BENCH_BUILD) -j2
	lua5.4 bench/tensor_bench.lua $(BENCH_BUILD)

# The libFuzzer target for FUZZ_SECONDS (clang; skipped with a message where it is absent)
fuzz: deps
	@sh tests/fuzz/run.sh $(FUZZ_SECONDS) $(BUILD)

# make install PREFIX=dir: what a user of the command, the Lua module or the C library needs
# (an existing build is used as it is configured). It lists what it wrote in
# $(BUILD)/install_manifest.txt, which `make uninstall` removes.
install: deps-run
	@test -f $(BUILD)/CMakeCache.txt || $(QUIET) cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) $(CMAKE_FLAGS)
	@$(QUIET) cmake --build $(BUILD) -j2 --target $(INSTALLED)
	cmake --install $(BUILD) --prefix $(PREFIX)
	@if [ "$$(id -u)" -eq 0 ] && [ "$(PREFIX)" = /usr/local ] && command -v ldconfig >/dev/null; then ldconfig; fi

uninstall:
	@test -f $(BUILD)/install_manifest.txt || { echo "nothing to uninstall: $(BUILD)/install_manifest.txt is missing (make install writes it)" >&2; exit 1; }
	@sh scripts/uninstall.sh $(BUILD)/install_manifest.txt

clean:
	rm -rf $(BUILD)
