#!/bin/sh
# make fuzz [FUZZ_SECONDS=60]: builds the libFuzzer target with clang (AddressSanitizer and
# UBSan, float-cast-overflow included, every report fatal) and runs it for that long, from
# the committed seeds in tests/fuzz/corpus. New inputs go to <build>/fuzz/corpus, and a
# crashing input to <build>/fuzz/crash-*; replay one with <build>/fuzz/fuzz_luagrad FILE
# (LUAGRAD_FUZZ_TRACE=1 prints the program it decodes to). Skips, with a message, where
# clang or its libFuzzer runtime is missing (scripts/deps.sh installs both as root).
set -eu
seconds=${1:-60}
build=${2:-build}
root=$(cd "$(dirname "$0")/../.." && pwd)
out="$build/fuzz"

if ! command -v clang >/dev/null 2>&1; then
  echo "make fuzz: skipped, clang is not installed (apt-get install clang libclang-rt-14-dev)"
  exit 0
fi
mkdir -p "$out/corpus"
printf 'int LLVMFuzzerTestOneInput (const char *d, unsigned long n) { (void)d; return (int)n * 0; }\n' \
  > "$out/probe.c"
if ! clang -fsanitize=fuzzer,address,undefined -o "$out/probe" "$out/probe.c" 2>/dev/null; then
  echo "make fuzz: skipped, clang has no libFuzzer runtime (apt-get install libclang-rt-14-dev)"
  exit 0
fi

lua_cflags=$(pkg-config --cflags lua5.4 2>/dev/null || echo "-I/usr/include/lua5.4")
lua_libs=$(pkg-config --libs lua5.4 2>/dev/null || echo "-llua5.4")
sources=$(ls "$root"/lua/luagrad/*.lua | paste -sd ';' -)
cmake -DOUTPUT="$out/lg_embedded.c" "-DSOURCES=$sources" -DROOT="$root" \
      -P "$root/cmake/embed.cmake"
# shellcheck disable=SC2086
clang -g -O1 -fno-omit-frame-pointer -Wall -Wextra -Werror \
      -fsanitize=fuzzer,address,undefined,float-cast-overflow -fno-sanitize-recover=all \
      -I"$root/include" -I"$root/src" $lua_cflags -o "$out/fuzz_luagrad" \
      "$root/tests/fuzz/fuzz_luagrad.c" $(ls "$root"/src/core/*.c "$root"/src/graph/*.c "$root"/src/lua/*.c | grep -v noembed.c) \
      "$out/lg_embedded.c" $lua_libs -lm

echo "fuzzing for ${seconds}s (corpus: $out/corpus and tests/fuzz/corpus)"
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
  "$out/fuzz_luagrad" -max_total_time="$seconds" -max_len=1024 -timeout=20 \
  -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$out/" \
  "$out/corpus" "$root/tests/fuzz/corpus" 2>"$out/log" || {
    tail -n 60 "$out/log"
    echo "make fuzz: FAILED; the input is in $out/ (crash-*, leak-*, timeout-*)"
    exit 1
  }
grep -E "^Done|stat::number_of_executed_units|stat::peak_rss_mb" "$out/log" || true
echo "make fuzz: no crash, leak or undefined behaviour found"
