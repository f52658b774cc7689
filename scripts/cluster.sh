#!/usr/bin/env bash
# Rooms across processes on a real Redis: runs the cluster crate's tests
# (they start redis-server processes of their own; the ones that need it
# are `#[ignore]`d in a plain `cargo test` and run here with
# --include-ignored), then the chat example as two processes on one Redis
# with two Chromium pages, one on each (tests/browser/cluster.test.mjs).
#
#   scripts/cluster.sh
#
# Needs redis-server (Debian: `apt-get install redis-server`), Node.js and
# Chromium (another binary through CHROMIUM=/path/to/chromium). The npm
# packages are installed from tests/browser/package-lock.json when they
# are missing.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never

command -v redis-server >/dev/null || {
  echo "redis-server is needed: apt-get install redis-server" >&2
  exit 1
}
source scripts/lib/browser-env.sh

# The tests find redis-server themselves; CI=true makes its absence fail.
cargo test -p wscore-cluster -- --include-ignored

cargo build -p wscore-tokio --example chat
target_dir=$(cargo metadata --format-version 1 --no-deps |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT

port=$(free_port)
redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no >"$work/redis.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
  redis-cli -p "$port" ping >/dev/null 2>&1 && break
  sleep 0.1
done
redis_url="redis://127.0.0.1:$port/"

urls=()
for i in 1 2; do
  # Port 0: the system picks a free port, and the server's first line names it.
  "$target_dir/debug/examples/chat" --addr 127.0.0.1:0 --redis "$redis_url" >"$work/chat$i.log" 2>&1 &
  pids+=($!)
  url=
  for _ in $(seq 100); do
    url=$(sed -n 's/^listening on \(http:[^ ]*\)$/\1/p' "$work/chat$i.log")
    [[ -n $url ]] && break
    kill -0 "${pids[-1]}" 2>/dev/null || break
    sleep 0.1
  done
  if [[ -z $url ]]; then
    echo "chat server $i did not start:" >&2
    cat "$work/chat$i.log" >&2
    exit 1
  fi
  echo "chat server $i at $url"
  urls+=("$url")
done

status=0
CHAT_URLS="${urls[*]}" CHROMIUM=$chromium node tests/browser/cluster.test.mjs || status=$?
if [[ $status -ne 0 ]]; then
  for i in 1 2; do
    echo "chat server $i output:" >&2
    cat "$work/chat$i.log" >&2
  done
fi
exit "$status"
