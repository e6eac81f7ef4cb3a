#!/usr/bin/env bash
# The README's second command: the whole test suite (installs system packages first).
set -euo pipefail
cd "$(dirname "$0")/.."
bash Scripts/install-deps.sh
swift build --build-tests 2>&1 | grep -E "warning:|error:" >&2 || true
swift test
