#!/usr/bin/env bash
# Builds every cargo-fuzz target and runs each for a fixed time, starting
# from the checked-in seeds (fuzz/seeds/<target>) plus whatever corpus
# earlier runs left in fuzz/corpus/<target>.
#
#   scripts/fuzz.sh            # 20 s per target (what CI runs)
#   scripts/fuzz.sh 3600       # an hour per target
#   scripts/fuzz.sh 600 deflate batch
#
# A crash fails the script; the reproducer's path and bytes are printed.
#
# The whole-connection targets (server_connection, client_connection,
# envelope_connection) are built without AddressSanitizer, in a target
# directory of their own. Under ASan envelope_connection ran at about
# 3 700 executions a second, against some 25 000 without (the other two:
# 12 000-16 000 against 50 000-68 000), most of the difference being the
# deflate state (one allocation of about 380 KB per compressed connection,
# a fresh mapping under ASan) and ASan's bookkeeping of every allocation.
# What they give up is ASan's check of the unsafe code beneath them
# (zlib-rs, bytes) and its leak check; safe Rust's bounds checks still
# panic, which libFuzzer reports as a crash, and memory stays bounded by
# -rss_limit_mb. The deflate, batch, frame and parser targets keep ASan,
# so zlib-rs and bytes are still run under it on arbitrary input there.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

seconds=${1:-20}
shift || true

if ! rustup run nightly rustc --version >/dev/null 2>&1; then
  rustup toolchain install nightly --profile minimal >/dev/null
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked --quiet
fi

declare -A no_sanitizer=([server_connection]=1 [client_connection]=1 [envelope_connection]=1)
# The build options of one target: see the top of this file.
build_options() {
  if [ -n "${no_sanitizer[$1]:-}" ]; then
    echo -O -s none --target-dir target/no-sanitizer
  else
    echo -O
  fi
}

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(cargo +nightly fuzz list)
fi
for target in "${targets[@]}"; do
  # shellcheck disable=SC2046 # the options are words
  cargo +nightly fuzz build $(build_options "$target") "$target"
done

declare -A dict=([handshake_request]=dicts/http.dict [handshake_response]=dicts/http.dict)
summary=()
for target in "${targets[@]}"; do
  mkdir -p "corpus/$target"
  if [ -d "seeds/$target" ]; then
    cp -n "seeds/$target"/* "corpus/$target/" 2>/dev/null || true
  fi
  args=(-max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1)
  if [ -n "${dict[$target]:-}" ]; then
    args+=(-dict="${dict[$target]}")
  fi
  log=$(mktemp)
  # shellcheck disable=SC2046
  if ! cargo +nightly fuzz run $(build_options "$target") "$target" "corpus/$target" -- "${args[@]}" >"$log" 2>&1; then
    tail -n 60 "$log"
    for artifact in $(grep -oE 'artifacts/[^ ]+' "$log" | sort -u); do
      echo "reproducer $artifact:"
      od -A x -t x1z -v "$artifact" | head -n 64
    done
    echo "fuzz: $target FAILED"
    exit 1
  fi
  runs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$' || echo "?")
  summary+=("$target: $runs executions in ${seconds}s")
  rm -f "$log"
done
printf 'fuzz: %s\n' "${summary[@]}"
