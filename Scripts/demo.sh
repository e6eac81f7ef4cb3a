#!/usr/bin/env bash
# The README's first command: install the system packages, build, and run the
# main job on the bundled example: the monitor daemon fed by a simulated
# double integrator for 10 seconds, printing a live line per second; then a
# reach tube of the same closed loop as a picture.
set -euo pipefail
cd "$(dirname "$0")/.."
bash Scripts/install-deps.sh
swift build -c release 2>&1 | tail -n 1 >&2
echo "== reachguardd --demo: simulated states at 100 Hz on tcp://127.0.0.1:5556, verdicts on tcp://127.0.0.1:5557" >&2
.build/release/reachguardd --demo --demo-seconds 10 --demo-rate 100
echo "== reachguard reach: the certified tube from [2.5,3]x[-0.25,0.25] (picture: double_integrator_tube.svg)" >&2
.build/release/reachguard reach Config/double_integrator/system.toml --state 2.75,0 --radius 0.25,0.25 \
  --svg double_integrator_tube.svg
