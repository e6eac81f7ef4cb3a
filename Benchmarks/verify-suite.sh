#!/usr/bin/env bash
# Runs an instance list (VNN-COMP's instances.csv) once per splitting mode and prints, per mode, the
# answers, the instances solved (sat or unsat), their median and largest time, and wrong answers
# against the list's expected.json when there is one (fields vnnlib and truth).
#   bash Benchmarks/verify-suite.sh Benchmarks/bab/instances.csv [auto relu input none]
# REACHGUARD_BIN overrides the binary (default: the release build); extra options go in
# REACHGUARD_VERIFY_OPTIONS (for example "--domain-iterations 300").
set -euo pipefail
list="$1"; shift
modes=("${@:-auto}")
[ ${#modes[@]} -gt 0 ] || modes=(auto)
root="$(cd "$(dirname "$0")/.." && pwd)"
bin="${REACHGUARD_BIN:-$root/.build/release/reachguard}"
expected="$(dirname "$list")/expected.json"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
for mode in "${modes[@]}"; do
  # shellcheck disable=SC2086
  "$bin" verify-suite "$list" --branching "$mode" ${REACHGUARD_VERIFY_OPTIONS:-} --results "$out/$mode.csv" 2>/dev/null
  python3 - "$out/$mode.csv" "$expected" "$mode" <<'PY'
import json, os, statistics, sys
rows = [line.strip().split(",") for line in open(sys.argv[1]) if line.strip()]
truth = {}
if os.path.exists(sys.argv[2]):
    for c in json.load(open(sys.argv[2])):
        truth[c["vnnlib"]] = c.get("truth")
counts = {}
for r in rows:
    counts[r[2]] = counts.get(r[2], 0) + 1
solved = [float(r[3]) for r in rows if r[2] in ("sat", "unsat")]
def known(r):
    return truth.get(os.path.basename(r[1]), r[2])
wrong = [r[1] for r in rows if r[2] in ("sat", "unsat") and known(r) not in (r[2], "unknown", None)]
med = statistics.median(solved) if solved else float("nan")
top = max(solved) if solved else float("nan")
print(f"{sys.argv[3]:>6}: solved {len(solved)}/{len(rows)}  median {med:.2f} s  max {top:.2f} s  "
      f"answers {dict(sorted(counts.items()))}  wrong {len(wrong)} {wrong if wrong else ''}")
PY
done
