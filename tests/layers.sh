#!/bin/sh
# The layers of src/ point down only: core <- graph <- lua <- cli. A file may include the
# headers of its own folder and of the folders below it; core and graph never include
# lua.h (or any header of Lua's). Prints every include that breaks this and fails.
src=${1:-$(dirname "$0")/../src}
status=0
check () {   # folder, then the folders whose headers it may include
  dir=$1; shift
  for f in "$src/$dir"/*.[ch]; do
    grep -n '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$f" | while IFS= read -r line; do
      inc=$(printf '%s\n' "$line" | sed 's/.*"\(.*\)".*/\1/')
      case $inc in
        luagrad.h) continue ;;
        lua.h|lauxlib.h|lualib.h|luajit.h|luaconf.h)
          [ "$dir" = lua ] || [ "$dir" = cli ] && continue ;;
        */*)
          for ok in "$dir" "$@"; do
            case $inc in "$ok"/*) continue 2 ;; esac
          done ;;
      esac
      echo "$f:${line%%:*}: includes \"$inc\", which $dir/ may not"
      echo x > "$tmpf"
    done
  done
}
tmpf=$(mktemp)
trap 'rm -f "$tmpf"' EXIT
check core
check graph core
check lua graph core
check cli
[ -s "$tmpf" ] && status=1
[ $status -eq 0 ] && echo "layers: core <- graph <- lua <- cli, no include points up"
exit $status
