#!/usr/bin/env bash
# Autobahn TestSuite conformance of both adapters, in both roles.
#
# The suite is run by `kosoku` (from PyPI), installed into a virtualenv
# under target/. For each adapter (tokio, async-std):
#   server role: the echo_server example, driven by `kosoku -m fuzzingclient`;
#   client role: `kosoku -m fuzzingserver`, driven by the autobahn_client
#                example.
# Sections 1-10 run for both adapters, then sections 12 and 13
# (permessage-deflate) for both adapters with `--deflate`. The C ABI's echo
# server (adapters/ffi/examples/echo_server.c, built with AddressSanitizer
# and UBSan) runs sections 1-7, 10, 12 and 13 in one more run, with
# `--deflate`. `bash scripts/autobahn.sh ffi` runs only that. Every run prints
# one summary line; the script fails if any case is FAILED, UNIMPLEMENTED or
# did not run, or if its closing handshake was judged wrong.
#
# Reports (index.json, per-case JSON and HTML) are left in
# target/autobahn/reports/<adapter>-<role>/ (under $CARGO_TARGET_DIR if set).
set -euo pipefail
cd "$(dirname "$0")/.."

KOSOKU_VERSION=0.1.0
TARGET=${CARGO_TARGET_DIR:-target}
WORK=$TARGET/autobahn
VENV=$WORK/venv
# Which cases a run selects, and the sections that must then appear.
PLAIN=(-x '12.*' -x '13.*')
PLAIN_SECTIONS=1,2,3,4,5,6,7,9,10
DEFLATE=(-i '12.*' -i '13.*')
DEFLATE_SECTIONS=12,13
# Each run is bounded; a hang must not eat the CI budget.
RUN_TIMEOUT=900
started=$SECONDS

pids=()
cleanup() {
  for pid in "${pids[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  wait 2>/dev/null || true
}
trap cleanup EXIT

log() { printf '%s\n' "$*" >&2; }

# ---- kosoku -------------------------------------------------------------

install_kosoku() {
  if [[ -x $VENV/bin/kosoku ]] && "$VENV/bin/pip" show kosoku 2>/dev/null |
      grep -qx "Version: $KOSOKU_VERSION"; then
    return
  fi
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "kosoku==$KOSOKU_VERSION"
}

# ---- build ----------------------------------------------------------------

# The async-std examples carry a prefix (example names are global to the
# workspace's target directory); the binaries are copied under one scheme.
build() {
  mkdir -p "$WORK/bin"
  cargo build --release --quiet -p wscore-tokio \
    --example echo_server --example autobahn_client
  cargo build --release --quiet -p wscore-async-std \
    --example async_std_echo_server --example async_std_autobahn_client
  for example in echo_server autobahn_client; do
    cp "$TARGET/release/examples/$example" "$WORK/bin/tokio-$example"
    cp "$TARGET/release/examples/async_std_$example" "$WORK/bin/async-std-$example"
  done
}

# The C echo server, linked with the release staticlib, under the
# sanitizers (a report fails the run: the server exits and cases fail).
build_ffi() {
  mkdir -p "$WORK/bin"
  cargo build --release --quiet -p wscore-ffi
  gcc -std=c11 -g -O1 -Wall -Wextra -Werror -fsanitize=address,undefined \
    -fno-sanitize-recover=undefined -fno-omit-frame-pointer -Iadapters/ffi/include \
    adapters/ffi/examples/echo_server.c "$TARGET/release/libwscore_ffi.a" \
    -lpthread -ldl -lm -lrt -o "$WORK/bin/ffi-echo_server"
}

# ---- helpers ------------------------------------------------------------

# Waits until `file` has a line matching `pattern` (a process announcing
# its address), then prints that line; fails after 30 s or if `pid` exits.
wait_for_line() {
  local file=$1 pattern=$2 pid=$3
  for _ in $(seq 300); do
    if grep -m1 -E "$pattern" "$file" 2>/dev/null; then
      return 0
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
      log "process $pid exited before announcing itself:"
      cat "$file" >&2
      return 1
    fi
    sleep 0.1
  done
  log "timed out waiting for /$pattern/ in $file"
  return 1
}

# Waits for `pid` to exit, at most `seconds`.
wait_pid() {
  local pid=$1 seconds=$2
  for _ in $(seq $((seconds * 10))); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  log "process $pid still running after ${seconds}s"
  return 1
}

# Prints the summary of one run from its index.json; fails on any case that
# is not a pass.
summarize() {
  local label=$1 index=$2 sections=$3
  python3 - "$label" "$index" "$sections" <<'EOF'
import json
import sys

label, path, expected = sys.argv[1], sys.argv[2], sys.argv[3].split(",")
try:
    with open(path) as f:
        index = json.load(f)
except (OSError, ValueError) as e:
    print(f"autobahn {label}: no report ({e})")
    sys.exit(1)

cases = {cid: r for agent in index.values() for cid, r in agent.items()}
PASS = {"OK", "NON-STRICT", "INFORMATIONAL"}
CLOSE_PASS = {"OK", "INFORMATIONAL"}
counts = {"OK": 0, "NON-STRICT": 0, "INFORMATIONAL": 0}
failed = []
for cid, r in cases.items():
    if r["behavior"] in PASS and r["behaviorClose"] in CLOSE_PASS:
        counts[r["behavior"]] += 1
    else:
        failed.append((cid, r["behavior"], r["behaviorClose"]))

# A section that did not run at all is a failure too (a crash mid-run).
sections = {cid.split(".")[0] for cid in cases}
missing = sorted(set(expected) - sections, key=int)

perf = {
    section: sum(r.get("duration") or 0 for cid, r in cases.items() if cid.split(".")[0] == section)
    for section in ("9", "12")
    if section in expected
}
timing = "".join(f" (+ section {s} total duration {ms / 1000:.2f}s)" for s, ms in perf.items())
print(
    f"autobahn {label}: {counts['OK']} OK, {counts['NON-STRICT']} non-strict, "
    f"{counts['INFORMATIONAL']} informational, {len(failed)} failed{timing}"
)
key = lambda c: [int(p) for p in c[0].split(".")]
for cid, behavior, close in sorted(failed, key=key):
    print(f"  FAILED {cid}: behavior={behavior} behaviorClose={close}")
if missing:
    print(f"  sections that did not run: {', '.join(missing)}")
sys.exit(1 if failed or missing else 0)
EOF
}

# ---- runs -----------------------------------------------------------------

# The adapter's echo server, driven by kosoku's fuzzing client.
# Usage: run_server_role ADAPTER NAME SECTIONS [SERVER FLAGS...] -- CASES...
run_server_role() {
  local adapter=$1 name=$2 sections=$3 dir=$WORK/reports/$2-server
  shift 3
  local flags=()
  while [[ $1 != -- ]]; do flags+=("$1"); shift; done
  shift
  rm -rf "$dir" && mkdir -p "$dir"
  "$WORK/bin/$adapter-echo_server" --addr 127.0.0.1:0 "${flags[@]}" >"$dir/echo_server.log" 2>&1 &
  local server=$!
  pids+=("$server")
  local line
  line=$(wait_for_line "$dir/echo_server.log" '^listening on ws://' "$server") || return 1
  local addr=${line#listening on ws://}
  timeout "$RUN_TIMEOUT" "$VENV/bin/kosoku" -m fuzzingclient "$@" -p 2 \
    -o "$dir" "$addr" >"$dir/kosoku.log" 2>&1 || true
  kill "$server" 2>/dev/null || true
  summarize "$name server" "$dir/index.json" "$sections"
}

# kosoku's fuzzing server, driven by the adapter's Autobahn client.
# Usage: run_client_role ADAPTER NAME SECTIONS [CLIENT FLAGS...] -- CASES...
run_client_role() {
  local adapter=$1 name=$2 sections=$3 dir=$WORK/reports/$2-client
  shift 3
  local flags=()
  while [[ $1 != -- ]]; do flags+=("$1"); shift; done
  shift
  rm -rf "$dir" && mkdir -p "$dir"
  timeout "$RUN_TIMEOUT" "$VENV/bin/kosoku" -m fuzzingserver "$@" \
    -o "$dir" 127.0.0.1:0 >"$dir/kosoku.log" 2>&1 &
  local server=$!
  pids+=("$server")
  local line
  line=$(wait_for_line "$dir/kosoku.log" 'fuzzingserver listening on ws://' "$server") || return 1
  local url=${line#*listening on }
  timeout "$RUN_TIMEOUT" "$WORK/bin/$adapter-autobahn_client" \
    --url "$url" --agent "wscore-$adapter" "${flags[@]}" >"$dir/client.log" 2>&1 || true
  # The fuzzing server writes its reports and exits once the client has
  # asked it to update them.
  wait_pid "$server" 60 || kill "$server" 2>/dev/null || true
  summarize "$name client" "$dir/index.json" "$sections"
}

# The C echo server's run: plain sections and permessage-deflate in one
# (its `--deflate` compresses every message when deflate is agreed, and
# the plain sections do not offer it).
run_ffi() {
  run_server_role ffi ffi "$FFI_SECTIONS" --deflate -- "${FFI_CASES[@]}"
}
FFI_SECTIONS=1,2,3,4,5,6,7,10,12,13
FFI_CASES=(-i '1.*' -i '2.*' -i '3.*' -i '4.*' -i '5.*' -i '6.*' -i '7.*' -i '10.*' -i '12.*' -i '13.*')

install_kosoku
build_ffi
if [[ ${1:-} == ffi ]]; then
  status=0
  run_ffi || status=1
  echo "autobahn: done in $((SECONDS - started))s (reports in $WORK/reports)"
  exit "$status"
fi
build

status=0
run_ffi || status=1
for adapter in tokio async-std; do
  run_server_role "$adapter" "$adapter" "$PLAIN_SECTIONS" -- "${PLAIN[@]}" || status=1
  run_client_role "$adapter" "$adapter" "$PLAIN_SECTIONS" -- "${PLAIN[@]}" || status=1
done
# Compressed messages only: kosoku fails on the uncompressed messages RFC 7692
# allows on a compressed connection ("Strings must be encoded before
# hashing"), so both examples' `--deflate` compresses every message.
for adapter in tokio async-std; do
  run_server_role "$adapter" "$adapter-deflate" "$DEFLATE_SECTIONS" --deflate -- "${DEFLATE[@]}" ||
    status=1
done
# A client runs its cases one at a time and mostly waits on the fuzzing
# server, so the two adapters' client runs overlap.
client_pids=()
for adapter in tokio async-std; do
  run_client_role "$adapter" "$adapter-deflate" "$DEFLATE_SECTIONS" --deflate -- "${DEFLATE[@]}" \
    >"$WORK/$adapter-deflate-client.summary" 2>&1 &
  client_pids+=("$!")
done
for i in "${!client_pids[@]}"; do
  wait "${client_pids[$i]}" || status=1
done
for adapter in tokio async-std; do
  cat "$WORK/$adapter-deflate-client.summary"
done
echo "autobahn: done in $((SECONDS - started))s (reports in $WORK/reports)"
exit "$status"
