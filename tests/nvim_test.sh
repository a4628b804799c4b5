#!/bin/sh
# luagrad inside Neovim (Debian's neovim: LuaJIT), headless, as a plugin would load it: first
# tests/nvim_check.lua (gradients of Values and tensors, error messages, an editor command),
# then busted and the specs inside it (all but the #slow ones and the two that start other
# programs). Needs nvim, and the LuaJIT module (exit 77: CTest reports it skipped).
#   tests/nvim_test.sh <source dir> <dir holding luagrad/core.so for LuaJIT>
set -eu
src=$1 cpath=$2
if ! command -v nvim >/dev/null 2>&1; then
  echo "nvim not found: the Neovim test is skipped (scripts/deps.sh --all installs neovim)"
  exit 77
fi
if ! nvim --version | grep -q LuaJIT; then
  echo "this nvim is not built with LuaJIT: the Neovim test is skipped"
  exit 77
fi
if [ ! -f "$cpath/luagrad/core.so" ]; then
  echo "no LuaJIT build of luagrad in $cpath: the Neovim test is skipped (apt-get install luajit libluajit-5.1-dev)"
  exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# no user configuration, shada, swap files or state of the user's
run () {
  env HOME="$tmp" XDG_CONFIG_HOME="$tmp" XDG_DATA_HOME="$tmp" XDG_STATE_HOME="$tmp" \
      OPENBLAS_NUM_THREADS=1 LUAGRAD_SRC="$src" LUAGRAD_CPATH="$cpath" \
      timeout 600 nvim --headless -u NONE -i NONE -n -c "luafile $1" -c 'cquit 2' </dev/null
}
cd "$src"
run tests/nvim_check.lua

# busted (lua-busted) is found in Debian's Lua 5.1 tree, which Neovim's LuaJIT searches
specs=""
for f in spec/*_spec.lua; do
  case $f in
    spec/command_spec.lua|spec/examples_spec.lua) ;;  # they start other programs
    *) specs="$specs $f" ;;
  esac
done
LUAGRAD_SPECS=$specs run tests/nvim_specs.lua
echo "nvim: the specs passed inside Neovim"
