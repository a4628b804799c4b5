#!/bin/sh
# The LÖVE toy (examples/love) run as its users run it, in Debian's LÖVE 11 (LuaJIT), with no
# display: xvfb-run gives it an X server, Mesa's software renderer draws. 240 frames with seed
# 1, three clicks through LÖVE's event queue at frame 120; then it writes its screenshot and
# figures and quits. The test checks that it learned, and that the screenshot is the window.
# Needs love and xvfb-run, and the LuaJIT module (exit 77: CTest reports it skipped).
#   tests/love_test.sh <source dir> <dir holding luagrad/core.so for LuaJIT>
# LUAGRAD_LOVE_OUT=dir keeps the screenshot and figures there.
set -eu
src=$1 cpath=$2
for tool in love xvfb-run xauth; do
  if ! command -v $tool >/dev/null 2>&1; then
    echo "$tool not found: the LÖVE test is skipped (scripts/deps.sh --all installs love xvfb xauth libgl1-mesa-dri)"
    exit 77
  fi
done
if [ ! -f "$cpath/luagrad/core.so" ]; then
  echo "no LuaJIT build of luagrad in $cpath: the LÖVE test is skipped (apt-get install luajit libluajit-5.1-dev)"
  exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
out=${LUAGRAD_LOVE_OUT:-$tmp/out}
mkdir -p "$out" "$tmp/home"
rm -f "$out/figures.txt" "$out/screenshot.png"

# HOME and XDG_DATA_HOME: LÖVE's save directory goes there, not in the user's
if ! env HOME="$tmp/home" XDG_DATA_HOME="$tmp/home" LIBGL_ALWAYS_SOFTWARE=1 \
     SDL_AUDIODRIVER=dummy OPENBLAS_NUM_THREADS=1 \
     LUA_PATH="$src/lua/?.lua;$src/lua/?/init.lua;;" LUA_CPATH="$cpath/?.so;;" \
     timeout 300 xvfb-run -a -s "-screen 0 1024x768x24" \
     love "$src/examples/love" --frames 240 --seed 1 --out "$out" \
       --click 300,300,1 --click 100,500,2 --click 450,120,1 >"$tmp/log" 2>&1; then
  grep -v '^ALSA\|^AL lib' "$tmp/log" >&2 || true
  echo "love failed (its output is above)" >&2
  exit 1
fi
if [ ! -f "$out/figures.txt" ]; then
  cat "$tmp/log" >&2
  echo "the toy wrote no figures" >&2
  exit 1
fi
cat "$out/figures.txt"
fig () { sed -n "s/^$1 //p" "$out/figures.txt"; }

# it learned: from chance (ln 2 = 0.693) to a loss below 0.05 and every point right,
# the three clicked points included
awk -v a="$(fig loss_first)" -v b="$(fig loss)" -v c="$(fig accuracy)" 'BEGIN {
  if (a < 0.6) { print "the first loss " a " is not that of an untrained network"; exit 1 }
  if (b >= 0.05) { print "the loss " b " did not fall below 0.05"; exit 1 }
  if (c < 1) { print "the accuracy " c " is below 100%"; exit 1 } }' >&2
[ "$(fig frames)" = 240 ] && [ "$(fig steps)" = 720 ] && [ "$(fig points)" = 203 ] || {
  echo "expected 240 frames, 720 steps and 203 points (200 and 3 clicks)" >&2; exit 1; }

# the screenshot is a PNG of the whole 960x600 window (its IHDR chunk says so), not blank
png=$out/screenshot.png
head=$(od -An -tx1 -N24 "$png" | tr -d ' \n')
case $head in
  89504e470d0a1a0a0000000d49484452000003c000000258) ;;
  *) echo "screenshot.png is not a 960x600 PNG (its first bytes: $head)" >&2; exit 1 ;;
esac
size=$(wc -c <"$png")
if [ "$size" -lt 20000 ]; then
  echo "screenshot.png has only $size bytes: the window was not drawn" >&2
  exit 1
fi
echo "LÖVE: learned the spirals (loss $(fig loss), accuracy $(fig accuracy)); screenshot $size bytes"
