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

cargo +nightly fuzz build -O
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(cargo +nightly fuzz list)
fi

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
  if ! cargo +nightly fuzz run -O "$target" "corpus/$target" -- "${args[@]}" >"$log" 2>&1; then
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
