#!/bin/sh
# Builds the rockspec offline into a temporary tree with `luarocks make`, for one Lua, and
# uses the installed copy only: its test (tests/rock_check.lua, via `luarocks test` where the
# interpreter is luarocks' own) and the quick specs, from a directory holding no other copy.
#   tests/rock_test.sh <source dir> <lua5.4 | lua5.3 | lua5.2 | lua5.1 | luajit> <busted> [incdir]
# incdir: the Lua headers' directory, when luarocks would not find them (LuaJIT's).
set -eu
src=$1 lua=$2 busted=$3
vars=${4:+LUA_INCDIR=$4}
case $lua in
  luajit) ver=5.1 ;;   # LuaJIT is a 5.1 for luarocks; its headers come as incdir
  lua5.*) ver=${lua#lua} ;;
  *) echo "unknown Lua: $lua" >&2; exit 2 ;;
esac
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/empty" "$tmp/work"
# the builtin build writes objects next to the sources: build a copy
cp -R "$src/luagrad-scm-1.rockspec" "$src/src" "$src/include" "$src/lua" "$src/spec" \
      "$src/tests" "$tmp/work/"
rm -f "$tmp"/work/src/*/*.o
tree=$tmp/tree
rocks () { luarocks --lua-version="$ver" --tree="$tree" --only-server="$tmp/empty" "$@"; }

cd "$tmp/work"
rocks lint luagrad-scm-1.rockspec
rocks make luagrad-scm-1.rockspec $vars >"$tmp/make.log" 2>&1 || { cat "$tmp/make.log"; exit 1; }
test -f "$tree/lib/lua/$ver/luagrad/core.so"
test -f "$tree/share/lua/$ver/luagrad/init.lua"
rm -rf lua src include   # from here on, only the installed copy can be found

# the installed tree alone is enough: no system path at all
LUA_PATH="$tree/share/lua/$ver/?.lua;$tree/share/lua/$ver/?/init.lua" \
LUA_CPATH="$tree/lib/lua/$ver/?.so" "$lua" tests/rock_check.lua

eval "$(rocks path)"   # the tree first, then the system's paths (busted's)
if [ "$lua" != luajit ]; then rocks test luagrad-scm-1.rockspec; fi
"$lua" "$busted" spec/value_spec.lua spec/ops_spec.lua spec/backward_spec.lua \
      spec/errors_spec.lua
