#!/bin/sh
# Installs the Debian packages luagrad needs to build and test, when they are missing.
# As root it runs apt-get; otherwise it prints the exact command and fails.
set -eu

PACKAGES="gcc make cmake pkg-config lua5.4 liblua5.4-dev lua-busted graphviz valgrind"

missing=""
for p in $PACKAGES; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
  [ "$status" = "installed" ] || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

cmd="apt-get install -y --no-install-recommends$missing"
if [ "$(id -u)" -ne 0 ]; then
  echo "luagrad needs these Debian packages:$missing" >&2
  echo "Install them as root with:" >&2
  echo "  apt-get update && $cmd" >&2
  exit 1
fi
echo "Installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends $missing
