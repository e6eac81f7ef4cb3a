#!/usr/bin/env bash
# Runs the whole test suite under AddressSanitizer and ThreadSanitizer, each in
# its own build folder.   bash Scripts/sanitize.sh [address|thread ...]
set -euo pipefail
cd "$(dirname "$0")/.."
bash Scripts/install-deps.sh
export SWIFT_BACKTRACE=enable=no
export LSAN_OPTIONS="suppressions=$PWD/Scripts/lsan.supp:print_suppressions=0"
kinds=("$@")
[ ${#kinds[@]} -eq 0 ] && kinds=(address thread)
for k in "${kinds[@]}"; do
  echo "== swift test --sanitize=$k" >&2
  swift test --sanitize="$k" --scratch-path ".build-$k"
done
