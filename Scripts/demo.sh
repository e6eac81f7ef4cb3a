#!/usr/bin/env bash
# The README's first command: install system packages, build, run the main job
# on the bundled example (the double integrator with its ReLU controller).
set -euo pipefail
cd "$(dirname "$0")/.."
bash Scripts/install-deps.sh
swift build -c release --product reachguard 2>&1 | tail -n 1 >&2
bin=.build/release/reachguard
sys=Config/double_integrator/system.toml
model=Config/double_integrator/controller.onnx
echo "== the controller" >&2
"$bin" info "$model"
echo "== certified bounds of its action over the state box [2.5,3]x[-0.25,0.25]" >&2
box=$(mktemp --suffix=.json)
trap 'rm -f "$box"' EXIT
echo '{"lower": [2.5, -0.25], "upper": [3.0, 0.25]}' > "$box"
"$bin" bound "$model" --box "$box"
echo "== reachable sets of the closed loop over 6 steps, and the safety verdict" >&2
"$bin" reach "$sys" --state 2.75,0 --radius 0.25,0.25 --svg double_integrator_tube.svg
echo "(picture of the tube: double_integrator_tube.svg)" >&2
