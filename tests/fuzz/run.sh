#!/bin/sh
# make fuzz [FUZZ_SECONDS=60]: builds the libFuzzer targets with clang (AddressSanitizer and
# UBSan, float-cast-overflow included, every report fatal) and runs each for that long:
#   fuzz_luagrad  programs of steps on the binding, from the seeds in tests/fuzz/corpus
#   fuzz_compile  programs run eagerly and through lg.compile, which must agree (seeds in
#                 tests/fuzz/corpus_compile; every op, those with data-dependent derivatives
#                 included; FUZZ_MASKS=0 leaves relu, abs, max, min and pow out)
#   fuzz_safetensors  whole files through the safetensors reader, and what it accepts
#                 through the writer and back (seeds in tests/fuzz/corpus_safetensors)
# New inputs go to <build>/fuzz/corpus, <build>/fuzz/corpus_compile and
# <build>/fuzz/corpus_safetensors, and a crashing input to <build>/fuzz/<target>-crash-*;
# replay one with <build>/fuzz/<target> FILE (LUAGRAD_FUZZ_TRACE=1 prints the program
# fuzz_luagrad or fuzz_compile decodes to). Skips, with a message, where clang or its libFuzzer
# runtime is missing (scripts/deps.sh installs both as root).
set -eu
seconds=${1:-60}
build=${2:-build}
root=$(cd "$(dirname "$0")/../.." && pwd)
out="$build/fuzz"

if ! command -v clang >/dev/null 2>&1; then
  echo "make fuzz: skipped, clang is not installed (apt-get install clang libclang-rt-14-dev)"
  exit 0
fi
masks=${FUZZ_MASKS:-1}
mkdir -p "$out/corpus" "$out/corpus_compile" "$out/corpus_safetensors"
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
srcs=$(ls "$root"/src/core/*.c "$root"/src/graph/*.c "$root"/src/lua/*.c | grep -v noembed.c)
for target in fuzz_luagrad fuzz_compile; do
  # shellcheck disable=SC2086
  clang -g -O1 -fno-omit-frame-pointer -Wall -Wextra -Werror \
        -fsanitize=fuzzer,address,undefined,float-cast-overflow -fno-sanitize-recover=all \
        -I"$root/include" -I"$root/src" $lua_cflags \
        -DLUAGRAD_FUZZ_PROGRAMS="\"$root/tests/fuzz/compile_programs.lua\"" \
        -o "$out/$target" "$root/tests/fuzz/$target.c" $srcs "$out/lg_embedded.c" $lua_libs -lm
done
core=$(ls "$root"/src/core/*.c "$root"/src/graph/*.c)   # no Lua, and matmul's C loop
# shellcheck disable=SC2086
clang -g -O1 -fno-omit-frame-pointer -Wall -Wextra -Werror \
      -fsanitize=fuzzer,address,undefined,float-cast-overflow -fno-sanitize-recover=all \
      -I"$root/include" -I"$root/src" -o "$out/fuzz_safetensors" \
      "$root/tests/fuzz/fuzz_safetensors.c" $core -lm

# fuzz NAME CORPUS MAXLEN [libFuzzer options]: runs $out/NAME for $seconds from $out/CORPUS
# and tests/fuzz/CORPUS, its log in $out/NAME.log and its output in $out/NAME.out; on a
# failure shows the log's end and stops
fuzz () {
  name=$1 corpus=$2 maxlen=$3
  shift 3
  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
    "$out/$name" -max_total_time="$seconds" -max_len="$maxlen" -timeout=20 \
    -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$out/$name-" "$@" \
    "$out/$corpus" "$root/tests/fuzz/$corpus" >"$out/$name.out" 2>"$out/$name.log" || {
      tail -n 60 "$out/$name.log"
      echo "make fuzz: FAILED; the input is in $out/ ($name-crash-*, $name-leak-*, ...)"
      exit 1
    }
  grep -E "^Done|stat::number_of_executed_units|stat::peak_rss_mb" "$out/$name.log" || true
}

echo "fuzzing the binding for ${seconds}s (corpus: $out/corpus and tests/fuzz/corpus)"
fuzz fuzz_luagrad corpus 1024

echo "fuzzing lg.compile against eager mode for ${seconds}s (corpus: $out/corpus_compile" \
     "and tests/fuzz/corpus_compile; FUZZ_MASKS=$masks)"
LUAGRAD_FUZZ_STATS=1 LUAGRAD_FUZZ_MASKS="$masks" fuzz fuzz_compile corpus_compile 256
cat "$out/fuzz_compile.out"

echo "fuzzing the safetensors reader for ${seconds}s (corpus: $out/corpus_safetensors and" \
     "tests/fuzz/corpus_safetensors)"
fuzz fuzz_safetensors corpus_safetensors 4096 -dict="$root/tests/fuzz/safetensors.dict"
echo "make fuzz: no crash, leak, undefined behaviour, difference from eager mode or" \
     "unsound file accepted found"
