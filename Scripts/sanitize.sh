#!/usr/bin/env bash
# Runs the whole test suite under AddressSanitizer and ThreadSanitizer, each in
# its own build folder.   bash Scripts/sanitize.sh [--quick] [address|thread ...]
# --quick (CI) skips the tests that rerun code paths the rest of the suite
# covers, at sizes where a sanitized debug build takes minutes: the long reach
# tubes, the stalled-supervisor wait, the largest oracle sweeps.
set -euo pipefail
cd "$(dirname "$0")/.."
bash Scripts/install-deps.sh
export SWIFT_BACKTRACE=enable=no
export LSAN_OPTIONS="suppressions=$PWD/Scripts/lsan.supp:print_suppressions=0"
skip=()
if [ "${1:-}" = "--quick" ]; then
  shift
  slow='ReachTests/testTubesContainExactRangesAndSimulatedTrajectories|ReachTests/testVerdicts'
  slow+='|StalledSupervisorTests|DAGOracleTests/testOwnLPIntermediatesReachHiGHS'
  slow+='|OperatorRelaxationTests/testVertexMinimumIsBelowTheGraphInEveryDirection'
  slow+='|ConvCLITests/testCertifyReportsCertifiedAccuracyOnTheDigitsClassifier'
  slow+='|DigitsCertificationTests|StallTests/testIBPIntermediatesFinishAndStayCertified'
  slow+='|ODEReachTests/testTubesContainScipyTrajectories|ODEReachTests/testUnsafeWindowsAndModes|ODEDaemonTests'
  skip=(--skip "$slow")
fi
kinds=("$@")
[ ${#kinds[@]} -eq 0 ] && kinds=(address thread)
for k in "${kinds[@]}"; do
  echo "== swift test --sanitize=$k ${skip[*]:-}" >&2
  swift test --sanitize="$k" --scratch-path ".build-$k" "${skip[@]}"
done
