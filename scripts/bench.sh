#!/usr/bin/env bash
# Builds and runs every benchmark of wscore-bench and prints one Markdown
# document with all their tables on stdout; progress goes to stderr.
#
#   scripts/bench.sh            full run (about 12 minutes on two cores)
#   scripts/bench.sh --smoke    one tiny iteration of every row
#   scripts/bench.sh frames     only the named targets (with or without --smoke)
#
# The echo ratios and the idle memory rows are also drawn as SVG charts
# (scripts/charts.py): into docs/bench/ after a full run, which
# BENCHMARKS.md and the README show, and into target/bench-charts/ after a
# smoke run. WSCORE_BENCH_CHARTS=DIR draws them elsewhere.
#
# Knobs are environment variables (see bench/src/harness.rs), for example
# WSCORE_BENCH_ROUNDS=5 or WSCORE_BENCH_ECHO_CONNS=1,64.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never

mode=full
targets=()
for arg in "$@"; do
  case "$arg" in
    --smoke) mode=smoke ;;
    -h | --help)
      sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'
      exit 0
      ;;
    -*)
      echo "unknown option: $arg" >&2
      exit 2
      ;;
    *) targets+=("$arg") ;;
  esac
done
if [ "$mode" = smoke ]; then
  export WSCORE_BENCH_SMOKE=1
else
  unset WSCORE_BENCH_SMOKE
fi
if [ ${#targets[@]} -eq 0 ]; then
  # Every [[bench]] of the crate, in the order the manifest lists them.
  mapfile -t targets < <(awk '/^\[\[bench\]\]/ { b = 1; next } b && /^name *=/ { gsub(/[" ]/, "", $0); sub(/^name=/, "", $0); print; b = 0 }' bench/Cargo.toml)
fi

echo "building ${targets[*]}" >&2
build_args=()
for t in "${targets[@]}"; do build_args+=(--bench "$t"); done
cargo bench -p wscore-bench --no-run "${build_args[@]}" >&2

cpu=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || true)
cores=$(nproc 2>/dev/null || getconf _NPROCESSORS_ONLN)
kernel=$(uname -sr)
rustc_version=$(rustc --version)
started=$(date -u '+%Y-%m-%d %H:%M UTC')

charts=${WSCORE_BENCH_CHARTS:-}
if [ -z "$charts" ]; then
  if [ "$mode" = smoke ]; then charts=${CARGO_TARGET_DIR:-target}/bench-charts; else charts=docs/bench; fi
fi
run_md=$(mktemp)
trap 'rm -f "$run_md"' EXIT

run() {
  echo "# wscore benchmarks ($mode run)"
  echo
  echo "Machine: ${cpu:-unknown CPU}, $cores cores, $kernel; $rustc_version; $started."
  echo "Commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD -- 2>/dev/null || echo ' (with uncommitted changes)')."
  echo

  total_start=$(date +%s)
  for t in "${targets[@]}"; do
    echo "running $t" >&2
    start=$(date +%s)
    cargo bench -p wscore-bench --bench "$t" 2> >(grep -v -E '^ *(Finished|Running|Compiling)' >&2)
    echo "$t: $(($(date +%s) - start)) s" >&2
  done
  echo "Total run time: $(($(date +%s) - total_start)) s ($mode)."
}

run | tee "$run_md"
python3 scripts/charts.py "$run_md" "$charts" >&2
