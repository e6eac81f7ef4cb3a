#!/usr/bin/env bash
# Builds the libFuzzer targets in Fuzz/ with AddressSanitizer and runs each for
# RUNS inputs (default 1,000,000) from the committed seed corpus.
#   bash Scripts/fuzz.sh [RUNS] [FuzzSensor FuzzONNX FuzzTOML FuzzVNNLIB FuzzSolver]
# A crash leaves its input as Fuzz/crash-*; keep it under Tests/Fixtures/fuzz/ as a regression.
set -euo pipefail
cd "$(dirname "$0")/../Fuzz"
runs="${1:-1000000}"
shift || true
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(FuzzSensor FuzzONNX FuzzTOML FuzzVNNLIB FuzzSolver)
# Without this the Swift runtime's backtracer holds a crashing fuzzer for minutes.
export SWIFT_BACKTRACE=enable=no
# Release (-O keeps preconditions and bounds checks; Sources has no assert()): several
# times the inputs per second of a debug build on the solver code.
# One combined flag: given `--sanitize=fuzzer --sanitize=address`, SwiftPM passes two
# -sanitize= flags in an order that changes from run to run, and swiftc 6.3 keeps only
# the last, so a build had either no coverage or no AddressSanitizer checks. The
# -Xswiftc flag comes last; --sanitize=fuzzer stays so that SwiftPM leaves `main` to libFuzzer.
swift build -c release --sanitize=fuzzer -Xswiftc -sanitize=fuzzer,address 2>&1 | tail -n 1 >&2
declare -A corpus=([FuzzSensor]=sensor [FuzzONNX]=onnx [FuzzTOML]=toml [FuzzVNNLIB]=vnnlib [FuzzSolver]=solver)
for t in "${targets[@]}"; do
  work=$(mktemp -d)
  cp Corpus/"${corpus[$t]}"/* "$work"/
  echo "== $t: $runs inputs" >&2
  start=$(date +%s.%N)
  ./.build/release/"$t" -runs="$runs" -max_len=8192 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix=./crash-"$t"- "$work" 2>&1 \
    | grep -E "stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb)|ERROR|SUMMARY|Fatal error|Done" >&2
  end=$(date +%s.%N)
  echo "$t: $(awk "BEGIN {printf \"%.1f\", $end - $start}") s" >&2
  rm -rf "$work"
done
