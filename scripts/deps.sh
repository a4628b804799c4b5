#!/bin/sh
# Installs the Debian packages luagrad needs to build and test, when they are missing.
# As root it runs apt-get; otherwise it prints the exact command and fails. The fuzzer's
# packages (clang and its libFuzzer runtime) are optional: without root they are only
# named, and `make fuzz` skips with a message.
#   scripts/deps.sh         what `make test` needs: Lua 5.4 (other Luas are tested if present)
#   scripts/deps.sh --all   also Lua 5.1, 5.2, 5.3, LuaJIT, luarocks and luacheck (what CI runs)
set -eu

PACKAGES="gcc make cmake pkg-config lua5.4 liblua5.4-dev lua-busted graphviz valgrind"
PACKAGES="$PACKAGES libopenblas-dev"   # CBLAS for tensor matmul (the build falls back to a C loop)
EVERY_LUA="lua5.1 liblua5.1-0-dev lua5.2 liblua5.2-dev lua5.3 liblua5.3-dev luajit
  libluajit-5.1-dev luarocks lua-check"
OPTIONAL="clang libclang-rt-14-dev"
for opt in "$@"; do
  case $opt in
    --all) PACKAGES="$PACKAGES $EVERY_LUA" ;;
    *) echo "usage: $0 [--all]" >&2; exit 2 ;;
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
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing $optional
