#!/bin/sh
# The luagrad command's REPL used as a person uses it, in a terminal (tmux): `lg` is bound,
# the Up arrow brings the last line back, the Left arrow moves in the line, and Ctrl-D ends
# it. Needs tmux, and a command built with readline (exit 77: CTest reports it skipped).
#   tests/repl_test.sh path/to/luagrad
set -eu
bin=$1
if ! command -v tmux >/dev/null 2>&1; then
  echo "tmux not found: the REPL test is skipped (apt-get install tmux)"
  exit 77
fi
if ! ldd "$bin" 2>/dev/null | grep -q libreadline; then
  echo "$bin is built without readline: the REPL test is skipped (apt-get install libreadline-dev)"
  exit 77
fi
sock="luagrad-repl-$$"      # a server of our own, never the user's
home=$(mktemp -d)           # no ~/.inputrc of the user's
trap 'tmux -L "$sock" kill-server 2>/dev/null || true; rm -rf "$home"' EXIT
t () { tmux -L "$sock" "$@"; }

# waits until the pane shows the pattern (grep -E) at least n times (default 1)
await () {
  i=0
  while [ "$(t capture-pane -p -t repl | grep -cE -- "$1" || true)" -lt "${2:-1}" ]; do
    i=$((i + 1))
    if [ $i -gt 100 ]; then
      echo "the REPL never showed '$1' (${2:-1} times); the screen was:" >&2
      t capture-pane -p -t repl >&2
      exit 1
    fi
    sleep 0.1
  done
}

t new-session -d -s repl -x 100 -y 30 "env HOME=$home INPUTRC=/dev/null $bin; echo 'exited:'\$?; sleep 30"
await '^>$'
t send-keys -t repl 'lg.value(2) * 3' Enter
await '^Value\(data=6, grad=0\)$'
t send-keys -t repl Up Enter                         # the history: the same line again
await '^Value\(data=6, grad=0\)$' 2
t send-keys -t repl 'print(luagrad._VERSION, 1+)' Left 1 Enter   # edit inside the line
await '^luagrad 0\.1\.0	2$|^luagrad 0\.1\.0 +2$'
t send-keys -t repl 'for i = 1, 2 do' Enter 'print("step " .. lg.value(i))' Enter
t send-keys -t repl -l 'end'                         # -l: not the End key
t send-keys -t repl Enter
await '^step Value\(data=2, grad=0\)$'
t send-keys -t repl C-d
await '^exited:0$'
if t capture-pane -p -t repl | grep -q 'bad binary format'; then
  echo "an arrow key reached the parser" >&2
  exit 1
fi
echo "REPL: lg bound, history, editing and Ctrl-D work"
