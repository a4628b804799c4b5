#!/bin/sh
# Installs the Debian packages luagrad needs, when they are missing, at one of three levels:
#   scripts/deps.sh --run   what `make run` needs: a C compiler, CMake, Lua 5.4's headers,
#                           readline (line editing in the luagrad REPL), OpenBLAS, zlib
#   scripts/deps.sh         what `make test` needs: also busted, Graphviz, valgrind, tmux,
#                           librsvg2-bin (rsvg-convert renders the plots' SVG in their spec),
#                           and (optional) clang for the fuzzer
#   scripts/deps.sh --all   also Lua 5.1, 5.2, 5.3, LuaJIT, luarocks and luacheck, the hosts
#                           the module is tested inside (LÖVE and Neovim), and Fashion-MNIST
#                           (examples/fashion_mnist.lua): what CI runs
# As root it runs apt-get, printing one line (apt's own output goes to a log, shown only if
# it fails); otherwise it prints the exact command and fails. Optional packages are only
# named when missing without root: without clang `make fuzz` skips with a message.
set -eu

# libopenblas-dev: CBLAS for tensor matmul (without it the build falls back to a C loop);
# zlib1g-dev: gzip-compressed IDX files in lg.data.read_idx (without it only plain ones)
RUN="gcc make cmake pkg-config lua5.4 liblua5.4-dev libreadline-dev libopenblas-dev
  zlib1g-dev"
TEST="lua-busted graphviz valgrind tmux librsvg2-bin"
EVERY_LUA="lua5.1 liblua5.1-0-dev lua5.2 liblua5.2-dev lua5.3 liblua5.3-dev luajit
  libluajit-5.1-dev luarocks lua-check"
# the data of examples/fashion_mnist.lua, in /usr/share/datasets/fashion-mnist (30 MB)
DATASETS="dataset-fashion-mnist"
FUZZ="clang libclang-rt-14-dev"
# real LuaJIT hosts (tests/love_test.sh, tests/nvim_test.sh; skipped when missing): LÖVE 11
# drawn headless by xvfb-run (xauth) through Mesa's software renderer, and Neovim
HOSTS="love xvfb xauth libgl1-mesa-dri neovim"
PACKAGES="$RUN $TEST"
OPTIONAL=$FUZZ
for opt in "$@"; do
  case $opt in
    --run) PACKAGES=$RUN; OPTIONAL="" ;;
    --all) PACKAGES="$RUN $TEST $EVERY_LUA $HOSTS $DATASETS"; OPTIONAL=$FUZZ ;;
    *) echo "usage: $0 [--run | --all]" >&2; exit 2 ;;
  esac
done

missing_of () {
  out=""
  for p in "$@"; do
    status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
    [ "$status" = "installed" ] || out="$out $p"
  done
  echo "$out"
}
# shellcheck disable=SC2086
missing=$(missing_of $PACKAGES)
# shellcheck disable=SC2086
optional=$(missing_of $OPTIONAL)
[ -z "$missing" ] && [ -z "$optional" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  if [ -n "$optional" ]; then
    echo "note: the fuzzer needs$optional (make fuzz will skip); as root:" >&2
    echo "  apt-get update && apt-get install -y --no-install-recommends$optional" >&2
  fi
  [ -z "$missing" ] && exit 0
  echo "luagrad needs these Debian packages:$missing" >&2
  echo "Install them as root with:" >&2
  echo "  apt-get update && apt-get install -y --no-install-recommends$missing" >&2
  exit 1
fi
echo "Installing:$missing$optional"
log=$(mktemp "${TMPDIR:-/tmp}/luagrad-deps.XXXXXX")
export DEBIAN_FRONTEND=noninteractive
# shellcheck disable=SC2086
if ! { apt-get update -q && apt-get install -y -q --no-install-recommends $missing $optional; } \
     >"$log" 2>&1; then
  cat "$log" >&2
  echo "apt-get failed (its output is above, and in $log)" >&2
  exit 1
fi
rm -f "$log"
