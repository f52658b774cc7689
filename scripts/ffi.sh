#!/usr/bin/env bash
# The C ABI (adapters/ffi): header, sanitizers, Valgrind, interop.
#
#   header     cbindgen 0.27.0 (installed under target/ if missing)
#              regenerates adapters/ffi/include/wscore.h; any difference
#              from the checked-in header fails.
#   build      the release staticlib, then the C echo server, the C++
#              client, the C misuse test and the C++ wrapper test with
#              -Wall -Wextra -Werror -pedantic and AddressSanitizer +
#              UBSan; a second, plain build of the two examples for
#              Valgrind.
#   symbols    the functions the shared library exports and those the
#              header declares are the same.
#   misuse     tests/misuse.c: every documented result code, from C;
#              tests/wrapper.cpp: the C++ wrapper in memory.
#   interop    the C++ client against Python `websockets` (tests/python/
#              peer.py as the echo server, in the interop tests' venv):
#              messages, a stream, a ping and a close; then against the C
#              echo server.
#   docs       the loop of docs/c-api.md, linked through the pkg-config
#              file made from adapters/ffi/wscore.pc.in, serves the C++
#              client.
#   valgrind   the plain builds of the server and the client under
#              Valgrind: no leak, no invalid access.
#
# `bash scripts/ffi.sh header` runs only the header check.
# Binaries and logs go to target/ffi/ (under $CARGO_TARGET_DIR if set).
set -euo pipefail
cd "$(dirname "$0")/.."

CBINDGEN_VERSION=0.27.0
WEBSOCKETS=websockets==15.0.1
TARGET=${CARGO_TARGET_DIR:-target}
# Absolute, so that paths survive the `cd` of subshells.
mkdir -p "$TARGET"
TARGET=$(cd "$TARGET" && pwd)
WORK=$TARGET/ffi
CBINDGEN=$TARGET/tools/cbindgen-$CBINDGEN_VERSION/bin/cbindgen
FFI=adapters/ffi
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
section() { printf -- '-- %s\n' "$*"; }

# ---- header -----------------------------------------------------------

check_header() {
  section "header (cbindgen $CBINDGEN_VERSION)"
  if ! [[ -x $CBINDGEN ]] || [[ $("$CBINDGEN" --version) != "cbindgen $CBINDGEN_VERSION" ]]; then
    cargo install cbindgen --version "$CBINDGEN_VERSION" --locked --quiet \
      --root "$TARGET/tools/cbindgen-$CBINDGEN_VERSION"
  fi
  mkdir -p "$WORK"
  "$CBINDGEN" --quiet --config "$FFI/cbindgen.toml" --crate wscore-ffi \
    --output "$WORK/wscore.h" "$FFI"
  if ! diff -u "$FFI/include/wscore.h" "$WORK/wscore.h"; then
    log "adapters/ffi/include/wscore.h is stale: regenerate it with"
    log "  $CBINDGEN --config $FFI/cbindgen.toml --crate wscore-ffi --output $FFI/include/wscore.h $FFI"
    return 1
  fi
  echo "header: up to date"
}

# ---- build ------------------------------------------------------------

CFLAGS=(-std=c11 -g -O1 -Wall -Wextra -Werror -pedantic -I"$FFI/include")
# wscore.hpp promises to need no exceptions.
CXXFLAGS=(-std=c++17 -g -O1 -Wall -Wextra -Werror -pedantic -fno-exceptions -I"$FFI/include")
SANITIZE=(-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer)
# What Rust's std needs from the system (`--print native-static-libs`).
LIBS=(-lpthread -ldl -lm -lrt)

build() {
  section "build (staticlib, examples, misuse test)"
  for tool in gcc g++; do
    command -v "$tool" >/dev/null || (apt-get update && apt-get install -y gcc g++)
  done
  mkdir -p "$WORK/bin"
  # The misuse test's library has the test hook that panics; it is built
  # first and copied, then the library the examples link is rebuilt
  # without it.
  cargo build --release --quiet -p wscore-ffi --features test-hooks
  cp "$TARGET/release/libwscore_ffi.a" "$WORK/libwscore_ffi-test-hooks.a"
  cargo build --release --quiet -p wscore-ffi
  local lib=$TARGET/release/libwscore_ffi.a
  gcc "${CFLAGS[@]}" "${SANITIZE[@]}" "$FFI/tests/misuse.c" "$WORK/libwscore_ffi-test-hooks.a" \
    "${LIBS[@]}" -o "$WORK/bin/misuse-asan"
  g++ "${CXXFLAGS[@]}" "${SANITIZE[@]}" "$FFI/tests/wrapper.cpp" "$lib" "${LIBS[@]}" \
    -o "$WORK/bin/wrapper-asan"
  gcc "${CFLAGS[@]}" "${SANITIZE[@]}" "$FFI/examples/echo_server.c" "$lib" "${LIBS[@]}" \
    -o "$WORK/bin/echo_server-asan"
  g++ "${CXXFLAGS[@]}" "${SANITIZE[@]}" "$FFI/examples/client.cpp" "$lib" "${LIBS[@]}" \
    -o "$WORK/bin/client-asan"
  # Valgrind does not run sanitized binaries: plain builds for it.
  gcc "${CFLAGS[@]}" "$FFI/examples/echo_server.c" "$lib" "${LIBS[@]}" -o "$WORK/bin/echo_server"
  g++ "${CXXFLAGS[@]}" "$FFI/examples/client.cpp" "$lib" "${LIBS[@]}" -o "$WORK/bin/client"
  echo "build: misuse, wrapper, echo_server and client (ASan + UBSan), echo_server and client (plain)"
}

symbols() {
  section "symbols (the shared library against the header)"
  nm -D --defined-only "$TARGET/release/libwscore_ffi.so" | awk '$2 == "T" { print $3 }' | sort \
    >"$WORK/exported.txt"
  grep -oE '\bwscore_[a-z0-9_]+\(' "$FFI/include/wscore.h" | tr -d '(' | sort -u >"$WORK/declared.txt"
  if ! diff -u "$WORK/declared.txt" "$WORK/exported.txt"; then
    log "the header and the library's exports differ (- declared only, + exported only)"
    return 1
  fi
  echo "symbols: $(wc -l <"$WORK/exported.txt") functions, each exported and declared"
}

# The loop of docs/c-api.md (its first C block), linked with the flags of
# the pkg-config file installed into a prefix under target/ffi/.
build_doc_loop() {
  local prefix=$WORK/prefix
  rm -rf "$prefix"
  install -Dm644 "$TARGET/release/libwscore_ffi.a" "$prefix/lib/libwscore_ffi.a"
  install -Dm644 -t "$prefix/include" "$FFI/include/wscore.h" "$FFI/include/wscore.hpp"
  mkdir -p "$prefix/lib/pkgconfig"
  sed -e "s|@PREFIX@|$prefix|" -e "s|@VERSION@|0.1.0|" "$FFI/wscore.pc.in" \
    >"$prefix/lib/pkgconfig/wscore.pc"
  awk '/^```c$/ { inside = 1; next } /^```$/ { if (inside) exit } inside' docs/c-api.md \
    >"$WORK/doc_loop_serve.c"
  local lines
  lines=$(wc -l <"$WORK/doc_loop_serve.c")
  if ((lines == 0 || lines >= 60)); then
    log "docs/c-api.md: the loop is $lines lines (it must be there, under 60)"
    return 1
  fi
  local flags
  flags=$(PKG_CONFIG_PATH=$prefix/lib/pkgconfig pkg-config --cflags --libs --static wscore)
  # shellcheck disable=SC2086 # pkg-config's flags are words
  gcc -std=c11 -g -O1 -Wall -Wextra -Werror "${SANITIZE[@]}" "$WORK/doc_loop_serve.c" \
    "$FFI/tests/doc_loop.c" $flags -o "$WORK/bin/doc_loop-asan"
}

# ---- helpers ----------------------------------------------------------

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

# The interop tests' virtualenv with `websockets` (tests/tests/support/
# venv.rs makes the same one, in the same place), created if missing.
venv_python() {
  local venv=$TARGET/tmp/interop-venv-${WEBSOCKETS/==/-}
  if ! [[ -f $venv/wscore-ready ]]; then
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-input "$WEBSOCKETS"
    "$venv/bin/python" -c 'import websockets.asyncio.server'
    echo "$WEBSOCKETS" >"$venv/wscore-ready"
  fi
  echo "$venv/bin/python"
}

# Runs the C echo server (`$1`, with the command prefix in the rest of the
# arguments before `--`) for one connection and the client after `--`
# against it; fails unless both succeed.
# Usage: server_and_client LABEL SERVER_PREFIX... -- CLIENT...
server_and_client() {
  local label=$1 dir=$WORK/$1
  shift
  local server=()
  while [[ $1 != -- ]]; do server+=("$1"); shift; done
  shift
  # A fresh folder: the background process truncates its log only once it
  # runs, and a log left by an earlier run must not announce it.
  rm -rf "$dir" && mkdir -p "$dir"
  "${server[@]}" --addr 127.0.0.1:0 --streamed wscore.stream.v1 --connections 1 \
    >"$dir/server.log" 2>&1 &
  local pid=$!
  pids+=("$pid")
  local line
  line=$(wait_for_line "$dir/server.log" '^listening on ws://' "$pid") || return 1
  local addr=${line#listening on ws://}
  if ! timeout 120 "$@" --addr "$addr" --streamed wscore.stream.v1 --any-metadata \
      >"$dir/client.log" 2>&1; then
    log "$label: the client failed:"
    cat "$dir/client.log" "$dir/server.log" >&2
    return 1
  fi
  local status=0
  wait "$pid" || status=$?
  if ((status != 0)); then
    log "$label: the server exited with $status:"
    cat "$dir/server.log" >&2
    return 1
  fi
  echo "$label: $(tail -n1 "$dir/client.log"), server exited cleanly"
}

# ---- runs -------------------------------------------------------------

misuse() {
  section "misuse (every result code, from C)"
  # The hook's panic prints its message; that is expected.
  RUST_BACKTRACE=0 "$WORK/bin/misuse-asan" 2>"$WORK/misuse.log" || {
    cat "$WORK/misuse.log" >&2
    return 1
  }
  "$WORK/bin/wrapper-asan"
}

interop() {
  section "interop (C++ client and Python websockets, C server)"
  local python dir=$WORK/python
  python=$(venv_python)
  # A fresh folder: the background process truncates its log only once it
  # runs, and a log left by an earlier run must not announce it.
  rm -rf "$dir" && mkdir -p "$dir"
  "$python" tests/python/peer.py server --subprotocols wscore.stream.v1 >"$dir/peer.log" 2>&1 &
  local peer=$!
  pids+=("$peer")
  local line
  line=$(wait_for_line "$dir/peer.log" '^listening ' "$peer") || return 1
  if ! timeout 60 "$WORK/bin/client-asan" --addr "127.0.0.1:${line#listening }" \
      --streamed wscore.stream.v1 >"$dir/client.log" 2>&1; then
    log "the C++ client failed against websockets:"
    cat "$dir/client.log" "$dir/peer.log" >&2
    return 1
  fi
  local status=0
  wait "$peer" || status=$?
  if ((status != 0)) || ! grep -qx 'closed 1000 bye' "$dir/peer.log"; then
    log "websockets did not see a clean close (exit $status):"
    cat "$dir/peer.log" >&2
    return 1
  fi
  echo "websockets: $(tail -n1 "$dir/client.log"); websockets saw 'closed 1000 bye'"
  server_and_client asan "$WORK/bin/echo_server-asan" -- "$WORK/bin/client-asan"
}

docs() {
  section "docs (the loop of docs/c-api.md, linked with pkg-config)"
  command -v pkg-config >/dev/null || (apt-get update && apt-get install -y pkg-config)
  build_doc_loop
  local dir=$WORK/doc_loop
  # A fresh folder: the background process truncates its log only once it
  # runs, and a log left by an earlier run must not announce it.
  rm -rf "$dir" && mkdir -p "$dir"
  "$WORK/bin/doc_loop-asan" >"$dir/server.log" 2>&1 &
  local pid=$!
  pids+=("$pid")
  local line
  line=$(wait_for_line "$dir/server.log" '^listening on ws://' "$pid") || return 1
  if ! timeout 60 "$WORK/bin/client-asan" --addr "${line#listening on ws://}" >"$dir/client.log" 2>&1 ||
      ! wait "$pid"; then
    log "the loop of docs/c-api.md failed:"
    cat "$dir/client.log" "$dir/server.log" >&2
    return 1
  fi
  echo "doc loop ($(wc -l <"$WORK/doc_loop_serve.c") lines): $(tail -n1 "$dir/client.log")"
}

run_valgrind() {
  section "valgrind (plain builds of the server and the client)"
  command -v valgrind >/dev/null || (apt-get update && apt-get install -y valgrind)
  local vg=(valgrind --quiet --error-exitcode=1 --leak-check=full
    --errors-for-leak-kinds=definite,indirect)
  server_and_client valgrind "${vg[@]}" --log-file="$WORK/valgrind-server.log" \
    "$WORK/bin/echo_server" -- "${vg[@]}" --log-file="$WORK/valgrind-client.log" "$WORK/bin/client"
}

check_header
if [[ ${1:-} == header ]]; then
  exit 0
fi
build
symbols
misuse
interop
docs
run_valgrind
echo "ffi: done in $((SECONDS - started))s"
