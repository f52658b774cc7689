#!/usr/bin/env bash
# A client's counter survives `kill -9` of the server: builds the counter
# example, starts it on a fresh state directory, has a client count to 3
# and stay connected, kills the server with SIGKILL, restarts it on the
# same address and state directory, and has the client resume with its
# key: it must get `resumed 3`, then `count 4` for one more `inc`.
#
#   scripts/restart.sh
#
# Fails with the transcript on any mismatch; prints how long it took.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never
started=$(date +%s%N)

cargo build -p wscore-tokio --example counter
target_dir=$(cargo metadata --format-version 1 --no-deps |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
counter=$target_dir/debug/examples/counter

work=$(mktemp -d)
state=$work/state
server=
holder=
cleanup() {
  for pid in $server $holder; do
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT

fail() {
  echo "restart: $*" >&2
  for log in "$work"/*.log; do
    echo "--- $(basename "$log")" >&2
    cat "$log" >&2
  done
  exit 1
}

# Starts the server on $1 with log $2; sets $server and $addr.
start_server() {
  # The log exists before the server does: the loop below reads it at once.
  : >"$2"
  "$counter" --addr "$1" --state-dir "$state" >>"$2" 2>&1 &
  server=$!
  addr=
  for _ in $(seq 100); do
    addr=$(sed -n 's/^listening on \([^ ]*\) .*$/\1/p' "$2")
    [[ -n $addr ]] && return
    kill -0 "$server" 2>/dev/null || break
    sleep 0.1
  done
  fail "the server did not start on $1"
}

# Waits until file $1 has a line $2.
wait_for_line() {
  for _ in $(seq 100); do
    grep -qx -- "$2" "$1" && return
    sleep 0.1
  done
  fail "no line '$2' in $(basename "$1")"
}

# Port 0: the system picks a free port; the restart reuses it.
start_server 127.0.0.1:0 "$work/server1.log"
echo "counter server at $addr, state in $state"

: >"$work/client1.log"
"$counter" --client --addr "$addr" --inc 3 --hold >>"$work/client1.log" 2>&1 &
holder=$!
wait_for_line "$work/client1.log" "count 3"
key=$(sed -n 's/^key //p' "$work/client1.log")
[[ -n $key ]] || fail "the server sent no key"
[[ -f $state/$key.att ]] || fail "no file for key $key"
echo "client counted to 3 with key $key"

kill -9 "$server"
wait "$server" 2>/dev/null || true
server=
# The held connection ends with the server: 1006, no close handshake.
wait "$holder" || fail "the holding client failed"
holder=
grep -qx "server gone: 1006" "$work/client1.log" ||
  fail "the holding client did not see an abnormal end"
echo "server killed with SIGKILL; the client saw 1006"

start_server "$addr" "$work/server2.log"
grep -q "(1 counters left by earlier runs)" "$work/server2.log" ||
  fail "the restarted server did not find the counter on disk"
"$counter" --client --addr "$addr" --resume "$key" --inc 1 >"$work/client2.log" 2>&1 ||
  fail "the resuming client failed"
got=$(grep -v '^key ' "$work/client2.log" | tr '\n' ' ')
[[ $got == "resumed 3 count 4 " ]] || fail "expected 'resumed 3 count 4', got '$got'"
[[ ! -e $state/$key.att ]] || fail "the adopted key's file is still there"
echo "after the restart: $got"

# The client closed cleanly, so its file is deleted once the server
# hears the close.
for _ in $(seq 50); do
  compgen -G "$state/*.att" >/dev/null || break
  sleep 0.1
done
compgen -G "$state/*.att" >/dev/null && fail "a clean close left a file: $(ls "$state")"
echo "the clean close deleted the client's file"

elapsed_ms=$((($(date +%s%N) - started) / 1000000))
printf 'restart: ok in %d.%03d s\n' $((elapsed_ms / 1000)) $((elapsed_ms % 1000))
