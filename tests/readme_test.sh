#!/bin/sh
# Every command and program of README.md, run as written. Each block the README shows is
# marked by a comment on the line before it, <!-- test: KIND NAME -->; this script takes the
# blocks from there (so the README cannot drift from what is tested) and:
#   lua NAME / out NAME   runs the Lua with the luagrad command; stdout must be the out block
#   sh commands           `make run` in a fresh copy of the tree: the lecture comes first, and
#                         the busted and stock-interpreter commands then work in that copy
#   repl                  the lines after "> " fed to the REPL: it must answer the others
#   sh stock              each command, for each Lua installed (the others are skipped)
#   lua spec / sh busted  the spec saved as model_spec.lua, then the busted command
#   c host / sh host      the C program built and run as shown
#   cmake consumer        the very file tests/consumer/CMakeLists.txt (install_test.sh builds it)
# The `sh install` block runs in tests/install_test.sh.
#   tests/readme_test.sh SOURCE_DIR BUILD_DIR
set -eu
src=$(cd "$1" && pwd)
build=$(cd "$2" && pwd)
readme=$src/README.md
bin=$build/luagrad
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0

block () {  # the fenced block after <!-- test: $1 -->
  awk -v tag="<!-- test: $1 -->" '
    $0 == tag { f = 1; next }
    f == 1 && /^```/ { f = 2; next }
    f == 2 && /^```/ { found = 1; exit }
    f == 2 { print }
    END { if (!found) exit 1 }' "$readme" || { echo "README.md has no block '$1'" >&2; exit 1; }
}
fail () { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
same () {  # same NAME EXPECTED ACTUAL
  if [ "$2" = "$3" ]; then echo "ok: $1"
  else fail "$1"; printf 'expected:\n%s\ngot:\n%s\n' "$2" "$3" >&2; fi
}

# The tree as built by `make test` (every Lua's module), for the commands run from the top.
mkdir "$work/full"
ln -s "$src/lua" "$work/full/lua"
ln -s "$src/include" "$work/full/include"
ln -s "$build" "$work/full/build"

for name in lecture training; do
  same "lua $name" "$(block "out $name")" "$(block "lua $name" | "$bin" -)"
done

# make run in a fresh copy of the tree (the files git knows, as they are now)
cmds=$(block "sh commands")
same "the two commands" "make run make test" "$(echo "$cmds" | awk '{printf "%s%s", (NR > 1 ? " " : ""), $1 " " $2}')"
mkdir "$work/clone"
(cd "$src" && git ls-files -z | xargs -0 cp --parents -t "$work/clone" 2>/dev/null) ||
  (cd "$src" && tar cf - --exclude='./build*' . | tar xf - -C "$work/clone")
out=$(cd "$work/clone" && env -u MAKEFLAGS -u MAKELEVEL -u MFLAGS -u BUILD make run 2>&1) ||
  fail "make run exited with an error"
expected=$(block "out make-run")
same "make run: the lecture is the first thing printed" "$expected" \
     "$(echo "$out" | head -n "$(echo "$expected" | wc -l)")"
for t in tests/test_core asan/luagrad/core.so examples/host/luagrad-sim lua5.1 luajit; do
  # nothing but the command and the 5.4 module: no tests, sanitizer builds, other examples
  [ -d "$work/clone/build/$t" ] && t=$t/luagrad/core.so
  if [ -e "$work/clone/build/$t" ]; then fail "make run built $t"; fi
done

# the REPL: what follows "> " is typed, the other lines are its answers
transcript=$(block repl)
answers=$(echo "$transcript" | sed -n 's/^> //p' | "$bin" -i 2>&1 | tail -n +3 |
          sed -e ':a' -e 's/^>>* //' -e 'ta' | sed '/^$/d')
same "the REPL transcript" "$(echo "$transcript" | grep -v '^> ')" "$answers"

# the stock interpreters: one command per Lua, continuation lines joined
block "sh stock" | awk '/\\$/ { sub(/\\$/, ""); line = line $0; next } { print line $0; line = "" }' \
  > "$work/stock"
for tree in clone full; do   # after make run (5.4 only), and after make test (every Lua)
  while IFS= read -r cmd; do
    lua=$(echo "$cmd" | awk '{ for (i = 1; i <= NF; i++) if ($i !~ /=/) { print $i; exit } }')
    cpath=$(echo "$cmd" | sed -n "s/.*LUA_CPATH='\([^?]*\)?.*/\1/p")
    if ! command -v "$lua" >/dev/null 2>&1 || [ ! -e "$work/$tree/${cpath}luagrad/core.so" ]; then
      echo "skipped: $lua in the $tree tree (not installed, or no module built for it)"
      continue
    fi
    same "$lua from the $tree build tree" "Value(data=8, grad=0)" \
         "$(cd "$work/$tree" && sh -c "$cmd" 2>&1)"
  done < "$work/stock"
done

# a busted spec, run by the README's command in the copy make run built
block "lua spec" > "$work/clone/model_spec.lua"
if out=$(cd "$work/clone" && sh -c "$(block "sh busted")" 2>&1); then
  case $out in *"2 successes / 0 failures / 0 errors"*) echo "ok: the busted spec" ;;
               *) fail "the busted spec"; echo "$out" >&2 ;; esac
else
  fail "the busted command"; echo "$out" >&2
fi

# the C host, built in the copy make run built
block "c host" > "$work/clone/host.c"
same "the C host" "$(block "out host")" "$(cd "$work/clone" && sh -c "$(block "sh host")" 2>&1)"

# the CMake snippet is the consumer test's whole CMakeLists.txt
same "the CMake snippet is tests/consumer/CMakeLists.txt" "$(cat "$src/tests/consumer/CMakeLists.txt")" \
     "$(block "cmake consumer")"

[ "$failures" -eq 0 ] || { echo "$failures README checks failed" >&2; exit 1; }
echo "every README command works as written"
