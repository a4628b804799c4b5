#!/bin/sh
# Installs the build as the README says, into a temporary prefix ($HOME/.local with HOME a
# temporary directory), and uses it as a new user would: the README's `sh install` block runs
# as written (make install, the LUA_PATH/LUA_CPATH/PKG_CONFIG_PATH lines, a pkg-config build
# of its C host with an rpath), then the command, a host linked by hand against the static
# library, and the README's CMake snippet (tests/consumer) against the prefix. Last,
# `make uninstall` must leave no file behind.
#   tests/install_test.sh BUILD_DIR SOURCE_DIR
set -eu
build=$(cd "$1" && pwd)
src=$(cd "${2:-$(dirname "$0")/..}" && pwd)
here=$src/tests
HOME=$(mktemp -d)
export HOME
prefix=$HOME/.local
trap 'rm -rf "$HOME"' EXIT
cd "$HOME"

check () {  # check <expected> <actual>
  if [ "$1" != "$2" ]; then printf "expected '%s', got '%s'\n" "$1" "$2" >&2; exit 1; fi
}
block () {  # the README's fenced block after <!-- test: $1 -->
  awk -v tag="<!-- test: $1 -->" '$0 == tag { f = 1; next } f == 1 && /^```/ { f = 2; next }
    f == 2 && /^```/ { exit } f == 2 { print }' "$src/README.md"
}

# The README's block, as written, with `make` meaning the project's Makefile on this build.
block "c host" > host.c
out=$( { echo "make () { command make -s -C '$src' BUILD='$build' \"\$@\"; }"; block "sh install"; } |
       env -u MAKEFLAGS -u MAKELEVEL -u MFLAGS -u LUA_PATH -u LUA_CPATH sh -e 2>&1) ||
  { echo "$out" >&2; echo "the README's install block failed" >&2; exit 1; }
check "$(printf 'luagrad 0.1.0\ny = 15, dy/dx = 8')" "$(echo "$out" | tail -n 2)"
test -f "$build/install_manifest.txt"

# what the block's exports give a shell: the command, the module for lua5.4
lecture='local lg = require("luagrad"); local a, b, c = lg.value(5), lg.value(3), lg.value(2)
local J = 3 * (a + b * c); J:backward(); print(J.data, a.grad, b.grad, c.grad)'
export PATH="$prefix/bin:$PATH"
export LUA_PATH="$prefix/share/lua/5.4/?.lua;$prefix/share/lua/5.4/?/init.lua;;"
export LUA_CPATH="$prefix/lib/lua/5.4/?.so;;"
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
check "$prefix/bin/luagrad" "$(command -v luagrad)"
check "$(printf '33.0\t3.0\t6.0\t9.0')" "$(lua5.4 -e "$lecture")"
check "luagrad 0.1.0" "$(lua5.4 -l luagrad -e 'print(luagrad._VERSION)')"
check "$(printf '33.0\t3.0\t6.0\t9.0')" "$(env -u LUA_PATH -u LUA_CPATH luagrad -e "$lecture")"
check "0.1.0" "$(pkg-config --modversion luagrad)"

# the header and libraries; a host of the core alone, linked by hand against the static one
test -f "$prefix/include/luagrad.h"
for l in "$prefix"/lib/libluagrad.a "$prefix"/lib/libluagrad.so.0; do test -e "$l"; done
if command -v objdump >/dev/null; then
  check "libluagrad.so.0" "$(objdump -p "$prefix"/lib/libluagrad.so | awk '/SONAME/ {print $2}')"
fi
cat > core.c <<'C'
#include <stdio.h>
#include <luagrad.h>
int main (void) {
  lg_Arena *A = lg_arena_new(NULL, NULL);
  lg_Value *x = lg_leaf(A, 3);
  lg_Arg xx[2] = {{x, 0}, {x, 0}};
  lg_Value *y = lg_apply(A, lg_op_find("*"), 2, xx, NULL);
  lg_backward(A, y, 1.0);
  printf("%g %g\n", lg_data(y), lg_grad(x));
  lg_arena_free(A);
  return 0;
}
C
cc -o core core.c -I"$prefix/include" "$prefix/lib/libluagrad.a" \
  $(pkg-config --static --libs-only-l luagrad | sed "s/-lluagrad//")
check "9 6" "$(./core)"

# the README's CMake snippet (tests/consumer/CMakeLists.txt), with a differentiable C function
cmake -S "$here/consumer" -B cmake-consumer -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build cmake-consumer >/dev/null
check "33 3 6 9 2" "$(./cmake-consumer/host)"   # CMake's rpath finds libluagrad

# make uninstall: every installed file gone, and luagrad's own directories with them
make -s -C "$src" BUILD="$build" uninstall >/dev/null
left=$(find "$prefix" -type f -o -type l)
check "" "$left"
for d in share/lua/5.4/luagrad lib/lua/5.4/luagrad lib/cmake/luagrad; do
  if [ -d "$prefix/$d" ]; then echo "make uninstall left $prefix/$d" >&2; exit 1; fi
done
echo "installed as the README says, used, and uninstalled"
