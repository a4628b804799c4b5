#!/bin/sh
# Installs the build into a temporary prefix and uses it as a new user would: the stock
# lua5.4 finds the module under the prefix's Lua directories, the installed command runs a
# script, and programs outside the project build against the installed header and
# libraries: by hand, with pkg-config, and with CMake's find_package.
set -eu
build=$1
here=$(cd "$(dirname "$0")" && pwd)
prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT
cmake --install "$build" --prefix "$prefix" >/dev/null

check () {  # check <expected> <actual>
  if [ "$1" != "$2" ]; then echo "expected '$1', got '$2'" >&2; exit 1; fi
}

lecture='local lg = require("luagrad"); local a, b, c = lg.value(5), lg.value(3), lg.value(2)
local J = 3 * (a + b * c); J:backward(); print(J.data, a.grad, b.grad, c.grad)'

out=$(LUA_PATH="$prefix/share/lua/5.4/?.lua;$prefix/share/lua/5.4/?/init.lua" \
      LUA_CPATH="$prefix/lib/lua/5.4/?.so" lua5.4 -e "$lecture")
check "$(printf '33.0\t3.0\t6.0\t9.0')" "$out"

out=$(LUA_PATH="$prefix/share/lua/5.4/?.lua;$prefix/share/lua/5.4/?/init.lua" \
      LUA_CPATH="$prefix/lib/lua/5.4/?.so" lua5.4 -l luagrad -e 'print(luagrad._VERSION)')
check "luagrad 0.1.0" "$out"

out=$(env -u LUA_PATH -u LUA_CPATH "$prefix/bin/luagrad" -e "$lecture")
check "$(printf '33.0\t3.0\t6.0\t9.0')" "$out"

test -f "$prefix/include/luagrad.h"
libdir=$(ls -d "$prefix"/lib*/ | head -n 1)
for l in "$prefix"/lib*/libluagrad.a "$prefix"/lib*/libluagrad.so.0; do test -e "$l"; done
if command -v objdump >/dev/null; then
  check "libluagrad.so.0" "$(objdump -p "$prefix"/lib*/libluagrad.so | awk '/SONAME/ {print $2}')"
fi
cat > "$prefix/host.c" <<'C'
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
cc -o "$prefix/host" "$prefix/host.c" -I"$prefix/include" "$prefix"/lib*/libluagrad.a -lm
check "9 6" "$("$prefix/host")"
# an embedding host with a differentiable C function, found by pkg-config (shared library)
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
cc -o "$prefix/pc-consumer" "$here/consumer/main.c" $(pkg-config --cflags --libs luagrad)
check "33 3 6 9 2" "$(LD_LIBRARY_PATH="$prefix/lib" "$prefix/pc-consumer")"
check "0.1.0" "$(pkg-config --modversion luagrad)"

# the same program, found by CMake as luagrad::luagrad
cmake -S "$here/consumer" -B "$prefix/cmake-consumer" -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$prefix/cmake-consumer" >/dev/null
check "33 3 6 9 2" "$("$prefix/cmake-consumer/consumer")"   # the rpath finds libluagrad

echo "installed and used from $prefix (libdir $libdir)"
