#!/bin/sh
# The rockspec builds luagrad.core from a list of files: it must name every C file of the
# core, graph and binding layers (the binding's noembed.c in place of the generated
# embedding), and no other. Prints what is missing or extra and fails.
root=${1:-$(dirname "$0")/..}
cd "$root" || exit 2
listed=$(grep -o '"src/[a-z]*/[a-z_]*\.c"' luagrad-scm-1.rockspec | tr -d '"' | sort)
present=$(ls src/core/*.c src/graph/*.c src/lua/*.c | sort)
if [ "$listed" = "$present" ]; then
  echo "rockspec: lists all $(echo "$present" | wc -l) C files of src/core, src/graph, src/lua"
  exit 0
fi
echo "rockspec sources differ from the tree (< listed only, > present only):"
tmp=$(mktemp -d)
echo "$listed" > "$tmp/listed"
echo "$present" > "$tmp/present"
diff "$tmp/listed" "$tmp/present"
rm -rf "$tmp"
exit 1
