#!/usr/bin/env bash
# Runs the chat example in Chromium: builds the example, starts it on a free
# port, runs tests/browser/chat.test.mjs against it (playwright-core driving
# the system Chromium), stops the server, and exits with the test's status.
#
#   scripts/browser.sh
#
# Needs Node.js and Chromium (Debian: `apt-get install chromium`; another
# binary through CHROMIUM=/path/to/chromium). The npm packages are installed
# from tests/browser/package-lock.json when they are missing.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never

source scripts/lib/browser-env.sh

cargo build -p wscore-tokio --example chat
target_dir=$(cargo metadata --format-version 1 --no-deps |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')

log=$(mktemp)
server=
cleanup() {
  if [[ -n $server ]]; then
    kill "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
  fi
  rm -f "$log"
}
trap cleanup EXIT

# Port 0: the system picks a free port, and the server's first line names it.
"$target_dir/debug/examples/chat" --addr 127.0.0.1:0 >"$log" 2>&1 &
server=$!
url=
for _ in $(seq 100); do
  url=$(sed -n 's/^listening on \(http:[^ ]*\)$/\1/p' "$log")
  [[ -n $url ]] && break
  if ! kill -0 "$server" 2>/dev/null; then
    break
  fi
  sleep 0.1
done
if [[ -z $url ]]; then
  echo "the chat server did not start:" >&2
  cat "$log" >&2
  exit 1
fi
echo "chat server at $url"

status=0
CHAT_URL=$url CHROMIUM=$chromium node tests/browser/chat.test.mjs || status=$?
if [[ $status -ne 0 ]]; then
  echo "server output:" >&2
  cat "$log" >&2
fi
exit "$status"
