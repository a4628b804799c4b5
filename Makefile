# The two commands: `make run` (the lecture example) and `make test` (every test).
# Both install missing Debian packages (as root), configure and build first.
# `make bench` builds a Release tree of its own and runs bench/ (BENCH_QUICK=1: a minute).
BUILD ?= build
BUILD_TYPE ?= RelWithDebInfo
PREFIX ?= /usr/local
CMAKE_FLAGS ?=
# DEPS=--all: scripts/deps.sh also installs every other Lua, luarocks and luacheck (CI)
DEPS ?=
BENCH_BUILD ?= build-bench
FUZZ_SECONDS ?= 60

.PHONY: all deps configure build run test fuzz install examples bench clean

all: build

deps:
	@sh scripts/deps.sh $(DEPS)

configure: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DCMAKE_INSTALL_PREFIX=$(PREFIX) $(CMAKE_FLAGS) >/dev/null

build: configure
	@cmake --build $(BUILD) -j2

run: build
	$(BUILD)/luagrad examples/lecture.lua $(BUILD)

examples: build
	$(BUILD)/luagrad examples/lecture.lua $(BUILD)
	$(BUILD)/luagrad examples/logistic_regression.lua
	$(BUILD)/luagrad examples/newton.lua

test: build
	cd $(BUILD) && ctest --output-on-failure -j2

bench: deps
	@cmake -S . -B $(BENCH_BUILD) -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_FLAGS=-g -DBUILD_TESTING=OFF >/dev/null
	@cmake --build $(BENCH_BUILD) -j2
	BENCH_QUICK=$(BENCH_QUICK) lua5.4 bench/run.lua $(BENCH_BUILD)

# The libFuzzer target for FUZZ_SECONDS (clang; skipped with a message where it is absent)
fuzz: deps
	@sh tests/fuzz/run.sh $(FUZZ_SECONDS) $(BUILD)

install: build
	cmake --install $(BUILD) --prefix $(PREFIX)

clean:
	rm -rf $(BUILD)
