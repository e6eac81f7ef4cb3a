#!/usr/bin/env bash
# VNN-COMP: run_instance.sh VERSION BENCHMARK ONNX VNNLIB RESULTS TIMEOUT. Writes RESULTS: the first line
# is sat, unsat, unknown, timeout or error; after sat, the counterexample as ((X_0 v) ... (Y_0 v)).
# `.gz` files are decompressed into a temporary folder first. REACHGUARD_BIN overrides the binary.
set -uo pipefail
[ $# -eq 6 ] || { echo "usage: run_instance.sh VERSION BENCHMARK ONNX VNNLIB RESULTS TIMEOUT" >&2; exit 1; }
version="$1"; onnx="$3"; vnnlib="$4"; results="$5"; timeout="$6"
[ "$version" = "v1" ] || { echo "run_instance.sh: unsupported interface version '$version'" >&2; exit 1; }
[[ "$timeout" =~ ^[0-9]+([.][0-9]+)?$ ]] || {
  echo "run_instance.sh: TIMEOUT must be a number of seconds, not '$timeout'" >&2; echo error > "$results"; exit 1; }
root="$(cd "$(dirname "$0")/../.." && pwd)"
bin="${REACHGUARD_BIN:-$root/.build/release/reachguard}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
plain() {   # a readable uncompressed copy of $1, printed
  case "$1" in
    *.gz) gunzip -c -- "$1" > "$work/$(basename -- "${1%.gz}")" && echo "$work/$(basename -- "${1%.gz}")" ;;
    *) echo "$1" ;;
  esac
}
onnx="$(plain "$onnx")" && vnnlib="$(plain "$vnnlib")" || { echo error > "$results"; exit 0; }
# The verifier keeps its own deadline; the outer limit (1 s more) only guards against a hang.
outer="$(awk -v t="$timeout" 'BEGIN { printf "%d", t + 1.999 }')"
started=$SECONDS
timeout --signal=KILL "$outer" "$bin" verify --timeout "$timeout" -- "$onnx" "$vnnlib" > "$work/out"
rc=$?
# verify prints its answer and exits 0, or 1 on an error (on standard error). A kill (137) at the outer
# limit is a timeout; one before it (the kernel's out-of-memory killer) is an error, as is no answer.
if [ ! -s "$work/out" ]; then
  if [ "$rc" -eq 137 ] && [ $((SECONDS - started)) -ge $((outer - 1)) ]; then
    echo timeout > "$work/out"
  else
    echo error > "$work/out"
  fi
fi
cp -- "$work/out" "$results"
