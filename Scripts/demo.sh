#!/usr/bin/env bash
# The README's first command: install system packages, build, run the main job
# on the bundled example.
set -euo pipefail
cd "$(dirname "$0")/.."
bash Scripts/install-deps.sh
swift build -c release --product reachguard 2>&1 | tail -n 1 >&2
bin=.build/release/reachguard
model=Config/double_integrator/controller.onnx
"$bin" info "$model"
echo "--- action at state (2.0, -0.5):"
"$bin" eval "$model" --input 2.0,-0.5
