#!/usr/bin/env bash
# VNN-COMP: install_tool.sh VERSION. Installs the Debian packages ReachGuard builds against and builds
# the release `reachguard` (Swift must be on PATH, or in /opt/swift/usr/bin).
set -euo pipefail
version="${1:-v1}"
[ "$version" = "v1" ] || { echo "install_tool.sh: unsupported interface version '$version' (expected v1)" >&2; exit 1; }
cd "$(dirname "$0")/../.."
export PATH="/opt/swift/usr/bin:$PATH"
bash Scripts/install-deps.sh
swift build -c release --product reachguard >&2
echo "installed: $(pwd)/.build/release/reachguard" >&2
