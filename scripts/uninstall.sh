#!/bin/sh
# Removes what `make install` installed: every file listed in the manifest CMake wrote
# (one absolute path a line), then the directories of luagrad's own that are left empty
# (.../luagrad), never a shared one such as lib/ or include/.
#   scripts/uninstall.sh build/install_manifest.txt
set -eu
manifest=$1
n=0
while IFS= read -r f || [ -n "$f" ]; do
  [ -n "$f" ] || continue
  if [ -e "$f" ] || [ -L "$f" ]; then
    rm -f "$f"
    n=$((n + 1))
  fi
  d=$(dirname "$f")
  if [ "$(basename "$d")" = luagrad ]; then rmdir "$d" 2>/dev/null || true; fi
done <"$manifest"
echo "removed $n files listed in $manifest"
